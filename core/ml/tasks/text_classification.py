"""Text classification and regression: a sequence-classification head on an encoder.

Classification predicts one of the dataset's labels (softmax); regression predicts one number,
trained on standardised targets so any scale trains alike. The saved regression model has the
mean and std folded into its head's last linear layer, so ``from_pretrained`` gives real units
(``task.json`` then says ``target_mean`` 0, ``target_std`` 1 and keeps the folded values).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from transformers import DataCollatorWithPadding
from transformers.utils import logging as hf_logging

from core.errors import ConfigError, ModelError
from core.ml.models import load_sequence_classifier, load_tokenizer
from core.ml.tasks.base import (
    META_FILE,
    FeatureDataset,
    TaskAdapter,
    TaskBundle,
    TaskInputs,
    read_meta,
    register,
)
from core.run_config import TrainConfig
from core.tasks import metrics as M
from core.tasks.baselines import fit_baselines


def _load_model(model_dir: Path, tokenizer: Any, **kwargs: Any) -> Any:
    # The new head is meant to be newly initialised: keep that expected warning out of run logs.
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return load_sequence_classifier(model_dir, pad_token_id=tokenizer.pad_token_id, **kwargs)
    finally:
        hf_logging.set_verbosity(verbosity)


def tokenize(tokenizer: Any, texts: list[str], max_length: int) -> dict[str, list[list[int]]]:
    """Token ids without padding (the collator pads each batch to its own longest text)."""
    return tokenizer([str(t) for t in texts], truncation=True, max_length=max_length)


def _features(tokenizer: Any, frame: pd.DataFrame, targets: list[Any], max_length: int) -> FeatureDataset:
    enc = tokenize(tokenizer, frame["text"].tolist(), max_length)
    keys = list(enc.keys())
    return FeatureDataset([{**{k: enc[k][i] for k in keys}, "labels": targets[i]}
                           for i in range(len(frame))])


def folded_head_state(model: Any, mean: float, std: float) -> dict[str, torch.Tensor]:
    """The model's state dict with the regression head rescaled: ``w * std`` and ``b * std + mean``.

    The head is the last linear layer with one output; only its two tensors are new, the model
    itself is left as it is (evaluation after saving still expects standardised outputs).
    """
    heads = [name for name, module in model.named_modules()
             if isinstance(module, torch.nn.Linear) and module.out_features == 1 and module.bias is not None]
    if not heads:
        raise ModelError("The regression model has no one-output linear head to fold its scaling into.")
    state = dict(model.state_dict())
    weight, bias = f"{heads[-1]}.weight", f"{heads[-1]}.bias"
    state[weight] = state[weight].detach() * std
    state[bias] = state[bias].detach() * std + mean
    return state


@register("classification", "regression")
class TextClassificationAdapter(TaskAdapter):
    """Classification (``label`` as text) and regression (``label`` as a number) of one text."""

    lora_task_type = "SEQ_CLS"

    @property
    def is_regression(self) -> bool:
        return self.task == "regression"

    def check(self, inputs: TaskInputs) -> None:
        if inputs.train.empty:
            raise ConfigError("The dataset has no training rows. Add rows or change its split.")
        if self.is_regression:
            values = pd.to_numeric(inputs.train["label"], errors="coerce")
            if values.isna().any():
                raise ConfigError("Some regression labels are not numbers. Fix them and upload again.")
        elif inputs.train["label"].nunique() < 2:
            raise ConfigError("The training rows have only one label; a classifier needs at least two.")

    def build(self, inputs: TaskInputs) -> TaskBundle:
        cfg = inputs.config
        tokenizer = load_tokenizer(inputs.model_dir)
        if self.is_regression:
            train_y = inputs.train["label"].astype(float)
            mean, std = float(train_y.mean()), float(train_y.std(ddof=0)) or 1.0
            meta: dict[str, Any] = {"problem_type": "regression", "target_mean": mean, "target_std": std,
                                    "max_length": cfg.max_length}
            model = _load_model(inputs.model_dir, tokenizer, num_labels=1, problem_type="regression")

            def targets(f: pd.DataFrame) -> list[float]:
                return ((f["label"].astype(float) - mean) / std).tolist()
        else:
            labels = sorted({str(v) for part in (inputs.train, inputs.validation, inputs.test)
                             for v in part["label"].dropna()})
            label2id = {lab: i for i, lab in enumerate(labels)}
            meta = {"problem_type": "single_label_classification", "labels": labels,
                    "max_length": cfg.max_length}
            model = _load_model(inputs.model_dir, tokenizer, num_labels=len(labels),
                                id2label=dict(enumerate(labels)), label2id=label2id,
                                problem_type="single_label_classification")

            def targets(f: pd.DataFrame) -> list[int]:
                return [label2id[str(v)] for v in f["label"]]
        validation = inputs.validation if not inputs.validation.empty else inputs.train
        return TaskBundle(
            model=model, processing_class=tokenizer,
            train_dataset=_features(tokenizer, inputs.train, targets(inputs.train), cfg.max_length),
            eval_dataset=_features(tokenizer, validation, targets(validation), cfg.max_length),
            data_collator=DataCollatorWithPadding(tokenizer),
            compute_metrics=self._compute_metrics(meta),
            metric_for_best_model="rmse" if self.is_regression else "macro_f1",
            greater_is_better=not self.is_regression, meta=meta)

    def _compute_metrics(self, meta: dict[str, Any]) -> Any:
        def compute(pred: Any) -> dict[str, float]:
            logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
            if self.is_regression:
                m = M.regression_metrics(np.asarray(pred.label_ids).ravel(), np.asarray(logits).ravel())
                # Report on the user's scale: the targets were standardised for training.
                return {"mae": (m["mae"] or 0) * meta["target_std"],
                        "rmse": (m["rmse"] or 0) * meta["target_std"], "r2": m["r2"] or 0.0}
            y_pred = np.asarray(logits).argmax(-1)
            m = M.classification_metrics(pred.label_ids, y_pred, meta["labels"], curves=False)
            return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}
        return compute

    def evaluate(self, model: Any, processing_class: Any, frame: pd.DataFrame,
                 meta: dict[str, Any], config: TrainConfig) -> tuple[dict[str, Any], pd.DataFrame]:
        out = predict_frame(model, processing_class, frame["text"].tolist(), meta, config.eval_batch_size)
        preds = pd.DataFrame({"text": frame["text"].astype(str).to_numpy()})
        if meta["problem_type"] == "regression":
            y = frame["label"].astype(float).to_numpy()
            preds["label"], preds["predicted"] = y, out["value"]
            preds["error"] = preds["predicted"] - preds["label"]
            return M.regression_metrics(y, out["value"]), preds
        labels: list[str] = meta["labels"]
        index = {lab: i for i, lab in enumerate(labels)}
        y_true = np.array([index.get(str(v), -1) for v in frame["label"]])
        y_pred = out["proba"].argmax(1)
        known = y_true >= 0  # a label never seen in training cannot be scored per class
        metrics = M.classification_metrics(y_true[known], y_pred[known], labels, out["proba"][known])
        preds["label"] = frame["label"].astype(str).to_numpy()
        preds["predicted"] = [labels[i] for i in y_pred]
        preds["confidence"] = out["proba"].max(1)
        preds["correct"] = preds["label"] == preds["predicted"]
        for i, lab in enumerate(labels):
            preds[f"p:{lab}"] = out["proba"][:, i]
        return metrics, preds

    def baselines(self, train: pd.DataFrame, test: pd.DataFrame
                  ) -> list[tuple[str, dict[str, Any], pd.DataFrame]]:

        return fit_baselines(self.task, train, test)

    def save(self, model: Any, processing_class: Any, output_dir: Path, meta: dict[str, Any]) -> None:
        """As the default; a regression head gets its target mean and std folded in (real units)."""
        if meta.get("problem_type") != "regression":
            return super().save(model, processing_class, output_dir, meta)
        output_dir.mkdir(parents=True, exist_ok=True)
        mean, std = float(meta.get("target_mean", 0.0)), float(meta.get("target_std", 1.0))
        model.save_pretrained(output_dir, state_dict=folded_head_state(model, mean, std))
        processing_class.save_pretrained(output_dir)
        folded = {**meta, "target_mean": 0.0, "target_std": 1.0,
                  "target_scaling": {"folded_into_head": True, "mean": mean, "std": std}}
        (output_dir / META_FILE).write_text(json.dumps({"task": self.task, **folded}, indent=2))
        return None

    def load(self, output_dir: Path) -> tuple[Any, Any, dict[str, Any]]:
        meta = read_meta(output_dir)
        tokenizer = load_tokenizer(output_dir)
        if meta.get("problem_type") == "regression":
            model = _load_model(output_dir, tokenizer, num_labels=1, problem_type="regression")
        else:
            labels = meta["labels"]
            model = _load_model(output_dir, tokenizer, num_labels=len(labels),
                                id2label=dict(enumerate(labels)), problem_type="single_label_classification")
        model.eval()
        return model, tokenizer, meta


@torch.inference_mode()
def predict_frame(model: Any, tokenizer: Any, texts: list[str], meta: dict[str, Any],
                  batch_size: int = 64) -> dict[str, Any]:
    """Class probabilities (``proba``) or values (``value``) for texts, longest-first batches."""
    model.eval()
    device = next(model.parameters()).device
    max_length = int(meta.get("max_length", 128))
    enc = tokenize(tokenizer, texts, max_length)
    order = np.argsort([-len(ids) for ids in enc["input_ids"]], kind="stable")
    collator = DataCollatorWithPadding(tokenizer)
    keys = list(enc.keys())
    chunks: list[np.ndarray] = []
    start = time.perf_counter()
    for b in range(0, len(texts), batch_size):
        idx = order[b:b + batch_size]
        batch = collator([{k: enc[k][i] for k in keys} for i in idx])
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
        chunks.append(logits.float().cpu().numpy())
    n_out = model.config.num_labels
    logits = np.concatenate(chunks) if chunks else np.zeros((0, n_out))
    restored = np.empty_like(logits)
    restored[order] = logits
    seconds = time.perf_counter() - start
    if meta.get("problem_type") == "regression":
        value = restored[:, 0] * meta.get("target_std", 1.0) + meta.get("target_mean", 0.0)
        return {"value": value, "seconds": seconds}
    proba = torch.softmax(torch.from_numpy(restored), dim=-1).numpy()
    return {"proba": proba, "seconds": seconds}
