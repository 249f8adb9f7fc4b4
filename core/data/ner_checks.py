"""The NER quality checks: tag-scheme problems with their sentences, split and entity counts, lengths.

Sentence numbers in findings count from 1 in the order of the file, so a person can find them.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pandas as pd

from core.entities import Finding
from core.errors import UserError
from core.models import tokenlength
from core.models.tokenlength import tokenizer_for
from core.tasks.ner import detect_scheme, entity_spans, normalize_token_frame, prepare_token_frame, split_tag

LENGTH_SAMPLE = 5000
MIN_TRAIN_ENTITIES = 10
MIN_EVAL_ENTITIES = 3
DEFAULT_MAX_LENGTH = 128
_CONTEXT = 3  # tokens shown either side of a problem
_LISTED = 20  # sentence numbers kept in a finding's example


def _context(tokens: Sequence[str], position: int) -> str:
    start, end = max(0, position - _CONTEXT), min(len(tokens), position + _CONTEXT + 1)
    words = [f"[{t}]" if i == position else t for i, t in enumerate(tokens[start:end], start=start)]
    return ("… " if start else "") + " ".join(words) + (" …" if end < len(tokens) else "")


def _example(number: int, tokens: Sequence[str], tags: Sequence[str], position: int) -> dict[str, Any]:
    start, end = max(0, position - _CONTEXT), position + _CONTEXT + 1
    return {
        "sentence": number,
        "position": position,
        "token": tokens[position] if position < len(tokens) else "",
        "tag": tags[position] if position < len(tags) else "",
        "context": _context(tokens, position),
        "tokens": list(tokens[start:end]),
        "tags": list(tags[start:end]),
    }


def _as_list(value: Any) -> list[str]:
    """A cell's list (a missing cell, None or NaN, is an empty list)."""
    return [] if value is None or (isinstance(value, float) and value != value) else list(value)


def _is_listed(frame: pd.DataFrame) -> bool:
    """Whether the frame is already canonical: list cells (missing ones aside) in ``tokens``."""
    if not {"tokens", "tags"} <= set(frame.columns):
        return False
    present = [v for v in frame["tokens"].head(50) if not (v is None or (isinstance(v, float) and v != v))]
    return bool(present) and all(isinstance(v, (list, tuple)) or hasattr(v, "tolist") for v in present)


def _plural(count: int, word: str, verbs: tuple[str, str] = ("has", "have")) -> str:
    """'1 sentence has' / '3 sentences have': the count, the noun and its verb."""
    return f"{count:,} {word} {verbs[0]}" if count == 1 else f"{count:,} {word}s {verbs[1]}"


def find_tag_problems(frame: pd.DataFrame) -> list[Finding]:
    """Findings for length mismatches, empty sentences, unknown tags and I- tags that follow nothing."""
    pairs = [(_as_list(t), _as_list(g)) for t, g in zip(frame["tokens"], frame["tags"], strict=True)]
    scheme = detect_scheme([g for t, g in pairs if len(t) == len(g)])
    hits: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for number, (tokens, tags) in zip(_numbers(frame), pairs, strict=True):
        if not tokens and not tags:
            hits["empty_sentence"].append({"sentence": number})
            continue
        if len(tokens) != len(tags):
            hits["length_mismatch"].append(
                {
                    "sentence": number,
                    "tokens_count": len(tokens),
                    "tags_count": len(tags),
                    "tokens": tokens[:12],
                    "tags": tags[:12],
                }
            )
            continue
        previous = "O"
        for position, tag in enumerate(tags):
            prefix, kind = split_tag(tag)
            if prefix == "?" or (prefix == "" and scheme != "plain"):
                hits["unknown_tag"].append(_example(number, tokens, tags, position))
                break
            prev_prefix, prev_kind = split_tag(previous)
            if (
                scheme in ("IOB2", "IOBES")
                and prefix in ("I", "E", "L")
                and not (prev_kind == kind and prev_prefix in ("B", "I"))
            ):
                hits["orphan_inside"].append(
                    {**_example(number, tokens, tags, position), "previous": previous}
                )
                break
            previous = tag
    return [_problem_finding(code, found) for code, found in hits.items()]


def _problem_finding(code: str, found: list[dict[str, Any]]) -> Finding:
    first = found[0]
    sentences = _plural(len(found), "sentence")
    where = f"e.g. sentence {first['sentence']}"
    if code == "length_mismatch":
        severity = "blocking"
        message = (
            f"{sentences} a different number of tokens and tags ({where}: "
            f"{first['tokens_count']} tokens, {first['tags_count']} tags); give every token exactly one tag."
        )
    elif code == "empty_sentence":
        severity, message = (
            "warning",
            f"{sentences} no tokens ({where}) and {'is' if len(found) == 1 else 'are'} left out.",
        )
    elif code == "unknown_tag":
        severity = "blocking"
        message = (
            f"{sentences} a tag that is not O, a B-/I-/E-/S- tag or a plain type ({where}: "
            f"'{first['tag']}' at “{first['context']}”); fix or remove these tags."
        )
    else:
        severity = "warning"
        message = (
            f"{sentences} an {first['tag'][:2]} tag that follows nothing of its type ({where}: "
            f"'{first['tag']}' after '{first['previous']}' at “{first['context']}”); "
            "it is read as the start of an entity."
        )
    example = {**first, "sentences": [f["sentence"] for f in found[:_LISTED]]}
    return Finding(severity, code, message, count=len(found), example=example)


def entity_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Entities per type (rows) and split (columns, plus 'total'), from a canonical or prepared frame."""
    splits = (
        frame["split"] if "split" in frame.columns else pd.Series(["all"] * len(frame), index=frame.index)
    )
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for tags, split in zip(frame["tags"], splits, strict=True):
        for kind, _, _ in entity_spans(list(tags)):
            counts[kind][str(split)] += 1
    table = pd.DataFrame(counts).T.fillna(0).astype(int)
    if table.empty:
        return pd.DataFrame(columns=["total"])
    table["total"] = table.sum(axis=1)
    return table.sort_values("total", ascending=False).rename_axis("type")


def split_stats(frame: pd.DataFrame) -> pd.DataFrame:
    """Sentences, tokens and entities per split (one row per split, 'all' when the frame has no split)."""
    splits = (
        frame["split"] if "split" in frame.columns else pd.Series(["all"] * len(frame), index=frame.index)
    )
    rows = []
    for split, part in frame.groupby(splits.astype(str), sort=False):
        rows.append(
            {
                "split": split,
                "sentences": len(part),
                "tokens": int(sum(len(t) for t in part["tokens"])),
                "entities": int(sum(len(entity_spans(list(g))) for g in part["tags"])),
            }
        )
    return pd.DataFrame(rows, columns=["split", "sentences", "tokens", "entities"])


def _rare_types(counts: pd.DataFrame, splits: set[str], min_train: int, min_eval: int) -> list[str]:
    """Types with too few examples to learn (train, or everything when unsplit) or to evaluate."""
    notes = []
    for kind, row in counts.iterrows():
        learned = int(row.get("train", 0)) if "train" in splits else int(row["total"])
        if ("train" in splits or "all" in splits) and learned < min_train:
            notes.append(f"{kind} ({learned} to learn from)")
            continue
        for split in ("validation", "test"):
            if split in splits and int(row.get(split, 0)) < min_eval:
                notes.append(f"{kind} ({int(row.get(split, 0))} in {split})")
                break
    return notes


def _numbers(frame: pd.DataFrame) -> list[int]:
    """Sentence numbers a person can find: the file's row numbers (``_row``) when given, else 1, 2, ..."""
    if "_number" in frame.columns:
        return [int(n) for n in frame["_number"]]
    if "_row" in frame.columns:
        return [int(n) for n in frame["_row"]]
    return list(range(1, len(frame) + 1))


def _catalog_tokenizer(model_key: str) -> tuple[Any, str]:
    """The fast tokenizer the dataset service measures lengths with, and its note (fallback to MiniLM)."""

    tokenizer, _, note = tokenizer_for(model_key)
    return tokenizer, note


def _encode_lengths(tokenizer: Any, words: list[list[str]]) -> list[int]:
    if hasattr(tokenizer, "encode_batch_fast"):  # a raw `tokenizers.Tokenizer`

        with getattr(tokenlength, "_lock", contextlib.nullcontext()):
            encodings = tokenizer.encode_batch_fast(words, is_pretokenized=True, add_special_tokens=True)
        return [len(e.ids) for e in encodings]
    encoded = tokenizer(words, is_split_into_words=True, truncation=False)  # a transformers tokenizer
    return [len(ids) for ids in encoded["input_ids"]]


def _length_findings(frame: pd.DataFrame, tokenizer: Any, max_length: int, note: str = "") -> list[Finding]:
    if len(frame) > LENGTH_SAMPLE:  # a fixed random sample keeps the report fast on big files
        frame = frame.sample(LENGTH_SAMPLE, random_state=0).sort_index()
    lengths = pd.Series(_encode_lengths(tokenizer, [list(t) for t in frame["tokens"]]))
    numbers = _numbers(frame)
    median, p95, longest = int(lengths.median()), int(lengths.quantile(0.95)), int(lengths.max())
    findings = [
        Finding(
            "info",
            "subword_lengths",
            f"Sentences are {median} subword tokens long at the median, {p95} at the 95th percentile and "
            f"{longest} at most (max length {max_length}).{' ' + note if note else ''}",
            example={
                "median": median,
                "p95": p95,
                "max": longest,
                "max_length": max_length,
                "measured": len(lengths),
            },
        )
    ]
    too_long = [(numbers[i], int(n)) for i, n in enumerate(lengths) if n > max_length]
    if too_long:
        first, length = too_long[0]
        findings.append(
            Finding(
                "warning",
                "too_long",
                f"{_plural(len(too_long), 'sentence', ('is', 'are'))} longer than {max_length} subword "
                f"tokens (e.g. sentence {first}: {length}); their last words are cut off in training and "
                "count as missed in evaluation; raise the max length or split long sentences.",
                count=len(too_long),
                example={
                    "sentence": first,
                    "length": length,
                    "sentences": [n for n, _ in too_long[:_LISTED]],
                },
            )
        )
    return findings


def check_token_frame(
    frame: pd.DataFrame,
    mapping: dict[str, Any],
    *,
    tokenizer: Any = None,
    model_key: str | None = None,
    max_length: int | None = None,
    min_train: int = MIN_TRAIN_ENTITIES,
    min_eval: int = MIN_EVAL_ENTITIES,
) -> list[Finding]:
    """The NER findings of a quality report (see ``core.tasks.ner.check_token_frame``).

    Subword lengths are measured with ``tokenizer`` (a transformers or a raw ``tokenizers``
    tokenizer), else with the catalogue tokenizer of ``model_key``, else not at all.
    """
    if not _is_listed(frame):
        frame = normalize_token_frame(
            frame,
            mapping.get("tokens") or mapping.get("tokens_column") or "tokens",
            mapping.get("tags") or mapping.get("tags_column") or "tags",
            mapping.get("sentence") or mapping.get("sentence_column"),
        )
    frame = frame.assign(_number=_numbers(frame))  # survives the rows prepare_token_frame drops
    findings = find_tag_problems(frame)
    scheme = detect_scheme([_as_list(t) for t in frame["tags"]])
    converted = "" if scheme == "IOB2" else "; they are converted to IOB2 for training"
    findings.append(
        Finding("info", "tag_scheme", f"Tags use the {scheme} scheme{converted}.", example={"scheme": scheme})
    )
    prepared = prepare_token_frame(frame)
    stats = split_stats(prepared)
    findings.append(
        Finding(
            "info",
            "split_sizes",
            "; ".join(
                f"{r.split}: {r.sentences:,} sentences, {r.tokens:,} tokens, {r.entities:,} entities"
                for r in stats.itertuples()
            )
            + ".",
            count=len(prepared),
            example={"splits": stats.to_dict("records")},
        )
    )
    counts = entity_counts(prepared)
    if counts.empty:
        findings.append(
            Finding(
                "blocking",
                "no_entities",
                "No token has an entity tag (every tag is O); tag the entities you want the model to find.",
            )
        )
        return findings
    findings.append(
        Finding(
            "info",
            "entity_counts",
            "Entities per type: "
            + ", ".join(f"{kind} {total:,}" for kind, total in counts["total"].items())
            + ".",
            count=len(counts),
            example={
                "counts": {str(k): {str(c): int(v) for c, v in row.items()} for k, row in counts.iterrows()}
            },
        )
    )
    rare = _rare_types(counts, set(stats["split"]), min_train, min_eval)
    if rare:
        findings.append(
            Finding(
                "warning",
                "rare_entity_types",
                f"{_plural(len(rare), 'entity type', ('is', 'are'))} too rare to learn or evaluate: "
                f"{', '.join(rare)}; "
                f"aim for at least {min_train} in training and {min_eval} in each evaluation split.",
                count=len(rare),
                example={"types": rare},
            )
        )
    note = ""
    if tokenizer is None and model_key:
        try:
            tokenizer, note = _catalog_tokenizer(model_key)
        except UserError as exc:
            findings.append(Finding("info", "subword_lengths", f"Subword lengths were not measured: {exc}"))
    if tokenizer is not None and len(prepared):
        findings.extend(_length_findings(prepared, tokenizer, max_length or DEFAULT_MAX_LENGTH, note))
    return findings
