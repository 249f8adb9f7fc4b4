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


# Scripts written without spaces: tokens are characters, chosen per example from the reference.
CJK_THAI = [  # (answer, reference, language): close paraphrases that share most characters
    ("我很好谢谢你。", "我很好谢谢。", "Chinese"),
    ("今日は晴れでいい天気です", "今日はいい天気ですね", "Japanese"),
    ("วันนี้อากาศดีมาก", "วันนี้อากาศดี", "Thai"),
]


@pytest.mark.parametrize(("answer", "reference", "language"), CJK_THAI)
def test_unspaced_scripts_score_by_character(answer: str, reference: str, language: str) -> None:
    scores = am.score_example(answer, reference)
    assert scores["tokenizer"] == am.CHARACTERS
    assert 0.5 < scores["rouge_l"] < 1.0 and 0.5 < scores["token_f1"] < 1.0
    # the same text scored by words is one long "word" each: zero, the defect this replaces
    assert am.token_f1(answer, reference, am.WORDS) == 0.0
    if language != "Thai":  # ``\w+`` cuts Thai at its vowel signs into arbitrary pieces
        assert am.rouge_l(answer, reference, am.WORDS) == 0.0
    assert am.language_of(reference) == language
    same = am.score_example(reference + "！", reference)
    assert same["exact_match"] == 1.0 and same["rouge_l"] == pytest.approx(1.0)


@pytest.mark.parametrize(("answer", "reference"), [
    ("今天下雨了", "我喜欢猫"), ("東京へ行きます", "りんごを食べる"), ("แมวกินปลา", "ฉันไปโรงเรียน")])
def test_unrelated_answers_in_unspaced_scripts_still_score_low(answer: str, reference: str) -> None:
    scores = am.score_example(answer, reference)
    assert scores["tokenizer"] == am.CHARACTERS
    assert scores["rouge_l"] < 0.25 and scores["token_f1"] < 0.25
    assert scores["exact_match"] == 0.0 and scores["contains"] == 0.0


def test_character_tokens_keep_latin_words_and_thai_marks_whole() -> None:
    assert am.character_tokens("我用Python 3写代码。") == ["我", "用", "python", "3", "写", "代", "码"]
    assert am.character_tokens("ที่ไม่") == ["ที่", "ไ", "ม่"]  # vowel and tone marks join their consonant
    rows = am.score_example("答案是北京", "北京")
    assert rows["contains"] == 1.0 and rows["exact_match"] == 0.0
    assert am.score_example("北京大学", "京大")["contains"] == 1.0  # characters, not words
    # Latin text keeps the word tokenizer, and its scores, exactly as before
    assert am.tokenizer_for("The capital is Paris") == am.WORDS
    assert am.score_example("Parisian food", "Paris")["contains"] == 0.0


def test_rouge_l_by_character_matches_the_library_on_the_same_tokens() -> None:
    answer, reference = "我今天很高兴见到你", "今天见到你我很高兴"
    expected = rouge_scorer.RougeScorer(["rougeL"], tokenizer=am.CharacterTokenizer()).score(
        reference, answer)["rougeL"].fmeasure
    lcs = 5  # 今天 + 见到你 (or 今天 + 很高兴): 5 of 9 characters each side
    assert am.rouge_l(answer, reference) == pytest.approx(expected) == pytest.approx(lcs / 9)


def test_summary_says_how_each_language_was_tokenised() -> None:
    answers = ["我很好", "今日は晴れ", "fine thanks"]
    refs = ["我很好，谢谢", "今日はいい天気", "I am fine thanks"]
    rows, summary = am.score_answers(answers, refs)
    assert [r["tokenizer"] for r in rows] == ["characters", "characters", "words"]
    assert summary["tokenization"] == {"characters (Chinese)": 1, "characters (Japanese)": 1, "words": 1}
    assert "tokenizer" not in summary["metrics"]
    note = am.tokenization_note(summary)
    assert "by character for Chinese (1 of 3 examples)" in note and "by word (1 of 3" in note
    assert am.tokenization_note({"tokenization": {"characters (Chinese)": 87}}).startswith(
        "ROUGE-L, token F1, exact match and \"contains\" scored by character for Chinese (")


def test_chinese_labels_are_found_inside_an_answer() -> None:
    refs = ["正面", "负面", "正面", "负面", "正面"]
    answers = ["正面", "这是负面的评价", "负面", "正面还是负面", "我认为是正面"]
    rows, summary = am.score_answers(answers, refs)
    assert summary["kind"] == "labels"
    assert [r["label_accuracy"] for r in rows] == [1.0, 1.0, 0.0, 0.0, 1.0]
