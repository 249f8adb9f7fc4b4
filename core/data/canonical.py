"""Turn a parsed file plus a column mapping into the canonical columns a saved dataset has.

Columns: ``text``/``label`` (classification: str, regression: float), ``tokens``/``tags``
(lists of str), ``text`` | ``prompt``+``completion`` | ``messages`` (JSON string) for
causal-lm, features + ``label`` for tabular, optional ``group``. Internal helper columns
start with an underscore: ``_row`` (1-based row in the file) and ``_given_split``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from core.data.splits import normalize_split_values
from core.entities import Finding
from core.tasks.chat import alpaca_prompt, normalize_turns
from core.tasks.preference import answer_text, prompt_turns

ROLES = {"text": "text", "prompt": "prompt", "completion": "completion"}


def content_columns(task: str, mapping: dict[str, Any]) -> list[str]:
    """The canonical columns that carry the data of a task (what a duplicate compares)."""
    if task in ("classification", "regression"):
        return ["text", "label"]
    if task == "token-classification":
        return ["tokens", "tags"]
    if task == "tabular":
        return [*mapping["features"], "label"]
    return {"text": ["text"], "prompt_completion": ["prompt", "completion"],
            "messages": ["messages"], "preference": ["prompt", "chosen", "rejected"]}[mapping["format"]]


def counted(n: int, noun: str, verb: str = "") -> str:
    """'1 row has' / '3 rows have': a count with its noun (and verb) agreeing."""
    plural = {"class": "classes", "has": "have", "is": "are", "repeats": "repeat",
              "appears": "appear", "differs": "differ"}
    words = [f"{n:,}", noun if n == 1 else plural.get(noun, noun + "s")]
    if verb:
        words.append(verb if n == 1 else plural.get(verb, verb))
    return " ".join(words)


def short(value: Any, n: int = 120) -> str:
    """A value as one short line for an example in a finding."""
    if _missing(value):
        return ""
    if isinstance(value, list | tuple | np.ndarray):
        value = " ".join(str(v) for v in value[: n + 1])
    # Cut before splitting: a 150 MB cell split into words took gigabytes for a 120-character line.
    text = " ".join(str(value)[: 8 * n + 64].split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _as_text(series: pd.Series) -> pd.Series:
    if pd.api.types.is_string_dtype(series) and series.dtype != object:
        return series
    if series.dtype == object:
        if pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
            return series.astype("str")  # only text and missing values (JSON, Excel): no loop
        # May hold lists or dicts: str() each, keep missing values missing.
        return series.map(lambda v: None if _missing(v) else str(v)).astype("str")
    return series.astype("str")  # numbers and booleans, vectorised; NaN stays missing


def _missing(value: Any) -> bool:
    if isinstance(value, list | tuple | np.ndarray | dict):
        return False
    return value is None or bool(pd.isna(value))


def _as_labels(series: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(series):
        present = series.dropna()
        if (present == present.round()).all():
            series = series.astype("Int64")
    return _as_text(series)


def _as_list(value: Any) -> list[str] | None:
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value]
    if _missing(value):
        return None
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
            if isinstance(parsed, list):
                return [str(v) for v in parsed]
        except json.JSONDecodeError:
            pass
    return text.split()


def _as_messages(value: Any) -> str | None:
    """OpenAI or ShareGPT turns as the canonical JSON list of {role, content} (None if not turns)."""
    if _missing(value):
        return None
    turns = normalize_turns(value)
    return None if turns is None else json.dumps(turns, ensure_ascii=False)


def to_canonical(frame: pd.DataFrame, mapping: dict[str, Any],
                 task: str) -> tuple[pd.DataFrame, list[Finding]]:
    """Canonical columns for ``task`` (nothing dropped yet) and findings about bad values."""
    out = pd.DataFrame({"_row": np.arange(1, len(frame) + 1)}, index=frame.index)
    findings: list[Finding] = []
    if task in ("classification", "regression"):
        out["text"] = _as_text(frame[mapping["text"]])
        out["label"] = _label(frame[mapping["label"]], task == "regression", mapping, findings)
    elif task == "token-classification":
        out["tokens"] = frame[mapping["tokens"]].map(_as_list).astype(object)
        out["tags"] = frame[mapping["tags"]].map(_as_list).astype(object)
        _check_lengths(out, mapping, findings)
    elif task == "causal-lm":
        fmt = mapping["format"]
        if fmt == "preference":
            _preference_columns(frame, mapping, out, findings)
        elif fmt == "messages":
            raw = frame[mapping["messages"]]
            out["messages"] = raw.map(_as_messages).astype(object)
            bad = out["messages"].isna() & ~raw.map(_missing)
            if bad.any():
                row = int(out.loc[bad, "_row"].iloc[0])
                findings.append(Finding(
                    "warning", "bad_messages",
                    f"In '{mapping['messages']}', {counted(int(bad.sum()), 'row', 'is')} not a list of "
                    f"{{role, content}} messages (e.g. row {row}); those rows are left out.",
                    int(bad.sum()), {"row": row, "messages": short(raw[bad].iloc[0])}))
        else:
            for key in ("text",) if fmt == "text" else ("prompt", "completion"):
                out[key] = _as_text(frame[mapping[key]])
            if fmt == "prompt_completion" and mapping.get("input"):
                # Alpaca: the instruction and its input are one user turn.
                extra = _as_text(frame[mapping["input"]])
                out["prompt"] = pd.Series(
                    [None if _missing(p) else alpaca_prompt(p, x)
                     for p, x in zip(out["prompt"], extra, strict=True)], index=out.index).astype("str")
    else:  # tabular
        for col in mapping["features"]:
            out[col] = frame[col]
        out["label"] = _label(frame[mapping["label"]], mapping.get("target_kind") == "regression",
                              mapping, findings)
    if mapping.get("group"):
        group = _as_text(frame[mapping["group"]])
        missing = group.isna()
        if missing.any():
            findings.append(Finding(
                "warning", "missing_group",
                f"{counted(int(missing.sum()), 'row', 'has')} no value in the group column "
                f"'{mapping['group']}'; each of them is treated as its own group.", int(missing.sum())))
            group = group.where(~missing, "row-" + out["_row"].astype(str))
        out["group"] = group
    if mapping.get("split_column"):
        out["_given_split"] = normalize_split_values(frame[mapping["split_column"]],
                                                     mapping["split_column"])
    return out, findings


def _preference_columns(frame: pd.DataFrame, mapping: dict[str, Any], out: pd.DataFrame,
                        findings: list[Finding]) -> None:
    """TRL's shape: the prompt as a JSON list of turns, each side as the assistant's text.

    Sides given as message lists keep their assistant turns; without a prompt column, the prompt is
    the conversation of the chosen side before its answer (TRL's implicit prompt).
    """
    chosen_raw, rejected_raw = frame[mapping["chosen"]], frame[mapping["rejected"]]
    prompt_raw = frame[mapping["prompt"]] if mapping.get("prompt") else chosen_raw
    prompts = [None if _missing(v) else prompt_turns(v, implicit=not mapping.get("prompt"))
               for v in prompt_raw]
    out["prompt"] = pd.Series([None if p is None else json.dumps(p, ensure_ascii=False) for p in prompts],
                              index=out.index, dtype=object)
    if mapping.get("meta"):  # who voted and when (builders), kept beside the pair and never trained on
        out["meta"] = frame[mapping["meta"]].map(
            lambda v: json.dumps(v if isinstance(v, dict) else {}, ensure_ascii=False, default=str))
    for key, raw in (("chosen", chosen_raw), ("rejected", rejected_raw)):
        sides = [None if _missing(v) else answer_text(v) for v in raw]
        out[key] = pd.Series(sides, index=out.index, dtype=object)
        bad = [i for i, (v, side) in enumerate(zip(raw, sides, strict=True))
               if side is None and not _missing(v)]
        if bad:
            findings.append(Finding(
                "warning", f"bad_{key}",
                f"In '{mapping[key]}', {counted(len(bad), 'row', 'has')} a conversation without an assistant "
                f"answer (e.g. row {bad[0] + 1}); those rows are left out.",
                len(bad), {"row": bad[0] + 1, key: short(raw.iloc[bad[0]])}))


def _label(series: pd.Series, numeric: bool, mapping: dict[str, Any],
           findings: list[Finding]) -> pd.Series:
    if not numeric:
        return _as_labels(series)
    values = pd.to_numeric(series, errors="coerce").astype(float)
    bad = values.isna() & series.notna()
    if bad.any() and values.notna().sum() == 0:
        first = bad.to_numpy().nonzero()[0][0]
        findings.append(Finding(
            "blocking", "label_not_numeric",
            f"'{mapping['label']}' holds text (e.g. '{short(series.iloc[first], 40)}' in row {first + 1}), "
            "not numbers, and regression predicts a number; choose the classification task or a "
            "numeric label column.",
            int(bad.sum()), {"row": int(first + 1), "label": short(series.iloc[first], 40)}))
    elif bad.any():
        first = bad.to_numpy().nonzero()[0][0]
        findings.append(Finding(
            "warning", "label_not_numeric",
            f"In '{mapping['label']}', {counted(int(bad.sum()), 'label', 'is')} not a number (e.g. "
            f"'{short(series.iloc[first], 40)}' in row {first + 1}); those rows are left out.",
            int(bad.sum()), {"row": int(first + 1), "label": short(series.iloc[first], 40)}))
    return values


def _check_lengths(out: pd.DataFrame, mapping: dict[str, Any], findings: list[Finding]) -> None:
    both = out["tokens"].notna() & out["tags"].notna()
    lengths_differ = both & (out["tokens"].map(lambda v: len(v) if v is not None else 0)
                             != out["tags"].map(lambda v: len(v) if v is not None else 0))
    if not lengths_differ.any():
        return
    i = lengths_differ.to_numpy().nonzero()[0][0]
    tokens, tags = out["tokens"].iloc[i], out["tags"].iloc[i]
    findings.append(Finding(
        "warning", "token_tag_mismatch",
        f"{counted(int(lengths_differ.sum()), 'row', 'has')} a different number of tokens and tags (e.g. row "
        f"{i + 1}: {len(tokens)} tokens, {len(tags)} tags); those rows are left out.",
        int(lengths_differ.sum()), {"row": int(i + 1), "tokens": short(tokens), "tags": short(tags)}))
    out.loc[lengths_differ, ["tokens", "tags"]] = None
