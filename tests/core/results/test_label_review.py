"""Checking a run's labels, and two runs on two versions compared on the same test rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.data import datasets, relabel
from core.errors import ConfigError, UserError
from core.results import compare, label_review, verdict
from core.results.evaluation import store_evaluation
from core.training import service as training
from tests.pages.seed import save_labelled_reviews, seed_predicted_run
from tests.training_data import RecordingLauncher

LABELS = ["fresh", "rotten"]


_version = save_labelled_reviews
_finished_run = seed_predicted_run


def _test_rows(dataset_id: int) -> list[int]:
    frame = datasets.load_dataset_frame(dataset_id)
    return [i + 1 for i in frame.index[frame["split"] == "test"]]


def test_the_rows_to_check_are_the_wrong_ones_and_a_sample_of_the_right(home: Path) -> None:
    v1 = _version()
    test = datasets.load_dataset_frame(v1.id, "test")
    predicted = list(test["label"])
    predicted[2] = "rotten" if predicted[2] == "fresh" else "fresh"
    predicted[5] = "rotten" if predicted[5] == "fresh" else "fresh"
    run = _finished_run(v1.id, predicted)
    rows = _test_rows(v1.id)
    relabel.record_check(v1.id, rows[5], predicted[5], reviewer="ada", run_id=run.id)

    review = label_review.label_review(run.id, "test", right_sample=4)

    assert review.wrong == 2 and len(review.rows) == 6
    wrong = review.rows[~review.rows["correct"]]
    assert wrong["row"].tolist() == [rows[2], rows[5]]  # most confident first
    assert wrong["stored"].tolist() == [test.at[2, "label"], test.at[5, "label"]]
    assert wrong["predicted"].tolist() == [predicted[2], predicted[5]]
    assert wrong["checks"].tolist() == ["", f"ada: should be {predicted[5]}"]
    assert review.labels == LABELS
    assert label_review.summary_sentence(review).startswith("1 row checked by 1 person: 1 label to fix")


def test_predictions_that_do_not_line_up_with_the_rows_are_refused(home: Path) -> None:
    v1 = _version()
    test = datasets.load_dataset_frame(v1.id, "test")
    run = _finished_run(v1.id, list(test["label"]))
    shuffled = label_review.read_predictions(run.id).iloc[::-1].reset_index(drop=True)
    store_evaluation(run.id, "test", "run", {}, shuffled)
    with pytest.raises(UserError, match="do not line up"):
        label_review.label_review(run.id)


def test_two_versions_are_compared_on_the_same_rows_against_the_newest_labels(home: Path) -> None:
    v1 = _version()
    rows = _test_rows(v1.id)
    truth_v1 = list(datasets.load_dataset_frame(v1.id, "test")["label"])
    flip = {"fresh": "rotten", "rotten": "fresh"}
    # Two labels of v1's test split are wrong: people fix them, and v2 has the right ones.
    relabel.record_check(v1.id, rows[0], flip[truth_v1[0]], reviewer="ada")
    relabel.record_check(v1.id, rows[1], flip[truth_v1[1]], reviewer="bob")
    old = _finished_run(v1.id, list(truth_v1))            # learnt the wrong labels of rows 0 and 1
    v2 = relabel.make_fixed_version(v1.id, from_run=old.id)
    truth_v2 = list(datasets.load_dataset_frame(v2.id, "test")["label"])
    new_predicted = list(truth_v2)
    new_predicted[3] = flip[new_predicted[3]]             # right on the fixed rows, wrong on one other
    new = _finished_run(v2.id, new_predicted)

    same = compare.same_rows_comparison(old.id, new.id)

    n = len(rows)
    assert (same.examples, same.labels_from, same.changed_in_split) == (n, v2.label, 2)
    assert same.score_a == pytest.approx((n - 2) / n) and same.score_b == pytest.approx((n - 1) / n)
    assert same.gain == pytest.approx(1 / n)
    assert same.low is not None and same.low <= same.gain <= same.high
    note = compare.version_note([new.id, old.id])
    assert note is not None and note.related
    assert note.sentence == f"Run {old.id} trained on reviews v1, run {new.id} on v2 (2 labels fixed)."
    assert [s.run_b for s in note.same_rows] == [new.id]
    said = verdict.same_rows_verdict(same).sentence
    assert said.startswith(f"On the same {n} test rows, scored against the labels of reviews v2, "
                           f"run {new.id} is")
    assert "interval" in said
    assert compare.version_note([old.id, _finished_run(v1.id, truth_v1).id]) is None


def test_train_again_uses_the_checked_runs_settings_on_the_new_version(home: Path) -> None:
    v1 = _version()
    rows = _test_rows(v1.id)
    truth = list(datasets.load_dataset_frame(v1.id, "test")["label"])
    parent = _finished_run(v1.id, truth, name="first try")
    relabel.record_check(v1.id, rows[0], "rotten" if truth[0] == "fresh" else "fresh", reviewer="ada")
    v2 = relabel.make_fixed_version(v1.id, from_run=parent.id)
    launcher = RecordingLauncher()

    again = training.train_again(v2.id, created_by="grace", launcher=launcher)

    assert (again.dataset_id, again.model_key, again.task, again.status) == (v2.id, "minilm-l6",
                                                                             "classification", "queued")
    assert again.config["max_steps"] == 7 and again.config["learning_rate"] == 3e-5
    assert again.name == "first try on v2" and again.created_by == "grace"
    with pytest.raises(ConfigError, match="not made from labels checked on a run"):
        training.train_again(v1.id, launcher=launcher)
