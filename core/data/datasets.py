"""Dataset services: parse an upload, check it, save immutable versions, list and load them.

A saved version is a Parquet file under ``settings.datasets_dir`` (named by a random id, never
by the upload's name) with the canonical columns described in ``core.entities.DatasetInfo``,
plus a ``datasets`` row holding its content hash, mapping, split sizes and quality report.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.config import ensure_home, get_settings, work_path
from core.data import ner_checks, preference_checks
from core.data.canonical import content_columns, to_canonical
from core.data.ingest import ParsedFile, column_types, read_upload, single_column_findings
from core.data.language import reading_warning
from core.data.mapping import resolve_mapping, suggest_mapping
from core.data.quality import clean_rows, review
from core.data.splits import SplitConfig, assign_splits
from core.data.textchecks import mixed_type_findings, texts_of
from core.entities import SPLITS, DatasetInfo, Finding, QualityReport
from core.errors import DatasetError
from core.store import datasets as store
from core.tasks import tabular
from core.tasks.preference import PREFERENCE_FORMAT
from core.text.arrowtext import text_pieces

__all__ = ["ParsedFile", "SplitConfig", "read_upload", "suggest_mapping", "column_types",
           "check_dataset", "save_dataset", "list_datasets", "get_dataset", "load_dataset_frame",
           "prepare_dataset", "frame_to_parsed"]

# The extra quality checks of each task, imported for real: a rename fails at import, never silently.
TASK_CHECKS: dict[str, Callable[..., list[Finding]]] = {
    "token-classification": ner_checks.check_token_frame,
    "causal-lm": preference_checks.check_causal_frame,
    "tabular": tabular.check_tabular_frame,
}


@dataclass(frozen=True)
class Prepared:
    """A dataset ready to save: canonical rows with their split, the mapping and the report."""

    frame: pd.DataFrame
    mapping: dict[str, Any]
    report: QualityReport


def frame_to_parsed(frame: pd.DataFrame, filename: str, file_format: str = "frame") -> ParsedFile:
    """Wrap an in-memory DataFrame (gallery data, tests) as if it had been uploaded."""
    return ParsedFile(frame.reset_index(drop=True), filename, file_format, None, None, True, ())


def prepare_dataset(parsed: ParsedFile, mapping: dict[str, Any], *, task: str, split: SplitConfig,
                    model_key: str | None = "minilm-l6", max_length: int | None = 128) -> Prepared:
    """Validate the mapping, build canonical rows, split them and write the quality report."""
    model_key = model_key or "minilm-l6"
    max_length = int(max_length or 128)
    split = _merge_split(split, mapping)
    mapping = resolve_mapping(parsed.frame, {**mapping, "group": split.group_column,
                                             "split_column": split.split_column}, task)
    canon, findings = to_canonical(parsed.frame, mapping, task)
    findings += single_column_findings(parsed)
    strict = [c for c in (mapping.get("label"), *mapping.get("features", [])) if c]
    free = [c for c in (mapping.get("text"), mapping.get("prompt"), mapping.get("completion")) if c]
    findings += mixed_type_findings(parsed.frame, strict)
    findings += mixed_type_findings(parsed.frame, free, min_share=0.01)
    kept, more, dropped = clean_rows(canon, task, mapping)
    findings += more
    pairs = mapping.get("format") == PREFERENCE_FORMAT
    if pairs:  # a pair whose two sides are the same teaches nothing
        kept, same = preference_checks.drop_identical(kept)
        findings += same
    label_split = task == "classification" or (task == "tabular"
                                               and mapping.get("target_kind") != "regression")
    groups = kept["group"] if "group" in kept else None
    if groups is None and pairs and kept["prompt"].nunique() >= 3:
        groups = kept["prompt"]
    result = assign_splits(  # preference pairs keep each prompt in one split
        kept, split, stratify=kept["label"] if label_split and len(kept) else None,
        groups=groups if "_given_split" not in kept else None,
        given=kept["_given_split"] if "_given_split" in kept else None)
    kept = kept.assign(split=result.split)
    hook = _hook(task)
    # Task hooks measure NER/chat lengths their own way; avoid two truncation sentences.
    checks, stats = review(kept, task, mapping, result, model_key=model_key, max_length=max_length,
                           length_findings=hook is None or task in ("classification", "regression"))
    findings += checks
    if parsed.encoding_uncertain:
        findings.append(Finding("warning", "encoding_uncertain", parsed.encoding_uncertain
                                + " If texts look wrong, pick the encoding under 'Read the file as'."))
    if hook is not None:
        findings += _hook_findings(task, hook, kept, mapping, model_key=model_key,
                                   max_length=max_length)
    stats = {"rows_in_file": int(len(parsed.frame)), "rows": int(len(kept)), "dropped": dropped,
             **stats}
    order = {"blocking": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda f: order.get(f.severity, 3))
    return Prepared(kept, mapping, QualityReport(tuple(findings), stats))


def _merge_split(split: SplitConfig, mapping: dict[str, Any]) -> SplitConfig:
    return SplitConfig(split.validation_size, split.test_size, split.seed,
                       split.group_column or mapping.get("group") or None,
                       split.split_column or mapping.get("split_column") or None)


def _hook(task: str) -> Callable[..., list[Finding]] | None:
    """The extra checks of this task, if it has any."""
    return TASK_CHECKS.get(task)


def _hook_findings(task: str, check: Any, frame: pd.DataFrame, mapping: dict[str, Any],
                   **extra: Any) -> list[Finding]:
    try:
        params = inspect.signature(check).parameters
        accepts_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        # max_length is the one option every hook understands; others only when named.
        kwargs = {k: v for k, v in extra.items()
                  if k in params or (accepts_any and k == "max_length")}
        # Hooks get the canonical columns, the split and _row (row numbers in the file).
        hook_frame = frame.drop(columns=[c for c in ("_key", "_given_split") if c in frame])
        return list(check(hook_frame.reset_index(drop=True), canonical_mapping(mapping), **kwargs))
    except Exception as exc:  # noqa: BLE001 - a broken extra check must not hide the report
        return [Finding("warning", "check_failed", f"The extra {task} checks could not run "
                        f"({type(exc).__name__}: {exc}); the rest of the report is complete.")]


def canonical_mapping(mapping: dict[str, Any]) -> dict[str, Any]:
    """The mapping re-pointed at the canonical column names of a saved frame."""
    out = dict(mapping)
    for key in ("text", "label", "tokens", "tags", "prompt", "completion", "messages", "chosen", "rejected",
                "group"):
        if mapping.get(key):
            out[key] = key
    out["split_column"] = "split"
    out.pop("input", None)  # Alpaca's input is part of the canonical prompt
    return out


def public_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical columns only (no internal helper columns), with a fresh index."""
    cols = [c for c in frame.columns if not str(c).startswith("_")]
    return frame[cols].reset_index(drop=True)


def check_dataset(parsed: ParsedFile, mapping: dict[str, Any], *, task: str, split: SplitConfig,
                  model_key: str | None = "minilm-l6", max_length: int | None = 128) -> QualityReport:
    """The quality report of a parsed file under a mapping, task and split (nothing is saved)."""
    return prepare_dataset(parsed, mapping, task=task, split=split, model_key=model_key,
                           max_length=max_length).report


_JSON = {"orient": "records", "lines": True, "force_ascii": False, "double_precision": 15,
         "date_format": "iso"}


def _content_hash(frame: pd.DataFrame, columns: list[str], chunk_rows: int = 20_000,
                  long_chars: int = 2**20) -> str:
    """SHA-256 of the columns' names and their rows as JSON Lines, fed in chunks of rows, and a
    text longer than ``long_chars`` in slices (the JSON of the whole table at once was twice the
    file's size, of one 150 MB cell four times its size); the digest is the same either way."""
    digest = hashlib.sha256((",".join(columns) + "\n").encode("utf-8"))
    table = frame[columns]
    for start in range(0, len(table), chunk_rows):
        part = table.iloc[start:start + chunk_rows]
        if not _has_long_text(part, long_chars):
            digest.update(part.to_json(**_JSON).encode("utf-8"))
            continue
        for row in range(len(part)):
            _hash_row(digest, part.iloc[row:row + 1], long_chars)
    return digest.hexdigest()


def _has_long_text(part: pd.DataFrame, long_chars: int) -> bool:
    for col in part.columns:
        if pd.api.types.is_string_dtype(part[col]) and part[col].dtype != object:
            if (part[col].str.len().fillna(0) > long_chars).any():
                return True
        elif part[col].dtype == object and part[col].map(
                lambda v: isinstance(v, str) and len(v) > long_chars).any():
            return True
    return False


def _hash_row(digest: Any, one: pd.DataFrame, long_chars: int) -> None:
    """One row's JSON line into the digest, its long texts escaped slice by slice exactly as
    pandas escapes them (json's escapes, and '/' as '\\/')."""
    longs: dict[str, Iterable[str]] = {}
    marked = one.copy()
    for index in range(one.shape[1]):
        column = one.iloc[:, index]
        if pd.api.types.is_string_dtype(column) and column.dtype != object:
            if column.str.len().fillna(0).iloc[0] <= long_chars:
                continue
            pieces: Iterable[str] = text_pieces(column, 0)  # from the Arrow buffer, never whole
        else:
            value = one.iat[0, index]
            if not (isinstance(value, str) and len(value) > long_chars):
                continue
            pieces = [value[i:i + long_chars] for i in range(0, len(value), long_chars)]
        marker = f"\ue000uclab-long-{index}\ue000"
        longs[marker] = pieces
        marked.isetitem(index, pd.Series([marker], index=one.index, dtype=object))
    line = marked.to_json(**_JSON)
    for marker, pieces in longs.items():
        head, line = line.split(f'"{marker}"', 1)
        digest.update(head.encode("utf-8") + b'"')
        for piece in pieces:
            escaped = json.dumps(piece, ensure_ascii=False)[1:-1]
            digest.update(escaped.replace("/", "\\/").encode("utf-8"))
        digest.update(b'"')
    digest.update(line.encode("utf-8"))


def _parquet_options(frame: pd.DataFrame, long_chars: int = 65_536) -> dict[str, Any]:
    """No dictionary and no min/max statistics for columns holding very long texts: for one
    150 MB cell they tripled the memory the write took, and help nothing."""
    long = {c for c in frame.columns if pd.api.types.is_string_dtype(frame[c]) and frame[c].dtype != object
            and (frame[c].str.len().fillna(0) > long_chars).any()}
    if not long:
        return {}
    others = [str(c) for c in frame.columns if c not in long]
    return {"use_dictionary": others, "write_statistics": others}


def save_dataset(parsed: ParsedFile, mapping: dict[str, Any], *, name: str, task: str,
                 split: SplitConfig, model_key: str | None = "minilm-l6", max_length: int | None = 128,
                 extra_info: dict[str, Any] | None = None, created_by: str = "",
                 prepared: Prepared | None = None) -> DatasetInfo:
    """Save an immutable version; the same content, mapping and split returns the existing one.

    `created_by`: the signed-in person who saved it (empty without sign-in). `prepared`: what
    ``prepare_dataset`` returned for these same arguments (the upload form already checked the data),
    so that saving does not prepare it a second time.
    """
    name = " ".join(str(name).split())
    if not name:
        raise DatasetError("Give the dataset a name.")
    if len(name) > 200:
        raise DatasetError("The dataset name is too long; keep it under 200 characters.")
    if prepared is None:
        prepared = prepare_dataset(parsed, mapping, task=task, split=split, model_key=model_key,
                                   max_length=max_length)
    report = prepared.report
    if report.blocking:
        first = report.blocking[0].message
        more = len(report.blocking) - 1
        raise DatasetError(f"The dataset cannot be saved: {first}"
                           + (f" ({more} more blocking problem{'s' if more > 1 else ''})" if more else ""))
    frame = public_frame(prepared.frame)
    columns = [*content_columns(task, prepared.mapping)] + (["group"] if "group" in frame else [])
    digest = _content_hash(frame, columns)
    split_cfg = asdict(_merge_split(split, mapping))
    settings = get_settings()
    ensure_home(settings)
    frame = frame[["split", *columns, *(["meta"] if "meta" in frame else [])]]
    target = settings.datasets_dir / f"{uuid.uuid4().hex}.parquet"
    tmp = work_path(target)  # hidden and owned by this process: a killed save is swept at the next start
    info = {"file_format": parsed.file_format, "encoding": parsed.encoding,
            "delimiter": parsed.delimiter, "has_header": parsed.has_header,
            "parse_warnings": list(parsed.warnings), "split": split_cfg, "model_key": model_key,
            "max_length": max_length, "columns": list(frame.columns), **(extra_info or {})}
    def write_file() -> str:
        frame.to_parquet(tmp, index=False, **_parquet_options(frame))
        os.replace(tmp, target)
        return settings.relative(target)

    try:
        return store.save_version(
            name=name, digest=digest, mapping=prepared.mapping, split=split_cfg, write_file=write_file,
            task=task, source_filename=parsed.filename[:300], split_sizes=report.stats["split_sizes"],
            quality=report.to_dict(), info=info, row_count=int(len(frame)), created_by=created_by[:200])
    except BaseException:
        tmp.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        raise


def list_datasets(limit: int | None = None) -> list[DatasetInfo]:
    """Every saved version (or the `limit` newest), newest first."""
    return store.list_datasets(limit)


def get_dataset(dataset_id: int) -> DatasetInfo:
    """One saved version by id; NotFoundError if there is none."""
    return store.get_dataset(dataset_id)


def dataset_file(info: DatasetInfo) -> Path:
    """The Parquet file of a saved version; DatasetError when it is gone from UCLAB_HOME."""
    path = get_settings().resolve(info.path)
    if not path.is_file():
        raise DatasetError(f"The file of dataset '{info.label}' is missing from UCLAB_HOME "
                           f"({info.path}); import the dataset again.")
    return path


def load_dataset_frame(dataset_id: int, split: str | None = None) -> pd.DataFrame:
    """A saved version's canonical rows (one split, or all with a ``split`` column)."""
    if split is not None and split not in SPLITS:
        raise DatasetError(f"Unknown split '{split}'; choose one of {', '.join(SPLITS)}.")
    info = get_dataset(dataset_id)
    path = dataset_file(info)
    frame = pd.read_parquet(path, filters=[("split", "==", split)] if split else None)
    for col in ("tokens", "tags"):
        if col in frame:
            frame[col] = frame[col].map(lambda v: [str(x) for x in v] if v is not None else None)
    return frame.reset_index(drop=True)


def reading_problem(dataset_id: int, model_key: str) -> str | None:
    """The sentence that a model cannot read a saved version's text (its tokenizer leaves too much of
    it unknown), with the catalogue models that can; None when it reads it or has no tokenizer."""
    info = get_dataset(dataset_id)
    # The Models page asks on every rerun: a version never changes, so its file and a model are read once.
    return _reading_problem(str(dataset_file(info)), info.content_hash, model_key, info.task,
                            json.dumps(canonical_mapping(info.mapping), sort_keys=True))


@functools.lru_cache(maxsize=64)
def _reading_problem(path: str, _digest: str, model_key: str, task: str, mapping: str) -> str | None:
    frame = pd.read_parquet(path, filters=[("split", "==", "train")])
    texts = texts_of(frame, task, json.loads(mapping)) if len(frame) else None
    return reading_warning(texts, model_key=model_key, task=task)
