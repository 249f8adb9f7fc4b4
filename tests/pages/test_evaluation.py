"""The Evaluation page: metric cards, baselines, confusion matrix, curves and the error tables."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from streamlit.testing.v1 import AppTest

from tests.pages.seed import save_reviews, seed_evaluation, seed_run


def test_without_a_finished_run_the_page_says_so(open_page: Callable[..., AppTest]) -> None:
    at = open_page("evaluation", via_app=True)
    assert not at.exception
    assert any("No finished run" in i.value for i in at.info)


def test_classification_report(open_page: Callable[..., AppTest]) -> None:
    dataset = save_reviews()
    run = seed_run(dataset.id, status="succeeded")
    seed_evaluation(run.id)
    at = open_page("evaluation", query={"run": str(run.id)})
    assert not at.exception
    assert at.selectbox(key="evaluation_run").value == run.id
    cards = {m.label: m for m in at.metric}
    assert cards["Accuracy"].value == "75.0 %"
    assert cards["Macro F1 (classes weigh equally)"].value == "75.0 %"
    assert cards["Accuracy"].proto.delta == "+25.0 pts vs always guessing"  # gain over the stored baseline
    baselines = at.dataframe[0].value
    assert list(baselines["model"]) == [f"This model (run {run.id})", "Always guessing the most common class"]
    assert "None" not in baselines.astype(str).to_numpy().ravel().tolist()  # the run's own gain is a dash
    assert baselines["gain in Accuracy"].tolist() == ["—", "+25.0 pts"]
    averages, per_class = at.dataframe[1].value, at.dataframe[2].value
    # the per-class shares are written as the averages beside them are ("100.0 %", not 1)
    assert averages["F1"].str.endswith(" %").all() and per_class["F1"].str.endswith(" %").all()
    # A model that answers both classes is not called degenerate; on these 8 rows the one warning is
    # that its gain over guessing may be noise.
    assert [w.value.replace("\\", "") for w in at.warning] == [
        "The fine-tuned model gets the answer right 75 % of the time on 8 test rows (95 % interval "
        "41–93 %) — 25 points better than always guessing 'fresh'. On 8 rows the gain over always "
        "guessing 'fresh' may be noise: it scores 50.0 %, inside the fine-tuned model's 95 % interval."]
    # confusion matrix, ROC, PR, calibration, confidence
    assert len(at.get("plotly_chart")) == 5
    assert at.toggle(key="evaluation_normalise").value is False
    at.toggle(key="evaluation_normalise").set_value(True).run()
    assert not at.exception
    assert len(at.dataframe) == 4  # baselines, averages, per class, misclassified
    wrong = at.dataframe[-1].value
    assert len(wrong) == 2 and list(wrong["confidence"]) == sorted(wrong["confidence"], reverse=True)
    at.selectbox(key="evaluation_true_filter").set_value("fresh").run()
    wrong = at.dataframe[-1].value
    assert list(wrong["label"]) == ["fresh"] and list(wrong["predicted"]) == ["rotten"]
    # the run can be handed on from here: an offline report and the model zip
    assert at.button(key="evaluation_report").label == "Build the report"
    assert at.button(key="compare_export").label == "Prepare the zip"


def test_regression_report(open_page: Callable[..., AppTest]) -> None:
    dataset = save_reviews()
    run = seed_run(dataset.id, status="succeeded", task="regression")
    seed_evaluation(run.id, task="regression")
    at = open_page("evaluation", query={"run": str(run.id)})
    assert not at.exception
    assert {"Mean absolute error", "Root mean squared error", "R² (share of variation explained)"} <= {
        m.label for m in at.metric}
    assert len(at.get("plotly_chart")) == 2  # predicted vs actual, residuals
    worst = at.dataframe[-1].value
    assert abs(worst["error"].iloc[0]) == 2.0  # the largest error first


def test_entity_extraction_report_and_error_analysis(open_page: Callable[..., AppTest]) -> None:
    from tests.pages.seed import seed_ner_evaluation

    run = seed_run(save_reviews().id, status="succeeded", task="token-classification")
    seed_ner_evaluation(run.id)
    at = open_page("evaluation", query={"run": str(run.id)})
    assert not at.exception
    cards = {m.label: m.value for m in at.metric}
    assert cards["Entity F1 (micro)"] == "66.7 %"  # 3 of 5 gold found, 3 of 4 predicted right
    report = at.dataframe[0].value
    assert {"LOC", "ORG", "PER", "micro avg", "macro avg", "weighted avg"} <= set(report["type"])
    assert at.selectbox(key="evaluation_ner_category").options == ["wrong type", "wrong boundary", "missed",
                                                                  "spurious"]
    html = " ".join(h.proto.body for h in at.get("html"))
    assert "&lt;b&gt;met&lt;/b&gt;" in html and "<b>met" not in html  # user tokens are escaped
    at.selectbox(key="evaluation_ner_category").set_value("missed").run()
    assert list(at.dataframe[-1].value["gold_text"]) == ["Acme"]


def test_tabular_run_shows_feature_importance(open_page: Callable[..., AppTest]) -> None:
    from core.results import evaluation
    from core.tasks import metrics as M

    run = seed_run(save_reviews().id, status="succeeded", task="tabular")
    y, pred = [0, 0, 1, 1], [0, 1, 1, 1]
    metrics = M.classification_metrics(y, pred, ["a", "b"], curves=False)
    metrics["feature_importance"] = {"split": "validation", "metric": "accuracy", "rows": 4,
                                     "features": ["petal", "sepal"], "importance": [0.3, 0.01]}
    frame = pd.DataFrame({"label": ["a", "a", "b", "b"], "predicted": ["a", "b", "b", "b"],
                          "confidence": [0.9, 0.6, 0.8, 0.7]})
    frame["correct"] = frame["label"] == frame["predicted"]
    evaluation.store_evaluation(run.id, "test", "run", metrics, frame)
    at = open_page("evaluation", query={"run": str(run.id)})
    assert not at.exception
    assert {m.label for m in at.metric} >= {"Accuracy", "Macro F1 (classes weigh equally)"}
    assert any(s.value == "Which columns matter" for s in at.subheader)


def _finished(dataset_id: int, accuracy: float) -> int:
    """A succeeded run whose summary holds this test accuracy (as the worker writes it)."""
    from core.store import runs

    run = seed_run(dataset_id, status="running")
    runs.transition(run.id, "succeeded", summary={"test": {"accuracy": accuracy, "macro_f1": accuracy}})
    seed_evaluation(run.id)
    return run.id


def test_the_page_opens_on_the_best_run_not_the_newest(open_page: Callable[..., AppTest]) -> None:
    dataset = save_reviews()
    best = _finished(dataset.id, 0.871)
    _finished(dataset.id, 0.518)  # newer, worse
    at = open_page("evaluation")
    assert not at.exception
    assert at.selectbox(key="evaluation_run").value == best
    assert at.query_params["run"] in (str(best), [str(best)])


def test_a_model_that_answers_one_class_says_so(open_page: Callable[..., AppTest]) -> None:
    import numpy as np

    from core.results import evaluation
    from core.tasks import metrics as M

    run = seed_run(save_reviews().id, status="succeeded")
    y = np.array([0] * 20 + [1] * 10)
    pred = np.array([0] * 29 + [1])  # 'fresh' for 29 of 30 rows
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(30)], "label": y, "predicted": pred,
                          "confidence": 0.6, "correct": y == pred})
    evaluation.store_evaluation(run.id, "test", "run",
                                M.classification_metrics(y, pred, ["fresh", "rotten"], curves=False), frame)
    at = open_page("evaluation", query={"run": str(run.id)})
    assert not at.exception
    # the verdict opens the page in red and leads with the sentence
    assert at.error[0].value.replace("\\", "").startswith(
        "This model almost only answers 'fresh' (97 % of the 30 test rows) — it has not learned yet; "
        "train longer or raise the learning rate. The fine-tuned model gets the answer right 70 % of the "
        "time on 30 test rows (95 % interval")


def test_classification_run_can_be_served_and_shows_the_onnx_table(open_page: Callable[..., AppTest]) -> None:
    import json

    from core.config import get_settings

    dataset = save_reviews()
    run = seed_run(dataset.id, status="succeeded")
    seed_evaluation(run.id)
    at = open_page("evaluation", query={"run": str(run.id)})
    assert not at.exception
    assert any("uclab serve --run" in c.value for c in at.code)
    assert any(f'"model": "run:{run.id}"' in c.value and "/v1/classify" in c.value for c in at.code)
    options = at.selectbox(key="export_format").options
    assert len(options) == 3 and options[1].startswith("ONNX fp32") and options[2].startswith("ONNX int8")
    assert any("Not measured yet" in c.value for c in at.caption)
    rows = [{"model": "PyTorch fp32", "latency_ms": 9.0, "examples_per_s": 100.0, "size_mb": 90.0,
             "accuracy": 0.75, "macro_f1": 0.7},
            {"model": "ONNX fp32", "latency_ms": 6.0, "examples_per_s": 150.0, "size_mb": 90.0,
             "accuracy": 0.75, "macro_f1": 0.7},
            {"model": "ONNX int8", "latency_ms": 3.0, "examples_per_s": 300.0, "size_mb": 23.0,
             "accuracy": 0.74, "macro_f1": 0.69}]
    path = get_settings().runs_dir / str(run.id) / "onnx-benchmark.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run_id": run.id, "examples": 20, "test_rows": 50, "latency_examples": 20,
                                "threads": 2, "evaluation_accuracy": 0.75,
                                "cpu": "test cpu", "measured_at": "2026-12-01T00:00:00", "rows": rows}))
    at.run()
    table = next(d.value for d in at.dataframe if "Model" in d.value.columns)
    assert list(table["Model"]) == ["PyTorch fp32", "ONNX fp32", "ONNX int8"]
    from ui.widgets import md_escape

    line = md_escape("int8 against PyTorch on the same 20 test rows: one at a time 3.0x faster "
                     "(9.0 → 3.0 ms), in batches 3.0x faster (100.0 → 300.0 examples/s), 3.9x smaller, "
                     "accuracy 75.0 % → 74.0 % (-1.0 pt), macro F1 0.700 → 0.690")
    assert any(m.value == line for m in at.markdown), [m.value for m in at.markdown]
    notes = [c.value.replace("\\", "") for c in at.caption]
    assert any("the first 20 of the 50 test rows" in c and "scored 75.0 % on these same rows" in c
               for c in notes), notes


def test_the_cards_compare_with_the_strongest_baseline_whatever_order_it_was_stored_in(
        open_page: Callable[..., AppTest]) -> None:
    import numpy as np

    from core.results import evaluation
    from core.tasks import metrics as M

    dataset = save_reviews()
    run = seed_run(dataset.id, status="succeeded")
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    keyword = np.array([0, 0, 0, 1, 1, 1, 0, 0])  # 62.5 %, stored before the majority baseline
    frame = pd.DataFrame({"text": [f"review {i}" for i in range(8)], "label": y, "predicted": keyword})
    scores = M.classification_metrics(y, keyword, ["fresh", "rotten"], curves=False)
    evaluation.store_evaluation(run.id, "test", "tfidf_logreg", scores, frame)
    seed_evaluation(run.id)  # the run (75 %) and then the majority class (50 %)
    at = open_page("evaluation", query={"run": str(run.id)})
    assert not at.exception
    cards = {m.label: m for m in at.metric}
    assert cards["Accuracy"].proto.delta == "+12.5 pts vs keyword model"


def test_a_winning_baseline_is_named_and_can_be_saved(open_page: Callable[..., AppTest]) -> None:
    from chinese_topics import beaten_run

    from core.inference.baseline_predict import saved_names

    run_id = beaten_run()
    at = open_page("evaluation", query={"run": str(run_id)})
    assert not at.exception
    wins = [i.value for i in at.info if "not a neural one" in i.value]
    assert len(wins) == 1 and "character n\\-gram model" in wins[0]
    assert saved_names(run_id) == []
    at.button(key="evaluation_save_baseline").click().run()
    assert not at.exception
    assert saved_names(run_id) == ["tfidf_char_logreg"]
    assert any("uclab serve \\-\\-run" in s.value for s in at.success)


def test_a_sweeps_final_run_says_its_validation_scores_are_not_held_out(
        open_page: Callable[..., AppTest]) -> None:
    dataset = save_reviews()
    run = seed_run(dataset.id, status="succeeded", options={"fit_on": "train+validation"})
    seed_evaluation(run.id)
    seed_evaluation(run.id, split="validation")
    at = open_page("evaluation", query={"run": str(run.id)})
    assert not at.exception and at.radio(key="evaluation_split").value == "test"
    assert not [w for w in at.warning if "learned from" in w.value]  # the test split is held out
    at.radio(key="evaluation_split").set_value("validation").run()
    seen = f"Run {run.id} trained on the validation rows too (a sweep's final run)"
    assert any(w.value.startswith(seen) for w in at.warning)
    finetune = open_page("finetune", query={"run": str(run.id)})  # under its validation curve too
    assert any(c.value.startswith(seen) for c in finetune.caption)
    other = seed_run(dataset.id, status="succeeded")  # an ordinary run never trains on validation
    ordinary = open_page("finetune", query={"run": str(other.id)})
    assert not [c for c in ordinary.caption if "trained on the validation rows" in c.value]
