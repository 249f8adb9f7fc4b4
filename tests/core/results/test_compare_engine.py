"""Compare, flips, report, export and learning curve on runs really trained by the engine (tiny BERT)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from training_data import add_text_dataset, text_frame, tiny_model

from core.results import compare, report
from core.run_config import TrainConfig
from core.ship import export
from core.training import learning_curve, queue, worker
from core.training import service as training


@pytest.fixture
def trained(home: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int, int]:
    monkeypatch.setattr(queue, "_launcher", worker.InlineLauncher())
    key, dataset = tiny_model(), add_text_dataset(text_frame(rows=100))
    ids = []
    for steps, lr in ((2, 1e-5), (12, 5e-3)):
        run = training.start_run(training.TrainRequest(dataset, key, TrainConfig(
            max_steps=steps, learning_rate=lr, batch_size=8, eval_every=steps), name=f"{steps} steps"))
        assert run.status == "succeeded", run.status_reason
        ids.append(run.id)
    return dataset, ids[0], ids[1]


@pytest.mark.slow  # trains four tiny runs through the real engine (about half a minute on 2 cores)
def test_services_on_engine_runs(trained: tuple[int, int, int], tmp_path: Path) -> None:
    _, a, b = trained
    result = compare.compare_runs([a, b])
    assert result.final_source == {label: "test" for label in result.final.columns}
    assert {"accuracy", "macro_f1"} <= set(result.final.index)
    assert {"max_steps", "learning_rate", "eval_every"} <= set(result.config_diff.index)
    assert not result.curves.empty and set(result.curves["run_id"]) == {a, b}
    # Flips read the engine's stored predictions: every flip is a real change of correctness.
    flips = compare.flip_analysis(a, b)
    for row in flips.itertuples():
        right_a, right_b = row.predicted_a == row.label, row.predicted_b == row.label
        assert (row.flip == "fixed") == (right_b and not right_a)
        assert (row.flip == "broken") == (right_a and not right_b)
    page = report.build_report([a, b])
    assert page.count("plotly-graph-div") >= 4 and "Baselines are simple models" in page
    # The exported zip predicts what the app predicts for the run.
    path = export.export_model_zip(b)
    with zipfile.ZipFile(path) as zf:
        zf.extractall(tmp_path / "model")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.inference.predict import predict_texts

    texts = ["the film was good great", "the film was awful dull"]
    app = predict_texts(b, texts)
    tokenizer = AutoTokenizer.from_pretrained(str(tmp_path / "model"))
    model = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "model")).eval()
    probs = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits.softmax(-1).detach().numpy()
    labels = [model.config.id2label[i] for i in probs.argmax(1)]
    assert labels == app["label"].tolist()
    np.testing.assert_allclose(probs.max(1), app["confidence"].to_numpy(), atol=1e-5)

    # A learning curve from run a: the inline launcher trains each child on its share of rows.
    parent = learning_curve.start_learning_curve_from_run(a, fractions=(0.5, 1.0))
    children = learning_curve.learning_curve_runs(parent.id)
    assert children["status"].tolist() == ["succeeded", "succeeded"]  # the inline launcher trained both
    assert children["train_rows"].tolist() == [30, 60]
    logs = " ".join(training.run_logs(int(children["run_id"].iloc[0])))
    assert "30 training rows" in logs
    curve = learning_curve.learning_curve(parent.id)
    assert sorted(curve[curve["metric"] == "accuracy"]["train_rows"]) == [30, 60]
