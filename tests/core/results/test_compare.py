"""Compare runs: curves, final metrics with deltas and best, config diff, flip analysis."""

from __future__ import annotations

import pandas as pd
import pytest
from fake_runs import add_dataset, add_predictions, add_run

from core.errors import NotFoundError, UserError
from core.results import compare


def test_config_diff_shows_only_what_differs() -> None:
    diff = compare.config_diff({
        "#1": {"epochs": 3, "lr": 5e-5, "task_options": {"a": 1, "b": 2}},
        "#2": {"epochs": 3, "lr": 1e-4, "task_options": {"a": 1, "b": 3}, "lora": True},
    })
    assert list(diff.index) == ["lora", "lr", "task_options.b"]
    assert diff.loc["lora"].tolist() == ["—", "True"]
    assert diff.loc["lr"].tolist() == ["5e-05", "0.0001"]


def test_metric_direction() -> None:
    assert compare.higher_is_better("accuracy") and compare.higher_is_better("eval_macro_f1")
    assert not compare.higher_is_better("loss") and not compare.higher_is_better("rmse")


def test_compare_runs_curves_final_deltas_best(home) -> None:
    ds = add_dataset()
    r1 = add_run(ds, accuracy=0.80, steps=10)
    r2 = add_run(ds, accuracy=0.90, steps=4, name="bigger lr", config={"epochs": 3.0, "learning_rate": 1e-4,
                                                                       "batch_size": 16})
    result = compare.compare_runs([r1, r2])
    labels = result.runs["run"].tolist()
    assert labels == [f"Run {r1}", f"Run {r2} · bigger lr"]
    # Curves of both runs, with step and epoch so runs of different lengths line up.
    assert set(result.curves["run"]) == set(labels)
    assert {"step", "epoch", "split", "name", "value"} <= set(result.curves.columns)
    assert result.curves[result.curves["run_id"] == r2]["epoch"].max() == pytest.approx(3.0)
    # Final metrics from the test evaluation; deltas against the first run; best per direction.
    assert result.final.loc["accuracy"].tolist() == pytest.approx([0.8, 0.9])
    assert result.deltas.loc["accuracy"].tolist() == pytest.approx([0.0, 0.1])
    assert result.best["accuracy"] == labels[1]
    assert result.best["loss"] == labels[1]  # 0.1 < 0.2: lower is better
    assert "n" not in result.final.index and "confusion_matrix" not in result.final.index
    assert result.final_source[labels[0]] == "test"
    assert list(result.config_diff.index) == ["learning_rate"]
    assert result.same_dataset


def test_compare_falls_back_to_logged_validation_metrics(home) -> None:
    from core.store import orm
    from core.store.db import session_scope

    ds = add_dataset()
    r1, r2 = add_run(ds, accuracy=0.6), add_run(ds, accuracy=0.7)
    with session_scope(write=True) as s:
        s.query(orm.Evaluation).filter_by(run_id=r2).delete()
    result = compare.compare_runs([r1, r2])
    assert result.final.loc["accuracy", f"Run {r2}"] == pytest.approx(0.7)  # last logged value
    assert result.final_source[f"Run {r2}"].startswith("validation")


def test_compare_needs_two_existing_runs(home) -> None:
    ds = add_dataset()
    r1 = add_run(ds)
    with pytest.raises(UserError):
        compare.compare_runs([r1])
    with pytest.raises(NotFoundError):
        compare.compare_runs([r1, 999])


def test_flip_analysis_finds_fixed_and_broken_examples(home) -> None:
    ds = add_dataset()
    a, b = add_run(ds), add_run(ds)
    labels = ["good", "bad", "good", "bad", "good"]
    add_predictions(a, labels, ["good", "good", "bad", "bad", "bad"])  # right, wrong, wrong, right, wrong
    add_predictions(b, labels, ["good", "bad", "good", "good", "bad"])  # right, right, right, wrong, wrong
    flips = compare.flip_analysis(a, b)
    assert flips["flip"].tolist() == ["fixed", "fixed", "broken"]
    assert flips["row"].tolist() == [1, 2, 3]
    fixed = flips.iloc[0]
    assert (fixed["text"], fixed["label"], fixed["predicted_a"], fixed["predicted_b"]) == (
        "text 1", "bad", "good", "bad")


def test_flip_analysis_on_taggers_compares_whole_sentences(home) -> None:
    from core.config import get_settings
    from core.store import orm
    from core.store.db import session_scope

    ds = add_dataset(task="token-classification")
    a = add_run(ds, task="token-classification")
    b = add_run(ds, task="token-classification")
    for run, preds in ((a, [["B-PER", "O"], ["O", "O"]]), (b, [["B-PER", "O"], ["B-LOC", "O"]])):
        path = get_settings().runs_dir / f"{run}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"tokens": [["Ann", "ran"], ["Oslo", "rains"]], "tags": [["B-PER", "O"], ["B-LOC", "O"]],
                      "predicted": preds}).to_parquet(path)
        with session_scope(write=True) as s:
            s.add(orm.Evaluation(run_id=run, split="test", model="run", metrics={},
                                 predictions_path=get_settings().relative(path)))
    flips = compare.flip_analysis(a, b)
    assert flips["flip"].tolist() == ["fixed"]
    assert flips.loc[0, "text"] == "Oslo rains" and flips.loc[0, "predicted_b"] == "B-LOC O"


def test_flip_analysis_refuses_different_datasets_and_missing_predictions(home) -> None:
    a = add_run(add_dataset("one"))
    b = add_run(add_dataset("two"))
    with pytest.raises(UserError, match="different datasets"):
        compare.flip_analysis(a, b)
    same = add_dataset("three")
    c, d = add_run(same), add_run(same)
    with pytest.raises(UserError, match="no stored predictions"):
        compare.flip_analysis(c, d)


def test_runs_scored_on_different_splits_are_not_ranked_as_like_for_like(home) -> None:
    from core.results import verdict
    from core.store import orm
    from core.store.db import session_scope
    from ui.share import final_metrics_view

    ds = add_dataset()
    r1, r2 = add_run(ds, accuracy=0.7), add_run(ds, accuracy=0.9)
    with session_scope(write=True) as s:  # r2 as a sweep's trial: scored on validation only
        s.query(orm.Evaluation).filter_by(run_id=r2).update({"split": "validation"})
    result = compare.compare_runs([r1, r2])
    assert result.final_source == {f"Run {r1}": "test", f"Run {r2}": "validation"}
    assert result.split_note == (f"These runs are not scored on the same rows (Run {r1} on test; Run {r2} on "
                                 "validation), so their numbers are not like for like and none is marked "
                                 "best; compare runs scored on the same split.")
    assert result.best == {}  # no green across different rows
    assert list(final_metrics_view(result).data.columns) == [f"Run {r1} · test", f"Run {r2} · validation"]
    found = verdict.compare_verdict([r1, r2])
    assert (f"not like for like: run {r2} is scored on its validation rows, run {r1} on its test rows"
            in found.sentence)
    same = compare.compare_runs([r1, add_run(ds, accuracy=0.8)])  # both on test: ranked as before
    assert same.split_note == "" and same.best
