"""Scores of generated answers against reference answers, each with a 95 % bootstrap interval.

Per example: exact match and "contains" after normalisation (lower case, NFKC, punctuation and
the articles a/an/the removed, spaces collapsed), token F1 over the normalised tokens, ROUGE-L F
(``rouge-score``'s longest common subsequence over the same kind of tokens) and chrF
(``sacrebleu``'s sentence chrF, divided by 100). Where the references are short labels, label
accuracy over the label set; where they are JSON objects, JSON validity and field accuracy (the
share of the reference's top-level fields whose value the answer repeats). A metric is the mean
over examples; its interval is the 2.5th and 97.5th percentile of that mean over bootstrap
resamples of the examples. Everything a reader needs to recompute it is in the per-example rows.

Tokens fit the script of each example's reference (``tokenizer_for``): words where the script
separates words with spaces; for Chinese, Japanese, Thai and the other scripts written without
spaces, one token per character (a base letter with its combining marks), while runs of Latin
letters or digits inside such text stay whole words. That is the "mixed segmentation" that MLQA
and CLUE score Chinese answers with. A dictionary word segmenter (jieba, MeCab, PyThaiNLP) was
left out on purpose: one per language, large dictionaries, and jieba has had no release since
2020; characters need no dependency and score every unspaced script the same way. Each row
records its ``tokenizer`` ("words" or "characters") and the summary counts them per language.
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

from core.tasks.intervals import bootstrap_mean_interval
from core.text.scripts import UNSPACED, guess_language, script_counts, script_of

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


WORDS, CHARACTERS = "words", "characters"
TOKENIZER_TITLES = {WORDS: "by word", CHARACTERS: "by character"}


def tokenizer_for(reference: str, answer: str = "") -> str:
    """CHARACTERS when most letters of the reference (else of the answer) are of a script written
    without spaces (Chinese, Japanese, Thai, Lao, Khmer, Myanmar), else WORDS."""
    for text in (reference, answer):
        counts = script_counts([str(text or "")], limit_chars=2000)
        total = sum(counts.values())
        if total:
            unspaced = sum(v for k, v in counts.items() if k in UNSPACED)
            return CHARACTERS if unspaced / total >= 0.5 else WORDS
    return WORDS


def language_of(text: str) -> str | None:
    """The language a text's script points to ('Chinese', 'Japanese', 'Thai', …), if any."""
    return guess_language(script_counts([str(text or "")], limit_chars=2000))


def character_tokens(text: str) -> list[str]:
    """One token per character of an unspaced script (with its combining marks), whole runs of other
    letters and digits; punctuation and spaces separate and are dropped. Text is normalised first."""
    out: list[str] = []
    word = ""
    for ch in normalise(text):
        if unicodedata.category(ch).startswith("M"):  # a vowel sign or tone mark joins its letter
            if word:
                word += ch
            elif out:
                out[-1] += ch
            continue
        if script_of(ch) in UNSPACED:
            if word:
                out.append(word)
                word = ""
            out.append(ch)
        elif ch.isalnum() or ch == "_":
            word += ch
        elif word:
            out.append(word)
            word = ""
    if word:
        out.append(word)
    return out


def tokens(text: str, tokenizer: str = WORDS) -> list[str]:
    """The tokens token F1, exact match and "contains" compare: normalised words, or characters."""
    return character_tokens(text) if tokenizer == CHARACTERS else normalise(text).split()


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return bool(n) and any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def token_f1(answer: str, reference: str, tokenizer: str | None = None) -> float:
    """F1 of the tokens the answer shares with the reference (1 when both are empty)."""
    how = tokenizer or tokenizer_for(reference, answer)
    a, r = tokens(answer, how), tokens(reference, how)
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


class CharacterTokenizer:
    """``character_tokens`` for rouge-score: one token per character of an unspaced script."""

    def tokenize(self, text: str) -> list[str]:
        return character_tokens(text)


_rouge: dict[str, Any] = {}


def rouge_l(answer: str, reference: str, tokenizer: str | None = None) -> float:
    """ROUGE-L F-measure (longest common subsequence of words, or of characters for unspaced scripts)."""
    how = tokenizer or tokenizer_for(reference, answer)
    if how not in _rouge:
        from rouge_score import rouge_scorer

        splitter = CharacterTokenizer() if how == CHARACTERS else WordTokenizer()
        _rouge[how] = rouge_scorer.RougeScorer(["rougeL"], tokenizer=splitter)
    return float(_rouge[how].score(reference, answer)["rougeL"].fmeasure)


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
    """The label an answer names: equal after normalisation, else the one label it starts with or
    contains (whole words, or whole characters for labels in an unspaced script)."""
    norm = normalise(answer)
    by_norm = {normalise(lab): lab for lab in labels}
    if norm in by_norm:
        return by_norm[norm]
    how = {lab: tokenizer_for(lab) for lab in labels}
    got = {h: tokens(answer, h) for h in set(how.values())}
    parts = {lab: tokens(lab, h) for lab, h in how.items()}
    for test in (lambda lab: got[how[lab]][:len(parts[lab])] == parts[lab],
                 lambda lab: _contains(got[how[lab]], parts[lab])):
        found = [lab for lab in labels if parts[lab] and test(lab)]
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
                  labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Every metric that applies to one answer, each between 0 and 1, and the ``tokenizer`` used."""
    how = tokenizer_for(reference, answer)
    toks_a, toks_r = tokens(answer, how), tokens(reference, how)
    scores: dict[str, Any] = {
        "exact_match": float(toks_a == toks_r), "contains": float(_contains(toks_a, toks_r)),
        "token_f1": token_f1(answer, reference, how), "rouge_l": rouge_l(answer, reference, how),
        "chrf": chrf(answer, reference), "tokenizer": how}
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
    return bootstrap_mean_interval(values, seed, samples)


def summarise(rows: Sequence[dict[str, Any]], seed: int = 0) -> dict[str, dict[str, float | None]]:
    """Per metric: mean, 95 % interval and count over the examples that have it (numbers only)."""
    names = [m for m in dict.fromkeys(k for r in rows for k, v in r.items()
                                       if isinstance(v, int | float) and not isinstance(v, bool))]
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
                  "metrics": summarise(rows, seed), "examples": len(rows),
                  "tokenization": tokenization(rows, references)}


def tokenization(rows: Sequence[dict[str, Any]], references: Sequence[str]) -> dict[str, int]:
    """How many examples were scored each way: {"characters (Chinese)": 87, "words": 3}."""
    counts: Counter[str] = Counter()
    for row, ref in zip(rows, references, strict=True):
        how = str(row.get("tokenizer") or WORDS)
        language = language_of(ref) if how == CHARACTERS else None
        counts[f"{how} ({language})" if language else how] += 1
    return dict(counts.most_common())


def tokenization_phrases(summary: dict[str, Any]) -> list[str]:
    """["by character for Chinese (87 of 90 examples)", "by word (3 of 90 examples)"] from a summary."""
    counts = dict(summary.get("tokenization") or {})
    total = sum(counts.values())
    parts = []
    for key, n in counts.items():
        how, _, language = key.partition(" (")
        what = "by character" + (f" for {language.rstrip(')')}" if language else "") if how == CHARACTERS \
            else "by word"
        parts.append(what if n == total else f"{what} ({n} of {total} examples)")
    return parts


def tokenization_note(summary: dict[str, Any]) -> str:
    """A sentence saying how ROUGE-L, token F1, exact match and "contains" split the text, or ''."""
    parts = tokenization_phrases(summary)
    if not parts:
        return ""
    return ("ROUGE-L, token F1, exact match and \"contains\" scored " + "; ".join(parts)
            + " (chrF always compares character n-grams).")


def paired_gain(a: Sequence[float], b: Sequence[float], seed: int = 0) -> dict[str, float | None]:
    """Mean of a − b over the same examples, with a 95 % bootstrap interval of that mean."""
    diffs = [x - y for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    if not diffs:
        return {"mean": None, "low": None, "high": None, "n": 0}
    low, high = bootstrap_interval(diffs, seed)
    return {"mean": float(np.mean(diffs)), "low": low, "high": high, "n": len(diffs)}
