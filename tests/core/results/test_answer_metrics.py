"""Answer scoring: every metric on hand-checked pairs, recomputed with the libraries themselves."""

from __future__ import annotations

import numpy as np
import pytest
from rouge_score import rouge_scorer
from sacrebleu.metrics import CHRF

from core.results import answer_metrics as am


def test_normalised_exact_match_contains_and_token_f1() -> None:
    assert am.normalise("  The Capital, is PARIS! ") == "capital is paris"
    scores = am.score_example("The capital is Paris.", "Paris")
    assert scores["exact_match"] == 0.0 and scores["contains"] == 1.0
    assert scores["token_f1"] == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))  # P 1/3, R 1
    assert am.score_example("paris!", "Paris")["exact_match"] == 1.0
    assert am.score_example("Parisian food", "Paris")["contains"] == 0.0  # whole words only


def test_rouge_l_and_chrf_match_the_libraries() -> None:
    answer, reference = "the cat sat on the mat today", "a cat sat on a mat"
    scores = am.score_example(answer, reference)
    expected = rouge_scorer.RougeScorer(["rougeL"]).score(reference, answer)["rougeL"].fmeasure
    assert scores["rouge_l"] == pytest.approx(expected)  # ASCII text: the same as the default tokenizer
    assert scores["chrf"] == pytest.approx(CHRF().sentence_score(answer, [reference]).score / 100)


def test_rouge_l_keeps_non_latin_words() -> None:
    assert am.rouge_l("Привет мир", "привет мир") == pytest.approx(1.0)
    assert am.rouge_l("你好", "再见") == 0.0


def test_short_label_references_get_label_accuracy() -> None:
    refs = ["positive", "negative", "positive", "negative", "positive"]
    answers = ["Positive.", "It is negative", "negative", "positive or negative", "the answer is positive"]
    rows, summary = am.score_answers(answers, refs)
    assert summary["kind"] == "labels" and summary["labels"] == ["negative", "positive"]
    assert summary["headline"] == "label_accuracy"
    assert [r["label_accuracy"] for r in rows] == [1.0, 1.0, 0.0, 0.0, 1.0]


def test_json_references_get_validity_and_field_accuracy() -> None:
    refs = ['{"city": "Oslo", "n": 2}', '{"city": "Rome", "n": 1}', '{"city": "Lima", "n": 3}']
    answers = ['```json\n{"city": "Oslo", "n": 2}\n```', '{"city": "Rome", "n": 5}', "Lima, 3"]
    rows, summary = am.score_answers(answers, refs)
    assert summary["kind"] == "json" and summary["headline"] == "json_field_accuracy"
    assert [r["json_valid"] for r in rows] == [1.0, 1.0, 0.0]
    assert [r["json_field_accuracy"] for r in rows] == [1.0, 0.5, 0.0]


def test_bootstrap_interval_brackets_the_mean_and_is_reproducible() -> None:
    values = [1.0] * 30 + [0.0] * 70
    low, high = am.bootstrap_interval(values, seed=3)
    assert low < 0.3 < high and 0.15 < low and high < 0.45
    assert am.bootstrap_interval(values, seed=3) == (low, high)
    assert am.bootstrap_interval([0.5]) == (0.5, 0.5) and am.bootstrap_interval([]) == (None, None)


def test_summary_means_are_the_means_of_the_rows() -> None:
    answers = ["hello there", "good morning", "bye", "see you soon"]
    refs = ["hello", "good evening", "goodbye", "see you later"]
    rows, summary = am.score_answers(answers, refs, seed=1)
    for name, stats in summary["metrics"].items():
        assert stats["mean"] == pytest.approx(np.mean([r[name] for r in rows]))
        assert stats["low"] <= stats["mean"] <= stats["high"] and stats["n"] == 4


def test_paired_gain_is_the_mean_difference_with_an_interval() -> None:
    gain = am.paired_gain([1.0, 1.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0], seed=0)
    assert gain["mean"] == pytest.approx(0.5) and gain["n"] == 4
    assert 0.0 <= gain["low"] <= 0.5 <= gain["high"] <= 1.0
