"""Entity-level evaluation of a tagger: the CoNLL-style seqeval report, a token confusion matrix,
F1 per type, and an error analysis that puts every gold and predicted entity in one class.

Pure Python (seqeval, pandas). Tags are IOB2 (``core.tasks.ner.prepare_token_frame`` converts them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from core.tasks.ner import entity_spans, to_iob2

AVERAGES = ("micro avg", "macro avg", "weighted avg")
REPORT_COLUMNS = ["precision", "recall", "f1", "support"]
ERROR_CLASSES = ("correct", "wrong type", "wrong boundary", "missed", "spurious")
Span = tuple[str, int, int]


def entity_report(
    y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]], strict: bool = False
) -> pd.DataFrame:
    """Per entity type precision, recall, F1 and support, then the micro, macro and weighted averages.

    ``strict=False`` scores like the CoNLL ``conlleval`` script (an I- after O starts an entity);
    ``strict=True`` uses seqeval's strict IOB2 mode, where such entities do not count.
    """
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    y_true, y_pred = [list(s) for s in y_true], [list(s) for s in y_pred]
    if not any(t != "O" for s in y_true + y_pred for t in s):
        empty = pd.DataFrame(0.0, index=list(AVERAGES), columns=REPORT_COLUMNS)
        return empty.astype({"support": int}).rename_axis("type")
    options: dict[str, Any] = {"mode": "strict", "scheme": IOB2} if strict else {}
    raw = classification_report(y_true, y_pred, output_dict=True, zero_division=0, **options)
    types = sorted(k for k in raw if k not in AVERAGES)
    rows = {k: raw[k] for k in [*types, *AVERAGES] if k in raw}
    table = pd.DataFrame(rows).T.rename(columns={"f1-score": "f1"})[REPORT_COLUMNS]
    table = table.astype({"precision": float, "recall": float, "f1": float, "support": int})
    return table.rename_axis("type")


def report_metrics(report: pd.DataFrame) -> dict[str, float]:
    """Flat metrics of a report: ``entity_f1`` (micro avg, picks the best model), precision, recall."""
    micro = report.loc["micro avg"]
    return {
        "entity_f1": float(micro["f1"]),
        "entity_precision": float(micro["precision"]),
        "entity_recall": float(micro["recall"]),
        "entity_macro_f1": float(report.loc["macro avg", "f1"]),
    }


def f1_by_type(report: pd.DataFrame) -> pd.DataFrame:
    """The per-type rows of a report (no averages), best F1 first, for a bar chart."""
    per_type = report.drop(index=[a for a in AVERAGES if a in report.index])
    return per_type.sort_values(["f1", "support"], ascending=[False, False]).reset_index()


def token_confusion(
    y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]], by_type: bool = False
) -> pd.DataFrame:
    """Token counts, gold tags as rows and predicted tags as columns (``by_type`` drops B-/I-)."""

    def name(tag: str) -> str:
        return tag[2:] if by_type and tag[:2] in ("B-", "I-") else tag

    gold = [name(t) for s in y_true for t in s]
    pred = [name(t) for s, g in zip(y_pred, y_true, strict=True) for t in list(s)[: len(g)]]
    labels = sorted(set(gold) | set(pred), key=lambda t: (t != "O", t[2:] if t[:2] in ("B-", "I-") else t, t))
    table = pd.crosstab(
        pd.Categorical(gold, categories=labels), pd.Categorical(pred, categories=labels), dropna=False
    )
    table.index.name, table.columns.name = "gold", "predicted"
    return table


def _overlap(a: Span, b: Span) -> int:
    return max(0, min(a[2], b[2]) - max(a[1], b[1]))


def _best_partner(gold: Span, preds: list[Span]) -> tuple[str, Span | None]:
    """The class of a gold entity and the prediction that explains it."""
    touching = [p for p in preds if _overlap(gold, p)]
    if gold in touching:
        return "correct", gold
    same = [p for p in touching if p[0] == gold[0]]
    if same:
        return "wrong boundary", max(same, key=lambda p: _overlap(gold, p))
    if touching:  # another type, same span or not: the type is the bigger mistake
        exact = [p for p in touching if p[1:] == gold[1:]]
        return "wrong type", exact[0] if exact else max(touching, key=lambda p: _overlap(gold, p))
    return "missed", None


def _pred_class(pred: Span, golds: list[Span]) -> str:
    touching = [g for g in golds if _overlap(pred, g)]
    if pred in touching:
        return "correct"
    if any(g[0] == pred[0] for g in touching):
        return "wrong boundary"
    return "wrong type" if touching else "spurious"


def classify_entity_errors(
    tokens_list: Sequence[Sequence[str]], y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]]
) -> pd.DataFrame:
    """Every gold and predicted entity in one class: correct, wrong type, wrong boundary, missed, spurious.

    One row per gold entity, paired with the prediction that best explains it: ``correct`` (same
    span and type), ``wrong boundary`` (an overlapping prediction of the same type), ``wrong
    type`` (overlapping predictions all of another type, whether the span matches or not: the
    type is the bigger mistake), ``missed`` (no overlapping prediction). Then one row per
    prediction not paired so: ``spurious`` when it overlaps no gold entity, otherwise by the same
    rules (e.g. the second fragment of a split entity is another ``wrong boundary``). So the gold
    rows add up to the gold entities and the ``correct`` rows to seqeval's true positives.
    ``sentence`` is the position of the sentence in the lists (from 0); ``end`` is exclusive.
    """
    rows: list[dict[str, Any]] = []
    for index, (tokens, gold_tags, pred_tags) in enumerate(zip(tokens_list, y_true, y_pred, strict=True)):
        tokens = list(tokens)
        golds, preds = entity_spans(list(gold_tags)), entity_spans(list(pred_tags))
        paired: set[Span] = set()
        for gold in golds:
            category, pred = _best_partner(gold, preds)
            if pred is not None:
                paired.add(pred)
            rows.append(_row(index, tokens, category, gold, pred))
        for pred in preds:
            if pred not in paired:
                rows.append(_row(index, tokens, _pred_class(pred, golds), None, pred))
    columns = [
        "sentence",
        "category",
        "gold_type",
        "gold_start",
        "gold_end",
        "gold_text",
        "pred_type",
        "pred_start",
        "pred_end",
        "pred_text",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype(
        {"gold_start": "Int64", "gold_end": "Int64", "pred_start": "Int64", "pred_end": "Int64"}
    )


def _row(
    index: int, tokens: list[str], category: str, gold: Span | None, pred: Span | None
) -> dict[str, Any]:
    row: dict[str, Any] = {"sentence": index, "category": category}
    for side, span in (("gold", gold), ("pred", pred)):
        row[f"{side}_type"] = span[0] if span else None
        row[f"{side}_start"] = span[1] if span else None
        row[f"{side}_end"] = span[2] if span else None
        row[f"{side}_text"] = " ".join(tokens[span[1] : span[2]]) if span else None
    return row


def error_summary(errors: pd.DataFrame) -> pd.DataFrame:
    """Counts per error class (all five, in a fixed order) and the sentences behind each."""
    rows = []
    for category in ERROR_CLASSES:
        part = errors[errors["category"] == category]
        rows.append(
            {
                "category": category,
                "count": len(part),
                "sentences": sorted({int(s) for s in part["sentence"]}),
            }
        )
    return pd.DataFrame(rows, columns=["category", "count", "sentences"])


def predict_by_lookup(train_tokens: Sequence[Sequence[str]], train_tags: Sequence[Sequence[str]],
                      tokens_list: Sequence[Sequence[str]]) -> list[list[str]]:
    """The CoNLL baseline: each word gets the tag it had most often in training (unseen words: O).

    Words are matched as written, then lower-cased; B-/I- is repaired so entities stay valid IOB2.
    """
    from collections import Counter


    seen: dict[str, Counter[str]] = {}
    for tokens, tags in zip(train_tokens, train_tags, strict=True):
        for token, tag in zip(tokens, tags, strict=True):
            for key in (token, token.lower()):
                seen.setdefault(key, Counter())[tag] += 1
    predicted = []
    for tokens in tokens_list:
        tags = []
        for token in tokens:
            counts = seen.get(token) or seen.get(token.lower())
            tags.append(counts.most_common(1)[0][0] if counts else "O")
        predicted.append(to_iob2(tags))
    return predicted
