"""Quality checks on text columns: token lengths, very long texts, garbled encodings, mixed types."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from core.data.canonical import counted, short
from core.entities import Finding
from core.text.arrowtext import arrow_strings, char_lengths, non_ascii_rows, value_counts
from core.text.encoding import encoding_label
from core.text.mojibake import Repair, find_repair
from core.text.textfile import numeric_mask

LONG_TEXT_CHARS = 10_000  # "extremely long": far beyond any max length the catalogue offers


def texts_of(frame: pd.DataFrame, task: str, mapping: dict[str, Any]) -> pd.Series | None:
    """The text a model reads for each row (None for tabular data)."""
    if task in ("classification", "regression"):
        return frame["text"]
    if task == "token-classification":
        return frame["tokens"]
    if task == "causal-lm":
        fmt = mapping["format"]
        if fmt == "text":
            return frame["text"]
        if fmt == "prompt_completion":
            return frame["prompt"] + "\n" + frame["completion"]
        import json

        if fmt == "preference":  # the longer answer: a pair is cut when either side is
            prompts = frame["prompt"].map(lambda m: "\n".join(x["content"] for x in json.loads(m)))
            chosen, rejected = frame["chosen"].astype(str), frame["rejected"].astype(str)
            return prompts + "\n" + chosen.where(chosen.str.len() >= rejected.str.len(), rejected)
        return frame["messages"].map(lambda m: "\n".join(x["content"] for x in json.loads(m)))
    return None


def text_findings(texts: pd.Series, frame: pd.DataFrame, measured: dict[str, Any], max_length: int,
                  stats: dict[str, Any], *, pretokenized: bool) -> list[Finding]:
    """Sentences about garbled, very long and truncated texts; ``measured`` from tokenlength."""
    findings: list[Finding] = []
    if not pretokenized:
        arrow = pd.api.types.is_string_dtype(texts) and texts.dtype != object
        non_ascii = non_ascii_rows(texts) if arrow else None
        findings += _encoding_damage(texts, frame, non_ascii)
        # Byte lengths are characters for ASCII rows; only the others are counted again.
        chars = char_lengths(texts) if arrow else texts.str.len().to_numpy()
        stats["text_chars"] = {"median": float(np.median(chars)), "max": int(chars.max())}
        long = chars > LONG_TEXT_CHARS
        if long.any():
            i = int(long.nonzero()[0][0])
            findings.append(Finding(
                "warning", "long_texts",
                f"{counted(int(long.sum()), 'text', 'is')} longer than {LONG_TEXT_CHARS:,} characters "
                f"(e.g. row {int(frame['_row'].iloc[i])}, {int(chars[i]):,} characters); only the "
                f"first {max_length} tokens are used, so split them or check they are not pasted "
                "documents.", int(long.sum()), {"row": int(frame["_row"].iloc[i]),
                                                "text": short(_head_of(texts, i))}))
    stats.update(measured)
    share = measured.get("truncated_share")
    if share is None:
        findings.append(Finding("info", "token_lengths", measured.get("tokenizer_note", "")))
        return findings
    sample = measured["token_lengths"]
    percent = _percent(share)
    scope = f"measured on all {sample['total']:,} rows"
    if sample["sample_size"] < sample["total"]:
        low, high = measured.get("truncated_share_range") or (share, share)
        scope = (f"measured on a random sample of {sample['sample_size']:,} of "
                 f"{sample['total']:,} rows, so {_percent(low)}–{_percent(high)} of the whole "
                 "file at 95% confidence")
    text = (f"{percent} of inputs are longer than {max_length} tokens and would be cut "
            f"(median {sample['median']:.0f}, longest {sample['max']:,} tokens; {scope})")
    if share > 0.05:
        findings.append(Finding("warning", "truncation", text + "; raise the max length or "
                                "shorten the texts.", int(round(share * len(texts)))))
    else:
        findings.append(Finding("info", "truncation", text + "."))
    return findings


def _percent(share: float) -> str:
    return f"{share:.0%}" if share >= 0.1 or share == 0 else f"{share:.1%}"


# C1 control characters, or UTF-8 read as Windows-1252 ("Ã©", "â€™"): text decoded wrongly.
_MOJIBAKE = r"[\x{80}-\x{9f}]|Ã[\x{80}-\x{bf}]|â€"
_REPAIR_ROWS = 500  # non-ASCII rows tried against every common encoding mix-up


def _encoding_damage(texts: pd.Series, frame: pd.DataFrame,
                     non_ascii: np.ndarray | None = None) -> list[Finding]:
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = arrow_strings(texts)
    # Garbling needs non-ASCII bytes, and most rows have none: look at the raw buffers first.
    candidates = non_ascii_rows(texts) if non_ascii is None else non_ascii
    if not candidates.any():
        return []
    hits = np.zeros(len(arr), dtype=bool)
    hits[candidates] = pc.match_substring_regex(arr.filter(pa.array(candidates)), _MOJIBAKE
                                                ).fill_null(False).to_numpy(zero_copy_only=False)
    repairs = _repairs(texts, candidates)
    for i in repairs:
        hits[i] = True
    if not hits.any():
        return []
    i = min(repairs) if repairs else int(hits.nonzero()[0][0])
    row = int(frame["_row"].iloc[i])
    snippet = _garbled_snippet(str(texts.iloc[i]))
    count = counted(int(hits.sum()), "text", "has")
    example = {"row": row, "text": short(texts.iloc[i])}
    if repairs:
        fix = repairs[i]
        example["reads as"] = short(fix.fixed)
        # Scanned only the first rows: say so rather than give a count for the whole column.
        scope = ("" if int(candidates.sum()) <= _REPAIR_ROWS
                 else f" among the first {_REPAIR_ROWS:,} non-ASCII texts")
        shown = short(str(texts.iloc[i]), 40)
        message = (f"{count} mojibake{scope}, text read with the wrong encoding: {fix.sentence} "
                   f"(e.g. row {row}: '{shown}' reads "
                   f"'{short(fix.fixed, 40)}' when decoded right); re-import the file and pick "
                   f"{encoding_label(fix.true_encoding)} under 'Read the file as', or re-export it as UTF-8.")
    else:
        message = (f"{count} garbled characters, a sign of text saved or read with the wrong "
                   f"encoding (e.g. row {row}: '…{snippet}…'); re-export the source as UTF-8 if you can.")
    return [Finding("warning", "encoding_damage", message, int(hits.sum()), example)]


def _head_of(texts: pd.Series, i: int, n: int = 1_000) -> object:
    """The start of one text, cut in Arrow: a 150 MB cell is never copied whole for an example."""
    if pd.api.types.is_string_dtype(texts) and texts.dtype != object:
        return texts.iloc[i:i + 1].str.slice(0, n).iloc[0]
    return texts.iloc[i]


def _repairs(texts: pd.Series, candidates: np.ndarray) -> dict[int, Repair]:
    """Position -> repair for the first non-ASCII texts that are mojibake of a common pair."""
    found: dict[int, Repair] = {}
    for i in candidates.nonzero()[0][:_REPAIR_ROWS]:
        value = texts.iloc[int(i)]
        fix = find_repair(value) if isinstance(value, str) else None
        if fix is not None:
            found[int(i)] = fix
    return found


def _garbled_snippet(text: str) -> str:
    """The text around the first garbled character, with invisible controls shown as \\x85."""
    found = re.search("[\x80-\x9f]|Ã[\x80-\xbf]|â€", text)
    start = found.start() if found else 0
    snippet = re.sub("[\r\n\t]", " ", text[max(0, start - 25): start + 25]).strip()
    return re.sub("[\x80-\x9f]", lambda c: f"\\x{ord(c.group()):02x}", snippet)


# infer_dtype answers that mean all values are of one kind as counted below.
_ONE_KIND = {"string", "integer", "floating", "mixed-integer-float", "boolean", "empty"}


def mixed_type_findings(frame: pd.DataFrame, columns: list[str],
                        min_share: float = 0.0) -> list[Finding]:
    """Columns that hold numbers in some rows and words in others (or other mixed kinds).

    ``min_share``: ignore a minority kind below this share (a few numeric answers in a
    free-text column are normal).
    """
    findings: list[Finding] = []
    for col in columns:
        series = frame[col]
        present = series.dropna()
        if present.empty or not (pd.api.types.is_string_dtype(series) or series.dtype == object):
            continue
        if series.dtype == object:
            if pd.api.types.infer_dtype(present, skipna=False) in _ONE_KIND:
                continue  # every value is of one kind (checked in C, not row by row)
            kinds = present.map(lambda v: "number" if isinstance(v, int | float | np.number)
                                and not isinstance(v, bool) else type(v).__name__)
            if kinds.nunique() > 1:
                minority = kinds.value_counts().index[-1]
                i = int((kinds == minority).to_numpy().nonzero()[0][0])
                findings.append(_mixed(col, present, i, int((kinds == minority).sum()),
                                       f"{kinds.value_counts().index[0]} values"))
            continue
        if min_share == 0:  # labels and features: few distinct values, test each one once
            values = value_counts(present)
            is_num = numeric_mask(pd.Series(values.index.astype(str))).to_numpy()
            n_num = int(values.to_numpy()[is_num].sum())
            if not 0 < n_num < len(present):
                continue
            numeric = present.isin(values.index[is_num]).to_numpy()
        else:
            numeric = numeric_mask(present).to_numpy()
            n_num = int(numeric.sum())
        if 0 < n_num < len(present):
            minority_numeric = n_num <= len(present) / 2
            odd = numeric if minority_numeric else ~numeric
            if odd.sum() < min_share * len(present):
                continue
            i = int(odd.nonzero()[0][0])
            findings.append(_mixed(col, present, i, int(odd.sum()),
                                   "text" if minority_numeric else "numbers"))
    return findings


def _mixed(col: str, present: pd.Series, i: int, n: int, mostly: str) -> Finding:
    value = short(present.iloc[i], 40)
    row = int(present.index[i]) + 1
    return Finding("warning", "mixed_types",
                   f"Column '{col}' mostly holds {mostly} but {counted(n, 'value', 'differs')} "
                   f"(e.g. '{value}' in row {row}); check that the column means one thing.",
                   n, {"row": row, col: value})
