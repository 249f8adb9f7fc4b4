"""Scores of generated answers against reference answers, each with a 95 % bootstrap interval.

Per example: exact match and "contains" after normalisation (lower case, NFKC, punctuation and
the articles a/an/the removed, spaces collapsed), token F1 over the normalised words, ROUGE-L F
(``rouge-score``, with a Unicode word tokenizer so non-Latin scripts are not dropped) and chrF
(``sacrebleu``'s sentence chrF, divided by 100). Where the references are short labels, label
accuracy over the label set; where they are JSON objects, JSON validity and field accuracy (the
share of the reference's top-level fields whose value the answer repeats). A metric is the mean
over examples; its interval is the 2.5th and 97.5th percentile of that mean over bootstrap
resamples of the examples. Everything a reader needs to recompute it is in the per-example rows.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

BOOTSTRAP_SAMPLES = 1000
TEXT_METRICS = ("exact_match", "contains", "token_f1", "rouge_l", "chrf")
LABEL_METRICS = ("label_accuracy",)
JSON_METRICS = ("json_valid", "json_field_accuracy")
METRIC_TITLES = {"exact_match": "Exact match", "contains": "Contains the reference", "token_f1": "Token F1",
                 "rouge_l": "ROUGE-L", "chrf": "chrF", "label_accuracy": "Label accuracy",
                 "json_valid": "Valid JSON", "json_field_accuracy": "JSON field accuracy",
                 "judge": "Judge score"}
MAX_LABELS = 20
MAX_LABEL_WORDS = 4
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation + "“”‘’«»¿¡…")
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


def normalise(text: str) -> str:
    """Lower case, NFKC, no punctuation, no English articles, single spaces."""
    text = unicodedata.normalize("NFKC", str(text or "")).lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(answer: str, reference: str) -> float:
    """F1 of the normalised words the answer shares with the reference (1 when both are empty)."""
    a, r = normalise(answer).split(), normalise(reference).split()
    if not a or not r:
        return float(a == r)
    common = sum((Counter(a) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(a), common / len(r)
    return 2 * precision * recall / (precision + recall)


class WordTokenizer:
    """Lower-cased ``\\w+`` words: rouge-score's default keeps only a-z and 0-9, which drops other scripts."""

    def tokenize(self, text: str) -> list[str]:
        return re.findall(r"\w+", unicodedata.normalize("NFKC", text).lower())


_rouge: Any = None


def rouge_l(answer: str, reference: str) -> float:
    """ROUGE-L F-measure (longest common subsequence of words)."""
    global _rouge
    if _rouge is None:
        from rouge_score import rouge_scorer

        _rouge = rouge_scorer.RougeScorer(["rougeL"], tokenizer=WordTokenizer())
    return float(_rouge.score(reference, answer)["rougeL"].fmeasure)


_chrf: Any = None


def chrf(answer: str, reference: str) -> float:
    """sacrebleu's sentence-level chrF (character n-grams, β = 2) on a 0–1 scale."""
    global _chrf
    if _chrf is None:
        from sacrebleu.metrics import CHRF

        _chrf = CHRF()
    return float(_chrf.sentence_score(answer, [reference]).score) / 100.0


def label_set(references: Sequence[str]) -> list[str] | None:
    """The labels when every reference is a short label from a small repeated set, else None."""
    refs = [str(r).strip() for r in references]
    distinct = sorted(set(refs))
    if len(refs) < 4 or not 2 <= len(distinct) <= MAX_LABELS or len(distinct) > len(refs) / 2:
        return None
    if any(not r or len(r.split()) > MAX_LABEL_WORDS for r in distinct):
        return None
    return distinct


def answer_label(answer: str, labels: Sequence[str]) -> str | None:
    """The label an answer names: equal after normalisation, else the one label it starts with or contains."""
    norm = normalise(answer)
    by_norm = {normalise(lab): lab for lab in labels}
    if norm in by_norm:
        return by_norm[norm]
    for test in (lambda n: norm.startswith(n + " "), lambda n: f" {n} " in f" {norm} "):
        found = [lab for n, lab in by_norm.items() if n and test(n)]
        if len(found) == 1:
            return found[0]
    return None


def parse_json(text: str) -> Any:
    """The JSON value of a text (a ```json fence around it is allowed), or None when it is not JSON."""
    body = str(text or "").strip()
    fenced = _FENCE.match(body)
    try:
        return json.loads(fenced.group(1) if fenced else body)
    except (ValueError, TypeError):
        return None


def is_json_task(references: Sequence[str]) -> bool:
    """True when at least 80 % of the references are JSON objects."""
    objects = sum(isinstance(parse_json(r), dict) for r in references)
    return bool(references) and objects >= 0.8 * len(references)


def json_scores(answer: str, reference: str) -> dict[str, float]:
    """Validity of the answer's JSON and the share of the reference's fields it repeats exactly."""
    got, want = parse_json(answer), parse_json(reference)
    valid = float(got is not None)
    if not isinstance(want, dict) or not want:
        return {"json_valid": valid, "json_field_accuracy": float(got == want)}
    same = sum(isinstance(got, dict) and k in got and got[k] == v for k, v in want.items())
    return {"json_valid": valid, "json_field_accuracy": same / len(want)}


def kind_of(references: Sequence[str]) -> tuple[str, list[str] | None]:
    """'labels' (with the label set), 'json' or 'text': which extra metrics apply."""
    labels = label_set(references)
    if labels:
        return "labels", labels
    return ("json", None) if is_json_task(references) else ("text", None)


def score_example(answer: str, reference: str, kind: str = "text",
                  labels: Sequence[str] | None = None) -> dict[str, float]:
    """Every metric that applies to one answer, each between 0 and 1."""
    norm_a, norm_r = normalise(answer), normalise(reference)
    scores = {"exact_match": float(norm_a == norm_r),
              "contains": float(bool(norm_r) and f" {norm_r} " in f" {norm_a} "),
              "token_f1": token_f1(answer, reference), "rouge_l": rouge_l(answer, reference),
              "chrf": chrf(answer, reference)}
    if kind == "labels" and labels:
        scores["label_accuracy"] = float(answer_label(answer, labels) == str(reference).strip())
    elif kind == "json":
        scores.update(json_scores(answer, reference))
    return scores


def headline_metric(kind: str) -> str:
    """The metric worth the big number: label accuracy, JSON field accuracy, or ROUGE-L for free text."""
    return {"labels": "label_accuracy", "json": "json_field_accuracy"}.get(kind, "rouge_l")


def bootstrap_interval(values: Sequence[float], seed: int = 0,
                       samples: int = BOOTSTRAP_SAMPLES) -> tuple[float | None, float | None]:
    """95 % percentile interval of the mean of ``values`` over resamples of the examples."""
    data = np.asarray([v for v in values if v is not None], dtype=float)
    if len(data) == 0:
        return None, None
    if len(data) == 1:
        return float(data[0]), float(data[0])
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(samples, len(data)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def summarise(rows: Sequence[dict[str, float]], seed: int = 0) -> dict[str, dict[str, float | None]]:
    """Per metric: mean, 95 % interval and count over the examples that have it."""
    names = [m for m in dict.fromkeys(k for r in rows for k in r)]
    out: dict[str, dict[str, float | None]] = {}
    for name in names:
        values = [float(r[name]) for r in rows if r.get(name) is not None]
        low, high = bootstrap_interval(values, seed)
        out[name] = {"mean": float(np.mean(values)) if values else None, "low": low, "high": high,
                     "n": len(values)}
    return out


def score_answers(answers: Sequence[str], references: Sequence[str], seed: int = 0
                  ) -> tuple[list[dict[str, float]], dict[str, Any]]:
    """Per-example scores and the summary {kind, labels, headline, metrics: {name: mean/low/high/n}}."""
    if len(answers) != len(references):
        raise ValueError("answers and references differ in length")
    kind, labels = kind_of(references)
    rows = [score_example(a, r, kind, labels) for a, r in zip(answers, references, strict=True)]
    return rows, {"kind": kind, "labels": labels or [], "headline": headline_metric(kind),
                  "metrics": summarise(rows, seed), "examples": len(rows)}


def paired_gain(a: Sequence[float], b: Sequence[float], seed: int = 0) -> dict[str, float | None]:
    """Mean of a − b over the same examples, with a 95 % bootstrap interval of that mean."""
    diffs = [x - y for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    if not diffs:
        return {"mean": None, "low": None, "high": None, "n": 0}
    low, high = bootstrap_interval(diffs, seed)
    return {"mean": float(np.mean(diffs)), "low": low, "high": high, "n": len(diffs)}
