"""The quality report: plain sentences with counts and an example row, vectorised for speed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from core.data.canonical import content_columns, counted, short
from core.data.language import language_findings
from core.data.splits import SplitResult
from core.data.textchecks import text_findings, texts_of
from core.entities import SPLITS, Finding
from core.models.tokenlength import measure_token_lengths
from core.text.arrowtext import blank_rows, factorize_sorted, text_codes

MIN_CLASS_ROWS = 10       # fewer rows than this per class: too few to learn and to score
IMBALANCE_WARNING = 10.0  # largest class / smallest class above this: warn
FEW_ROWS = 50
SMALL_TEST = 30          # fewer test rows than this: one example moves the score by several points
NEAR_MIN_WORDS = 6        # texts this long or longer are compared without their last words
NEAR_TAIL_WORDS = 2       # ...the last two words: an order number, a date, a name



def _list_key(series: pd.Series) -> pd.Series:
    return series.map(lambda v: None if v is None else "\x1f".join(v))


def _arrow_text(series: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(series) and series.dtype != object


def _codes(series: pd.Series) -> np.ndarray:
    if _arrow_text(series):
        return text_codes(series)  # exact, and several times faster than a full hash table
    if series.dtype == object and series.map(lambda v: isinstance(v, list)).any():
        series = _list_key(series)
    return pd.factorize(series, use_na_sentinel=False)[0]


def _row_key(columns: list[np.ndarray]) -> np.ndarray:
    """One integer per row, equal exactly when every column's code is equal."""
    key = columns[0]
    for more in columns[1:]:
        if not len(more):
            continue
        width = int(more.max()) + 1
        if int(key.max()) + 1 > 2**62 // width:  # renumber first so the product cannot overflow
            key = pd.factorize(key)[0]
        key = key * width + more
    return key


def _content_key(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the first column, and one integer per row equal exactly when all columns are.

    Two equal rows share their first value, so the other columns are only read on the rows
    whose first value repeats (none, when every text is different).
    """
    first = _codes(frame[columns[0]])
    key = first
    if len(columns) > 1 and len(first):
        rows = np.flatnonzero(np.bincount(first)[first] > 1)
        if len(rows):
            parts = [first[rows]] + [_codes(frame[c].iloc[rows]) for c in columns[1:]]
            key = first.copy()  # a row with a unique first value is unique: keep its code
            key[rows] = int(first.max()) + 1 + pd.factorize(_row_key(parts))[0]
    return first, key


def _duplicated(key: np.ndarray) -> np.ndarray:
    """``Series.duplicated()`` of non-negative codes, hashing only the codes seen twice."""
    if not len(key) or key.min() < 0 or key.max() > 8 * len(key) + 64:
        return pd.Series(key).duplicated().to_numpy()
    repeated = np.bincount(key)[key] > 1
    dup = np.zeros(len(key), dtype=bool)
    if repeated.any():
        dup[repeated] = pd.Series(key[repeated]).duplicated().to_numpy()
    return dup


def _empty(series: pd.Series) -> pd.Series:
    """Missing, blank text, or an empty list."""
    missing = series.isna()
    if _arrow_text(series):
        return pd.Series(blank_rows(series), index=series.index)
    if series.dtype == object:
        return missing | series.map(lambda v: isinstance(v, list) and not v
                                    or isinstance(v, str) and not v.strip())
    return missing


def identity_column(task: str, mapping: dict[str, Any]) -> str | None:
    """The column that says which input a row is (None for tabular: all features together)."""
    if task == "tabular":
        return None
    if task == "causal-lm":
        return {"text": "text", "prompt_completion": "prompt", "messages": "messages",
                "preference": "prompt"}[
            mapping.get("format") or "text"]
    return "tokens" if task == "token-classification" else "text"


def identity_key(frame: pd.DataFrame, task: str, mapping: dict[str, Any]) -> np.ndarray:
    """One integer per distinct input (the text, the tokens, the prompt, or the feature row)."""
    column = identity_column(task, mapping)
    if column is None:
        hashed = pd.util.hash_pandas_object(frame[mapping["features"]], index=False)
        return pd.factorize(hashed)[0]
    return _codes(frame[column])


def clean_rows(canon: pd.DataFrame, task: str,
               mapping: dict[str, Any]) -> tuple[pd.DataFrame, list[Finding], dict[str, int]]:
    """Leave out rows without the values a task needs and exact copies; say how many and why."""
    findings: list[Finding] = []
    content = content_columns(task, mapping)
    required = ["label"] if task == "tabular" else content
    drop = np.zeros(len(canon), dtype=bool)
    for col in content:
        empty = _empty(canon[col]).to_numpy()
        if not empty.any():
            continue
        n, i = int(empty.sum()), int(empty.nonzero()[0][0])
        row = int(canon["_row"].iloc[i])
        what = "an empty label" if col == "label" else f"no {col}"
        if col in required:
            drop |= empty
            tail = "they are left out"
        else:
            tail = "the model must cope with the gaps"
        findings.append(Finding("warning", f"missing_{col}",
                                f"{counted(n, 'row', 'has')} {what} (e.g. row {row}); {tail}.",
                                n, _example(canon, i, content)))
    dropped = {"missing": int(drop.sum()), "duplicates": 0}
    kept = canon[~drop] if drop.any() else canon  # filtering copies every text: skip if clean
    first_codes, row_key = _content_key(kept, content)
    dup = _duplicated(row_key)
    if dup.any():
        i = int(dup.nonzero()[0][0])
        same = int(np.flatnonzero(row_key[:i] == row_key[i])[0])
        n = int(dup.sum())
        first, copy = int(kept["_row"].iloc[same]), int(kept["_row"].iloc[i])
        if mapping.get("drop_duplicates", True):
            tail, dropped["duplicates"] = "the copies are left out", n
            kept = kept[~dup]
        else:
            tail = "they are kept, so a copy may land in the test split"
        findings.append(Finding("warning", "duplicates",
                                f"{counted(n, 'row', 'repeats')} an earlier row exactly (e.g. row "
                                f"{copy} repeats row {first}); {tail}.", n,
                                {"row": copy, "same_as_row": first,
                                 **_values(canon, canon["_row"] == copy, content)}))
    identity = identity_column(task, mapping)
    keys = first_codes if identity == content[0] else None
    if keys is not None and mapping.get("drop_duplicates", True):
        keys = keys[~dup]
    kept = kept.copy(deep=False)
    kept["_key"] = keys if keys is not None else identity_key(kept, task, mapping)
    return kept, findings, dropped


def _values(frame: pd.DataFrame, mask: pd.Series, columns: list[str]) -> dict[str, Any]:
    row = frame[mask.to_numpy()].iloc[0]
    return {c: short(row[c]) for c in columns[:6]}


def _example(frame: pd.DataFrame, i: int, columns: list[str]) -> dict[str, Any]:
    row = frame.iloc[i]
    return {"row": int(row["_row"])} | {c: short(row[c]) for c in columns[:6]}


def review(frame: pd.DataFrame, task: str, mapping: dict[str, Any], split: SplitResult, *,
           model_key: str, max_length: int,
           length_findings: bool = True) -> tuple[list[Finding], dict[str, Any]]:
    """Findings and chart data for cleaned rows that already carry their split."""
    findings: list[Finding] = []
    codes = split.split_codes()
    sizes = dict(zip(SPLITS, np.bincount(codes, minlength=len(SPLITS)).tolist(), strict=True))
    stats: dict[str, Any] = {"split_sizes": sizes, "split_method": split.method}
    content = content_columns(task, mapping)
    if len(frame) == 0:
        return [Finding("blocking", "no_rows", "No row has all the values the task needs, so "
                        "there is nothing to train on; check the column mapping.", 0)], stats
    findings.append(Finding("info", "split", _split_sentence(frame, mapping, split.method, sizes)))
    findings += [Finding("info", "split_note", note) for note in split.notes]
    if sizes["train"] == 0:
        findings.append(Finding("blocking", "empty_train", "The train split is empty; lower the "
                                "validation and test sizes or add rows.", 0))
    for name in ("validation", "test"):
        if sizes[name] == 0:
            findings.append(Finding("warning", f"empty_{name}",
                                    f"The {name} split is empty, so the model cannot be "
                                    f"{'scored' if name == 'test' else 'checked during training'}; "
                                    "add rows or raise its size.", 0))
    if 0 < sizes["test"] < SMALL_TEST:
        half = 1.96 * (0.25 / sizes["test"]) ** 0.5 * 100
        findings.append(Finding("warning", "small_test",
                                f"The test split has only {counted(sizes['test'], 'row')}: each one moves "
                                f"accuracy by {100 / sizes['test']:.0f} points and a 95 % interval is up to "
                                f"±{half:.0f} points wide; raise the test size or add rows.", sizes["test"]))
    if len(frame) < FEW_ROWS:
        findings.append(Finding("warning", "few_rows", f"Only {counted(len(frame), 'row')}: "
                                "scores on so few examples are mostly noise.", len(frame)))
    findings += _leakage(frame, split.split, codes, content)
    if "text" in frame and task in ("classification", "regression"):
        findings += _near_leakage(frame, split.split)
    classes = task == "classification" or (task == "tabular"
                                           and mapping.get("target_kind") != "regression")
    if classes:
        findings += _class_checks(frame["label"], codes, stats)
        findings += _label_variants(frame["label"], frame)
    elif task in ("regression", "tabular"):
        findings += _numeric_label(frame["label"], stats)
    texts = texts_of(frame, task, mapping)
    if texts is not None:
        pretokenized = task == "token-classification"
        measured = measure_token_lengths(texts, model_key=model_key, max_length=max_length,
                                         pretokenized=pretokenized)
        found = text_findings(texts, frame, measured, max_length, stats, pretokenized=pretokenized)
        findings += [f for f in found if length_findings or f.code != "truncation"]
        findings += language_findings(texts, model_key=model_key, task=task, stats=stats)
    return findings, stats


def _split_sentence(frame: pd.DataFrame, mapping: dict[str, Any], method: str,
                    sizes: dict[str, int]) -> str:
    shown = " · ".join(f"{name} {n:,}" for name, n in sizes.items())
    if method.startswith("grouped") and "group" not in frame:  # preference pairs: split by prompt
        how = f"Split by prompt so no prompt is in two splits ({frame['prompt'].nunique():,} prompts)"
    elif method.startswith("grouped"):
        groups = frame["group"].nunique()
        how = (f"Split by '{mapping.get('group')}' so no value of it is in two splits "
               f"({groups:,} groups)")
    elif method.startswith("from"):
        how = f"Split as the file's column '{mapping.get('split_column')}' says"
    else:
        how = "Split stratified by label" if method.startswith("stratified") else "Split at random"
    return f"{how}: {shown} rows."


def _leakage(frame: pd.DataFrame, split: pd.Series, codes: np.ndarray,
             content: list[str]) -> list[Finding]:
    keys = frame["_key"].to_numpy().astype(np.int64)
    repeated = np.bincount(keys)[keys] > 1  # an input on one row only cannot be in two splits
    if not repeated.any():
        return []
    keys, codes = keys[repeated], codes[repeated]
    seen = np.zeros((int(keys.max()) + 1, len(SPLITS)), dtype=bool)
    seen[keys, codes] = True  # which splits each distinct input appears in
    shared = np.flatnonzero(seen.sum(axis=1) > 1)
    if len(shared) == 0:
        return []
    k = shared[0]
    rows = frame[frame["_key"].to_numpy() == k]
    where = sorted(set(split[rows.index]), key=SPLITS.index)
    first = content[0] if content[0] != "label" else content[-1]
    return [Finding("warning", "leakage",
                    f"{counted(len(shared), 'input', 'appears')} in more than one split (e.g. "
                    f"'{short(rows[first].iloc[0], 60)}' in {' and '.join(where)}, rows "
                    f"{', '.join(str(r) for r in rows['_row'].head(3))}); the test score would be "
                    "flattered, so remove the copies or split by a group column.",
                    int(len(shared)), {"row": int(rows["_row"].iloc[0]), "splits": where})]


def _near_key(texts: pd.Series) -> pd.Series:
    """A text without case, punctuation and its last words; None for short texts."""
    words = texts.astype(str).str.casefold().str.replace(r"[^\w\s]", " ", regex=True).str.split()
    return words.map(lambda w: " ".join(w[:-NEAR_TAIL_WORDS]) if len(w) >= NEAR_MIN_WORDS else None)


def _near_leakage(frame: pd.DataFrame, split: pd.Series) -> list[Finding]:
    """Validation and test texts that are training texts but for their last words (exact copies are
    the leakage check's)."""
    where = split.reindex(frame.index).astype(str)
    keys = _near_key(frame["text"])
    train = keys[(where == "train") & keys.notna()]
    if train.empty:
        return []
    exact = set(frame.loc[train.index, "text"].astype(str))
    held = keys[where.isin(["validation", "test"]) & keys.notna()]
    hit = held[held.isin(set(train)) & ~frame.loc[held.index, "text"].astype(str).isin(exact)]
    if hit.empty:
        return []
    i = hit.index[0]
    twin = train[train == hit.iloc[0]].index[0]
    counts = where[hit.index].value_counts()
    parts = " and ".join(counted(int(counts[s]), f"{s} row") for s in ("test", "validation") if s in counts)
    return [Finding("warning", "near_duplicates",
                    f"{parts} {'is a near-copy' if len(hit) == 1 else 'are near-copies'} of training rows: "
                    f"the same words but the last one or two (e.g. '{short(frame.at[i, 'text'], 60)}' in "
                    f"{where[i]}, row {int(frame.at[i, '_row'])}, and '{short(frame.at[twin, 'text'], 60)}' "
                    f"in train, row {int(frame.at[twin, '_row'])}); a keyword model scores these by memory, "
                    "so the test score is flattered: remove them or split by a group column.",
                    int(len(hit)),
                    {"row": int(frame.at[i, "_row"]), "train_row": int(frame.at[twin, "_row"])})]


def _label_variants(label: pd.Series, frame: pd.DataFrame) -> list[Finding]:
    """Labels that differ only in case or spaces ('positive', ' positive ', 'POSITIVE') are one class
    written several ways; trained as is, they split it into several."""
    names = pd.Series(label.astype(str).unique())
    folded = names.str.casefold().str.split().str.join(" ")
    groups = names.groupby(folded.to_numpy()).agg(list)
    variants = groups[groups.map(len) > 1]
    if variants.empty:
        return []
    shown = "; ".join(", ".join(f"'{v}'" for v in sorted(g)[:4]) for g in variants.head(3))
    merged = len(groups)
    return [Finding("warning", "label_variants",
                    f"{counted(int(variants.map(len).sum()), 'label')} differ only in case or spaces "
                    f"({shown}), so they would train as {len(names)} classes where there are {merged}; "
                    "write each class one way in the label column and upload again.", int(len(variants)),
                    {"variants": [sorted(g) for g in variants.head(5)]})]


def _class_checks(label: pd.Series, split_codes: np.ndarray,
                  stats: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    codes, classes = factorize_sorted(label)
    table = np.bincount(codes * len(SPLITS) + split_codes,
                        minlength=len(classes) * len(SPLITS)).reshape(len(classes), len(SPLITS))
    counts = pd.Series(table.sum(axis=1), index=[str(c) for c in classes])
    counts = counts.sort_values(ascending=False, kind="stable")
    stats["class_counts"] = {str(k): int(v) for k, v in counts.items()}
    stats["class_counts_by_split"] = {
        s: {str(c): int(table[i, j]) for i, c in enumerate(classes)}
        for j, s in enumerate(SPLITS) if table[:, j].sum()}
    if len(counts) < 2:
        only = counts.index[0] if len(counts) else "(none)"
        return [Finding("blocking", "single_class",
                        f"Every row has the same label '{only}'; a classifier needs at least two "
                        "classes, so check the label column or add examples of other classes.",
                        int(counts.sum()))]
    small = counts[counts < MIN_CLASS_ROWS]
    if len(small):
        shown = ", ".join(f"'{k}' ({v})" for k, v in small.head(8).items())
        findings.append(Finding("warning", "small_classes",
                                f"{counted(len(small), 'class', 'has')} fewer than {MIN_CLASS_ROWS} "
                                f"rows, too few to learn or to score: {shown}; add examples or "
                                "merge them.", int(len(small)), {"classes": list(map(str, small.index))}))
    ratio = float(counts.iloc[0] / counts.iloc[-1])
    stats["imbalance_ratio"] = round(ratio, 2)
    severity = "warning" if ratio > IMBALANCE_WARNING else "info"
    findings.append(Finding(severity, "imbalance",
                            f"{len(counts)} classes; the largest ('{counts.index[0]}', "
                            f"{counts.iloc[0]:,} rows) is {ratio:.1f}× the smallest "
                            f"('{counts.index[-1]}', {counts.iloc[-1]:,})"
                            + ("; accuracy will flatter the model, so read macro-F1." if
                               severity == "warning" else "."), int(len(counts))))
    return findings


def _numeric_label(label: pd.Series, stats: dict[str, Any]) -> list[Finding]:
    values = label.astype(float)
    stats["label_summary"] = {"min": float(values.min()), "max": float(values.max()),
                              "mean": float(values.mean()), "std": float(values.std(ddof=0))}
    counts, edges = np.histogram(values, bins=min(30, max(1, values.nunique())))
    stats["label_histogram"] = {"bins": edges.round(4).tolist(), "counts": counts.tolist()}
    if values.nunique() < 2:
        return [Finding("blocking", "constant_label", f"Every row has the same value "
                        f"{values.iloc[0]:g}; there is nothing to predict, so check the label "
                        "column.", int(len(values)))]
    return []
