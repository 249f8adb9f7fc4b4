"""The seqeval report equals a hand-computed one; each error class on a hand-made case."""

from __future__ import annotations

import pandas as pd
import pytest

from core.tasks.ner_eval import (
    classify_entity_errors,
    entity_report,
    error_summary,
    f1_by_type,
    predict_by_lookup,
    report_metrics,
    token_confusion,
)

Y_TRUE = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER"]]
Y_PRED = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O", "O"]]


def test_entity_report_equals_the_hand_computed_table():
    # Gold: PER x2, LOC x1, ORG x1. Predicted: PER x1 (right), ORG x2 (one right).
    expected = pd.DataFrame(
        {
            "precision": [0.0, 0.5, 1.0, 2 / 3, 0.5, (2 * 1 + 0 + 0.5) / 4],
            "recall": [0.0, 1.0, 0.5, 0.5, 0.5, (2 * 0.5 + 0 + 1) / 4],
            "f1": [0.0, 2 / 3, 2 / 3, 4 / 7, 4 / 9, (2 * 2 / 3 + 0 + 2 / 3) / 4],
            "support": [1, 1, 2, 4, 4, 4],
        },
        index=pd.Index(["LOC", "ORG", "PER", "micro avg", "macro avg", "weighted avg"], name="type"),
    )
    report = entity_report(Y_TRUE, Y_PRED)
    pd.testing.assert_frame_equal(report, expected, check_exact=False, atol=1e-9)
    assert report_metrics(report) == pytest.approx(
        {"entity_f1": 4 / 7, "entity_precision": 2 / 3, "entity_recall": 0.5, "entity_macro_f1": 4 / 9}
    )
    assert list(f1_by_type(report)["type"]) == ["PER", "ORG", "LOC"]  # a tie goes to the larger support


def test_strict_mode_does_not_count_an_entity_that_starts_with_i():
    y_true, y_pred = [["B-PER", "I-PER", "O"]], [["I-PER", "I-PER", "O"]]
    assert entity_report(y_true, y_pred).loc["PER", "f1"] == 1.0  # conlleval reads I- after O as a start
    assert entity_report(y_true, y_pred, strict=True).loc["PER", "f1"] == 0.0


def test_entity_report_without_any_entity_is_all_zero():
    report = entity_report([["O", "O"]], [["O", "O"]])
    assert list(report.index) == ["micro avg", "macro avg", "weighted avg"]
    assert report["f1"].sum() == 0 and report["support"].sum() == 0


def test_token_confusion_counts_gold_rows_against_predicted_columns():
    table = token_confusion(Y_TRUE, Y_PRED)
    assert list(table.index) == ["O", "B-LOC", "B-ORG", "B-PER", "I-PER"]
    assert table.loc["B-LOC", "B-ORG"] == 1 and table.loc["B-PER", "O"] == 1
    assert table.loc["O", "O"] == 2 and int(table.to_numpy().sum()) == 7
    by_type = token_confusion(Y_TRUE, Y_PRED, by_type=True)
    assert by_type.loc["PER", "PER"] == 2 and list(by_type.columns) == ["O", "LOC", "ORG", "PER"]


def test_each_error_class_on_hand_made_sentences():
    tokens = [
        ["Ann", "called", "us"],
        ["Bob", "Lee", "paid"],
        ["New", "York", "City"],
        ["on", "Monday"],
        ["thanks", "a", "lot"],
        ["Ann", "Lee", "Corp"],
    ]
    gold = [
        ["B-PER", "O", "O"],
        ["B-PER", "I-PER", "O"],
        ["B-LOC", "I-LOC", "I-LOC"],
        ["O", "B-DATE"],
        ["O", "O", "O"],
        ["B-PER", "I-PER", "O"],
    ]
    pred = [
        ["B-PER", "O", "O"],
        ["B-ORG", "I-ORG", "O"],
        ["B-LOC", "I-LOC", "B-LOC"],
        ["O", "O"],
        ["B-PER", "O", "O"],
        ["O", "B-ORG", "I-ORG"],
    ]
    errors = classify_entity_errors(tokens, gold, pred)

    def text(value):
        return None if pd.isna(value) else value

    got = [(r.sentence, r.category, text(r.gold_text), text(r.pred_text)) for r in errors.itertuples()]
    assert got == [
        (0, "correct", "Ann", "Ann"),
        (1, "wrong type", "Bob Lee", "Bob Lee"),
        (2, "wrong boundary", "New York City", "New York"),
        (2, "wrong boundary", None, "City"),  # the second fragment of the split entity
        (3, "missed", "Monday", None),
        (4, "spurious", None, "thanks"),
        (5, "wrong type", "Ann Lee", "Lee Corp"),  # overlap + another type counts as a type error
    ]
    assert errors.loc[1, "gold_type"] == "PER" and errors.loc[1, "pred_type"] == "ORG"
    assert (errors.loc[4, "gold_start"], errors.loc[4, "gold_end"]) == (1, 2)
    summary = error_summary(errors).set_index("category")
    assert summary["count"].to_dict() == {
        "correct": 1,
        "wrong type": 2,
        "wrong boundary": 2,
        "missed": 1,
        "spurious": 1,
    }
    assert summary.loc["wrong type", "sentences"] == [1, 5]
    # The gold rows add up to the gold entities; the correct rows to seqeval's true positives.
    assert errors["gold_type"].notna().sum() == 5
    assert entity_report(gold, pred).loc["micro avg", "recall"] == pytest.approx(1 / 5)


def test_lookup_baseline_tags_each_word_with_its_most_frequent_training_tag():
    train_tokens = [["Anna", "met", "Bob"], ["anna", "left"], ["Bob", "Lee", "paid"]]
    train_tags = [["B-PER", "O", "B-PER"], ["B-PER", "O"], ["B-PER", "I-PER", "O"]]
    predicted = predict_by_lookup(train_tokens, train_tags, [["ANNA", "Lee", "Bob", "Lee", "unknown"]])
    # 'ANNA' is found by its lower case; 'Lee' was I-PER, so it continues the entity before it.
    assert predicted == [["B-PER", "I-PER", "B-PER", "I-PER", "O"]]
    assert predict_by_lookup(train_tokens, train_tags, [["Lee", "met"]]) == [["B-PER", "O"]]  # repaired
