"""Human labels and number formats shared by the pages and the report."""

from __future__ import annotations

from core.text import labels


def test_raw_names_become_phrases() -> None:
    assert labels.task_label("causal-lm") == "Text generation"
    assert labels.task_label("token-classification") == "Entity extraction"
    assert labels.metric_label("macro_f1") == "Macro F1 (classes weigh equally)"
    assert labels.metric_label("weighted_precision") == "Precision (big classes weigh more)"
    assert labels.metric_label("eval_loss") == "Loss (lower is better)"
    assert labels.baseline_label("tfidf_logreg") == "Keyword model (TF-IDF)"
    assert labels.model_ref_label("run:5", {5: "sentiment"}) == "Run 5 · sentiment (fine-tuned)"
    assert labels.model_ref_label("smollm2-135m-instruct", models={"smollm2-135m-instruct": "SmolLM2"}) == \
        "SmolLM2 (base model, no fine-tuning)"
    assert labels.run_label(3, "run-3", "minilm-l6") == "Run 3 · minilm-l6"


def test_numbers_are_formatted_one_way_and_missing_is_a_dash() -> None:
    assert labels.metric_value("accuracy", 0.8421) == "84.2 %"
    assert labels.metric_value("loss", 2.365) == "2.37"
    assert labels.metric_value("r2", 0.763) == "0.763"
    assert labels.metric_value("accuracy", None) == "—"
    assert labels.metric_value("accuracy", float("nan")) == "—"
    assert labels.metric_gain("accuracy", 0.041) == "+4.1 pts"
    # 57.4 % beside 57.3 % showed "Δ -0.0 pts" next to another metric's "Δ +0.0 pts"
    assert labels.metric_gain("macro_f1", -0.0004) == labels.metric_gain("accuracy", 0.0004) == "±0.0 pts"
    assert labels.metric_gain("accuracy", -0.0006) == "-0.1 pts"
    assert labels.metric_gain("rmse", -0.5) == "-0.5"
    assert labels.number(1322) == "1,322"
