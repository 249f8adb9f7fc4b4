"""Tabular task: the MLP of ``core.ml.tabular_model``, or scikit-learn's histogram gradient boosting
(``core.tasks.tabular_gbm``, catalogue key ``hist-gradient-boosting``: fitted in `build`, no Trainer
steps), on numeric and categorical feature columns.

The dataset frame holds the columns named in ``mapping['features']`` and ``label``; the target is
a class (classification) or a number (regression), as ``mapping['target_kind']`` says or as
`core.tasks.tabular.infer_target_kind` guesses. Standardisation and one-hot encoding are fitted on the
training rows only (the Preprocessor is the Trainer's ``processing_class``, so every checkpoint
holds it as JSON). Task options: ``hidden_sizes`` (list of ints) and ``dropout``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from transformers import default_data_collator

from core.errors import ConfigError
from core.ml.tabular_model import (
    TabularMLP,
    TabularPredictor,
    encode_targets,
    load_tabular_model,
    make_config,
    use_one_thread,
)
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
from core.tasks.tabular import (
    LABEL,
    MLP_MIN_LEARNING_RATE,
    PREPROCESSOR_FILE,
    Preprocessor,
    feature_types_for,
    infer_target_kind,
    mlp_options,
)
from core.tasks.tabular_baselines import fit_baseline_models, labelled, permutation_importance, target_values
from core.tasks.tabular_gbm import GBM_KEY, GradientBoostingModel

DEFAULT_HIDDEN = (64, 64)
DEFAULT_DROPOUT = 0.1
IMPORTANCE_ROWS = 2000
IMPORTANCE_REPEATS = 5
NOT_FEATURES = {LABEL, "split", "group"}


def _options(config: TrainConfig) -> tuple[tuple[int, ...], float]:
    return mlp_options(config.task_options or {})


@register("tabular")
class TabularAdapter(TaskAdapter):
    """Classification or regression from spreadsheet columns with a small MLP."""

    lora_task_type = None  # an MLP trained from scratch has nothing to adapt

    def __init__(self) -> None:
        self.mapping: dict[str, Any] = {}
        self.feature_types: dict[str, str] = {}
        self.kind = ""
        self.validation: pd.DataFrame | None = None
        self._importance: dict[str, Any] | None = None

    def _describe(self, inputs: TaskInputs) -> None:
        self.mapping = dict(inputs.dataset_info.get("mapping") or {})
        if not self.mapping.get("features"):
            self.mapping["features"] = [c for c in inputs.train.columns if c not in NOT_FEATURES]
        missing = [c for c in self.mapping["features"] if c not in inputs.train.columns]
        if missing:
            raise ConfigError(f"The dataset has no column {', '.join(missing)}; import it again.")
        everything = pd.concat([inputs.train, inputs.validation, inputs.test], ignore_index=True)
        self.feature_types = feature_types_for(everything, self.mapping)
        self.kind = infer_target_kind(everything[LABEL], self.mapping)

    def check(self, inputs: TaskInputs) -> None:
        self._describe(inputs)
        _options(inputs.config)
        train = labelled(inputs.train)
        if train.empty:
            raise ConfigError("The dataset has no labelled training rows. Add rows or change its split.")
        if self.kind == "classification" and train[LABEL].astype(str).nunique() < 2:
            raise ConfigError("The training rows have only one class; a classifier needs at least two.")
        if self.kind == "regression" and pd.to_numeric(train[LABEL], errors="coerce").isna().any():
            raise ConfigError("Some regression targets are not numbers. Fix them and import again.")
        if inputs.config.lora:
            raise ConfigError("LoRA is not available for tabular models; train every weight instead.")
        if inputs.model_key != GBM_KEY and inputs.config.learning_rate < MLP_MIN_LEARNING_RATE:
            # Transformer fine-tuning rates leave a network trained from scratch where it started.
            raise ConfigError(f"A learning rate of {inputs.config.learning_rate:g} is too small for the "
                              "tabular MLP, which learns from scratch; use about 3e-3 (the default).")

    def build(self, inputs: TaskInputs) -> TaskBundle:
        if not self.feature_types:
            self._describe(inputs)
        hidden, dropout = _options(inputs.config)
        use_one_thread()  # after the engine set its thread count: see use_one_thread for why
        train = labelled(inputs.train)
        validation = labelled(inputs.validation)
        if validation.empty:
            validation = train
        self.validation = validation
        pre = Preprocessor.fit(train, self.feature_types)
        if self.kind == "classification":
            # Every class of every split gets an output, so test-only classes are still scored.
            classes = sorted({str(v) for part in (inputs.train, inputs.validation, inputs.test)
                              for v in part[LABEL].dropna()})
            config = make_config("classification", len(pre.output_names), classes, hidden, dropout)
        else:
            config = make_config("regression", len(pre.output_names), target_values(train, "regression"),
                                 hidden, dropout)
        meta = {"problem_type": "single_label_classification" if self.kind == "classification"
                else "regression", "kind": self.kind, "model": "mlp", "labels": list(config.labels),
                "features": list(self.feature_types), "feature_types": self.feature_types,
                "target_mean": config.target_mean, "target_std": config.target_std}
        if inputs.model_key == GBM_KEY:
            return self._fit_gbm(pre, train, validation, config, meta, inputs.config.seed,
                                 dict((inputs.config.task_options or {}).get("gbm") or {}))
        return TaskBundle(
            model=TabularMLP(config), processing_class=pre,
            train_dataset=self._dataset(pre, train, config),
            eval_dataset=self._dataset(pre, validation, config),
            data_collator=default_data_collator, compute_metrics=self._compute_metrics(),
            # Validation loss, not accuracy: on a few dozen rows accuracy moves in coarse steps and
            # ties, so early stopping and the learning-rate cut would react to noise.
            metric_for_best_model="loss", greater_is_better=False, meta=meta, bf16=False)

    def _fit_gbm(self, pre: Preprocessor, train: pd.DataFrame, validation: pd.DataFrame, config: Any,
                 meta: dict[str, Any], seed: int, params: dict[str, Any] | None = None) -> TaskBundle:
        """Gradient boosting with scikit-learn's own defaults, fitted here (the engine skips the Trainer)."""
        model = GradientBoostingModel.fit(pre.transform(train), target_values(train, self.kind), self.kind,
                                          config.labels, seed=seed, params=params)
        meta = {**meta, "model": GBM_KEY, "target_mean": 0.0, "target_std": 1.0}
        return TaskBundle(
            model=model, processing_class=pre, train_dataset=train, eval_dataset=validation,
            data_collator=None, compute_metrics=None, metric_for_best_model="loss",
            greater_is_better=False, meta=meta, fitted=True)

    @staticmethod
    def _dataset(pre: Preprocessor, frame: pd.DataFrame, config: Any) -> FeatureDataset:
        x = pre.transform(frame)
        y = encode_targets(config, target_values(frame, config.kind))
        return FeatureDataset([{"features": x[i], "labels": y[i]} for i in range(len(frame))])

    def _compute_metrics(self) -> Any:
        kind = self.kind

        def compute(pred: Any) -> dict[str, float]:
            logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
            truth = np.asarray(pred.label_ids)
            if kind == "regression":  # logits are already in the target's units
                m = M.regression_metrics(truth.ravel(), np.asarray(logits).ravel())
                return {"mae": m["mae"] or 0.0, "rmse": m["rmse"] or 0.0, "r2": m["r2"] or 0.0}
            known = truth >= 0
            y_pred = np.asarray(logits).argmax(-1)
            ids = list(range(np.asarray(logits).shape[-1]))
            m = M.classification_metrics(truth[known], y_pred[known], [str(i) for i in ids], curves=False)
            return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}
        return compute

    def evaluate(self, model: Any, processing_class: Any, frame: pd.DataFrame,
                 meta: dict[str, Any], config: TrainConfig) -> tuple[dict[str, Any], pd.DataFrame]:
        predictor = TabularPredictor(processing_class, model)
        frame = labelled(frame).reset_index(drop=True)
        features = list(meta.get("features") or processing_class.feature_types)
        preds = predictor.predict_frame(frame[features])
        kind = meta.get("kind") or predictor.kind
        if kind == "regression":
            y = target_values(frame, "regression")
            preds.insert(len(features), "label", y)
            preds["error"] = preds["predicted"] - preds["label"]
            metrics = M.regression_metrics(y, preds["predicted"].to_numpy(float))
        else:
            labels = list(predictor.labels)
            index = {lab: i for i, lab in enumerate(labels)}
            truth = frame[LABEL].astype(str).to_numpy()
            y_true = np.array([index.get(v, -1) for v in truth])
            proba = preds[[f"p:{lab}" for lab in labels]].to_numpy(float)
            known = y_true >= 0
            metrics = M.classification_metrics(y_true[known], proba.argmax(1)[known], labels, proba[known])
            preds.insert(len(features), "label", truth)
            preds["correct"] = preds["label"] == preds["predicted"]
        metrics["problem_type"] = meta.get("problem_type", kind)
        metrics["feature_importance"] = self._feature_importance(predictor, frame, features, kind, config)
        return metrics, preds

    def _feature_importance(self, predictor: TabularPredictor, frame: pd.DataFrame, features: list[str],
                            kind: str, config: TrainConfig) -> dict[str, Any]:
        """Permutation importance on the validation rows (computed once per run, reused per split)."""
        if self._importance is None:
            rows = self.validation if self.validation is not None and not self.validation.empty else frame
            split = "validation" if rows is not frame else "evaluated split"
            if len(rows) > IMPORTANCE_ROWS:
                rows = rows.sample(n=IMPORTANCE_ROWS, random_state=config.seed)
            table = permutation_importance(predictor.predict, rows, features, kind,
                                           n_repeats=IMPORTANCE_REPEATS, seed=config.seed)
            self._importance = M.clean({"split": split, "metric": "accuracy" if kind == "classification"
                                        else "r2", "rows": int(len(rows)),
                                        "features": table["feature"].tolist(),
                                        "importance": table["importance"].tolist(),
                                        "std": table["std"].tolist()})
        return self._importance

    def baselines(self, train: pd.DataFrame, test: pd.DataFrame
                  ) -> list[tuple[str, dict[str, Any], pd.DataFrame]]:
        if not self.feature_types:
            features = [c for c in train.columns if c not in NOT_FEATURES]
            self.feature_types = feature_types_for(train, {"features": features})
            self.kind = infer_target_kind(pd.concat([train[LABEL], test[LABEL]]))
        test = labelled(test).reset_index(drop=True)
        if test.empty or labelled(train).empty:
            return []
        pre, models = fit_baseline_models(train, self.feature_types, self.kind, seed=42)
        x_test = pre.transform(test)
        features = list(self.feature_types)
        results = []
        for name, model in models.items():
            preds = test[features].copy()
            if self.kind == "regression":
                y = target_values(test, "regression")
                preds["label"], preds["predicted"] = y, model.predict(x_test)
                preds["error"] = preds["predicted"] - preds["label"]
                results.append((name, M.regression_metrics(y, preds["predicted"]), preds))
                continue
            labels = sorted({str(v) for v in pd.concat([train[LABEL], test[LABEL]]).dropna()})
            proba = np.zeros((len(test), len(labels)))
            columns = [labels.index(str(c)) for c in model.classes_]
            proba[:, columns] = model.predict_proba(x_test)
            y_true = np.array([labels.index(v) for v in test[LABEL].astype(str)])
            y_pred = proba.argmax(1)
            preds["label"], preds["predicted"] = test[LABEL].astype(str), [labels[i] for i in y_pred]
            preds["confidence"] = proba.max(1)
            preds["correct"] = preds["label"] == preds["predicted"]
            results.append((name, M.classification_metrics(y_true, y_pred, labels, proba), preds))
        return results

    def save(self, model: Any, processing_class: Any, output_dir: Path, meta: dict[str, Any]) -> None:
        """model.safetensors + mlp_config.json (or model.skops + gbm_config.json) + preprocessor.json +
        task.json: nothing pickled."""
        output_dir.mkdir(parents=True, exist_ok=True)
        TabularPredictor(processing_class, model).save(output_dir)
        (output_dir / META_FILE).write_text(json.dumps({"task": self.task, **meta}, indent=2))

    def load(self, output_dir: Path) -> tuple[Any, Any, dict[str, Any]]:
        model = load_tabular_model(output_dir)
        pre = Preprocessor.load(Path(output_dir) / PREPROCESSOR_FILE)
        return model, pre, read_meta(output_dir)
