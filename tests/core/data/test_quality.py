"""The quality report: each check's sentence, count and example, and what blocks saving."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.data import datasets
from core.data.datasets import SplitConfig, check_dataset, frame_to_parsed
from core.entities import Finding, QualityReport

pytestmark = pytest.mark.usefixtures("home")


def _report(frame: pd.DataFrame, mapping: dict | None = None, task: str = "classification",
            split: SplitConfig | None = None, **kw) -> QualityReport:
    mapping = mapping or {"text": "text", "label": "label"}
    return check_dataset(frame_to_parsed(frame, "t.csv"), mapping, task=task,
                         split=split or SplitConfig(), **kw)


def _codes(report: QualityReport) -> dict[str, Finding]:
    return {f.code: f for f in report.findings}


def _reviews(n: int = 200) -> pd.DataFrame:
    return pd.DataFrame({"text": [f"review {i} says the plot was {'good' if i % 2 else 'bad'}"
                                  for i in range(n)], "label": ["pos", "neg"] * (n // 2)})


def test_clean_data_has_no_blocking_finding_and_chart_stats() -> None:
    report = _report(_reviews())
    assert report.ok
    stats = report.stats
    assert stats["class_counts"] == {"neg": 100, "pos": 100}
    assert stats["split_sizes"] == {"train": 160, "validation": 20, "test": 20}
    assert sum(stats["token_lengths"]["counts"]) == 200
    assert stats["truncated_share"] == 0.0
    assert stats["tokenizer"] == "minilm-l6"
    assert _codes(report)["imbalance"].severity == "info"


def test_missing_and_empty_values_are_counted_and_left_out() -> None:
    frame = _reviews()
    frame.loc[3, "text"] = "   "
    frame.loc[5, "text"] = None
    frame.loc[7, "label"] = None
    report = _report(frame)
    text = _codes(report)["missing_text"]
    assert text.count == 2 and text.example["row"] == 4
    assert text.message == "2 rows have no text (e.g. row 4); they are left out."
    assert _codes(report)["missing_label"].count == 1
    assert report.stats["dropped"]["missing"] == 3 and report.stats["rows"] == 197


def test_exact_duplicates_are_reported_with_both_rows() -> None:
    frame = pd.concat([_reviews(), _reviews().iloc[[10, 11, 10]]], ignore_index=True)
    dup = _codes(_report(frame))["duplicates"]
    assert dup.count == 3
    assert dup.example["row"] == 201 and dup.example["same_as_row"] == 11
    assert "3 rows repeat an earlier row exactly (e.g. row 201 repeats row 11)" in dup.message


def test_same_text_in_two_splits_is_leakage() -> None:
    frame = _reviews(40)
    frame["split"] = ["train"] * 30 + ["test"] * 10
    frame.loc[35, "text"] = frame.loc[2, "text"]  # same text, other label, lands in test
    frame.loc[35, "label"] = "pos" if frame.loc[2, "label"] == "neg" else "neg"
    leak = _codes(_report(frame, split=SplitConfig(split_column="split")))["leakage"]
    assert leak.severity == "warning" and leak.count == 1
    assert "in train and test" in leak.message and "rows 3, 36" in leak.message


def test_single_class_is_blocking() -> None:
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(20)], "label": ["spam"] * 20})
    report = _report(frame)
    assert not report.ok
    assert report.blocking[0].code == "single_class"
    assert "same label 'spam'" in report.blocking[0].message


def test_small_classes_and_imbalance() -> None:
    frame = pd.DataFrame({"text": [f"text {i}" for i in range(306)],
                          "label": ["big"] * 300 + ["tiny"] * 6})
    codes = _codes(_report(frame))
    assert "'tiny' (6)" in codes["small_classes"].message
    assert codes["imbalance"].severity == "warning" and "50.0×" in codes["imbalance"].message


def test_token_lengths_and_truncated_share() -> None:
    frame = pd.DataFrame({"text": ["word " * 40] * 1 + ["short text"] * 3, "label": ["a", "b"] * 2})
    frame["text"] = [f"{t} {i}" for i, t in enumerate(frame["text"])]
    report = _report(frame, max_length=16)
    assert report.stats["truncated_share"] == 0.25
    assert report.stats["token_lengths"]["max"] >= 40
    assert "25% of inputs are longer than 16 tokens" in _codes(report)["truncation"].message


def test_token_lengths_use_a_sample_on_big_files() -> None:
    from core.models.tokenlength import TOKEN_SAMPLE

    report = _report(_reviews(3000))
    lengths = report.stats["token_lengths"]
    assert lengths["sample_size"] == TOKEN_SAMPLE and lengths["total"] == 3000
    assert (f"random sample of {TOKEN_SAMPLE:,} of 3,000 rows, so 0%–0.6% of the whole file"
            in _codes(report)["truncation"].message)


def test_unknown_model_falls_back_to_minilm_and_says_so() -> None:
    report = _report(_reviews(20), model_key="no-such-model")
    assert report.stats["tokenizer"] == "minilm-l6"
    assert "MiniLM-L6's tokenizer instead" in report.stats["tokenizer_note"]


def test_extremely_long_texts() -> None:
    frame = _reviews(20)
    frame.loc[4, "text"] = "lorem " * 3000
    long = _codes(_report(frame))["long_texts"]
    assert long.count == 1 and long.example["row"] == 5


def test_garbled_encoding_is_reported() -> None:
    frame = _reviews(40)
    frame.loc[6, "text"] = "donâ€™t buy this cafÃ© machine"
    damage = _codes(_report(frame))["encoding_damage"]
    assert damage.count == 1 and damage.example["row"] == 7
    assert "wrong encoding" in damage.message


def test_mixed_types_in_a_column() -> None:
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(40)],
                          "stars": [str(i % 5 + 1) for i in range(39)] + ["five"]})
    mixed = _codes(_report(frame, {"text": "text", "label": "stars"}))["mixed_types"]
    assert "Column 'stars' mostly holds numbers but 1 value differs (e.g. 'five' in row 40)" in mixed.message


def test_regression_labels_that_are_not_numbers() -> None:
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(30)],
                          "score": [0.5 * i for i in range(29)] + ["n/a?"]})
    report = _report(frame, {"text": "text", "label": "score"}, task="regression")
    assert _codes(report)["label_not_numeric"].count == 1
    assert report.stats["label_summary"]["max"] == 14.0


def test_constant_regression_label_is_blocking() -> None:
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(30)], "score": [3.0] * 30})
    report = _report(frame, {"text": "text", "label": "score"}, task="regression")
    assert report.blocking[0].code == "constant_label"


def test_token_rows_with_different_lengths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(datasets.TASK_CHECKS, "token-classification")
    frame = pd.DataFrame({"tokens": [["Ann", "paid"], ["Hi"], ["Bob"]] * 10,
                          "tags": [["B-PER", "O"], ["O", "O"], ["B-PER"]] * 10})
    frame["tokens"] = [t + [str(i)] for i, t in enumerate(frame["tokens"])]
    frame["tags"] = [t + ["O"] for t in frame["tags"]]
    report = _report(frame, {"tokens": "tokens", "tags": "tags"}, task="token-classification")
    mismatch = _codes(report)["token_tag_mismatch"]
    assert mismatch.count == 10 and mismatch.example["row"] == 2
    assert report.stats["rows"] == 20


def test_task_hooks_are_called_and_failures_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def check(frame: pd.DataFrame, mapping: dict, max_length: int = 0) -> list[Finding]:
        seen.update(columns=list(frame.columns), mapping=mapping, max_length=max_length)
        return [Finding("warning", "hooked", "From the hook.")]

    def broken(frame: pd.DataFrame, mapping: dict) -> list[Finding]:
        return [Finding("info", "never", str(1 / 0))]

    monkeypatch.setitem(datasets.TASK_CHECKS, "causal-lm", check)
    frame = pd.DataFrame({"q": [f"question {i}?" for i in range(30)],
                          "a": [f"answer {i}" for i in range(30)]})
    mapping = {"prompt": "q", "completion": "a", "format": "prompt_completion"}
    report = _report(frame, mapping, task="causal-lm", max_length=64)
    assert "hooked" in _codes(report)
    assert {"prompt", "completion", "split", "_row"} <= set(seen["columns"])
    assert seen["mapping"]["prompt"] == "prompt" and seen["max_length"] == 64
    monkeypatch.setitem(datasets.TASK_CHECKS, "causal-lm", broken)
    failed = _codes(_report(frame, mapping, task="causal-lm"))["check_failed"]
    assert "ZeroDivisionError" in failed.message


def test_report_round_trips_as_json(home: Path) -> None:
    import json

    report = _report(_reviews())
    assert json.loads(json.dumps(report.to_dict()))["stats"]["class_counts"]["pos"] == 100


def test_regression_on_a_text_label_is_blocked_with_a_sentence(home: Path) -> None:
    frame = pd.DataFrame({"review": ["a b", "c d", "e f", "g h"],
                          "sentiment": ["fresh", "rotten", "fresh", "rotten"]})
    report = check_dataset(frame_to_parsed(frame, "x.csv"), {"text": "review", "label": "sentiment"},
                           task="regression", split=SplitConfig())
    codes = [f.code for f in report.blocking]
    assert "label_not_numeric" in codes
    message = next(f.message for f in report.blocking if f.code == "label_not_numeric")
    assert "classification" in message and "'fresh'" in message


@pytest.mark.parametrize(("garbled", "pair"), [
    ("这部电影非常好看".encode("gbk").decode("cp1252"), "GBK (Chinese, simplified) text read as Windows"),
    ("Этот фильм хороший".encode().decode("cp1251"), "UTF-8 text read as Windows-1251"),
    ("这部电影非常好看".encode().decode("gbk"), "UTF-8 text read as GBK"),
    ("Этот фильм".encode("cp1251").decode("cp1252"), "Windows-1251 (Cyrillic) text read as Windows-1252"),
])
def test_mojibake_of_common_pairs_is_named(garbled: str, pair: str) -> None:
    frame = _reviews(40)
    frame.loc[9, "text"] = garbled
    damage = _codes(_report(frame))["encoding_damage"]
    assert damage.count == 1 and damage.example["row"] == 10
    assert pair in damage.message and "Read the file as" in damage.message


def test_real_text_in_many_scripts_is_not_mojibake() -> None:
    frame = _reviews(40)
    for i, text in enumerate(["这部电影非常好看", "Этот фильм очень хороший", "この映画はとても面白い",
                              "Très bon film, j’ai adoré", "¿Qué tal? ¡Hola!", "Žluťoučký kůň",
                              "이 영화 정말 재미있어요", "Ελληνικά γράμματα", "Grüße aus München"]):
        frame.loc[i, "text"] = text
    assert "encoding_damage" not in _codes(_report(frame))


def test_an_uncertain_encoding_guess_is_a_warning() -> None:
    from core.data.ingest import read_upload

    rows = "".join(f"review {i} was {'good' if i % 2 else 'bad'},{'pos' if i % 2 else 'neg'}\n"
                   for i in range(60))
    parsed = read_upload(("text,label\n" + rows).encode() + "café crème,neg\n".encode("cp1252"),
                         "few.csv")
    finding = _codes(check_dataset(parsed, {"text": "text", "label": "label"},
                                   task="classification", split=SplitConfig()))["encoding_uncertain"]
    assert finding.severity == "warning" and "Windows-1252" in finding.message


def test_every_task_with_its_own_checks_has_them_registered() -> None:
    from core.data import ner_checks, preference_checks
    from core.tasks import tabular

    # causal LM: the chat checks, or the pair checks for a preference dataset (preference_checks dispatches)
    assert datasets.TASK_CHECKS == {"token-classification": ner_checks.check_token_frame,
                                    "causal-lm": preference_checks.check_causal_frame,
                                    "tabular": tabular.check_tabular_frame}


def test_labels_differing_only_in_case_or_spaces_are_one_class_written_several_ways() -> None:
    frame = _reviews()
    frame["label"] = ["positive", " positive ", "POSITIVE", "negative"] * 50
    found = _codes(_report(frame))["label_variants"]
    assert found.severity == "warning"
    assert "differ only in case or spaces" in found.message and "'POSITIVE'" in found.message
    assert "where there are 2" in found.message


def test_near_copies_across_splits_and_a_tiny_test_split_are_flagged() -> None:
    rng = ["Great value and a friendly team here", "Terrible quality and it broke today"]
    frame = pd.DataFrame({"text": [f"{rng[i % 2]} order {i}" for i in range(60)],
                          "label": ["pos", "neg"] * 30})
    codes = _codes(_report(frame))
    near = codes["near_duplicates"]
    assert near.severity == "warning" and "near-cop" in near.message and "in train" in near.message
    small = codes["small_test"]
    assert small.message.startswith("The test split has only 6 rows: each one moves accuracy by 17 points")
    # texts that differ early (not only in their last words) are not near-copies
    assert "near_duplicates" not in _codes(_report(_reviews()))
