"""scikit-learn's histogram gradient boosting as a tabular model of its own (not only a baseline).

It sees the same preprocessed matrix as the MLP (``core.tasks.tabular.Preprocessor``) and is
saved with ``skops`` (``model.skops``), whose loader rebuilds only the types it is told to trust:
nothing is unpickled. The one type outside skops' default trust list is the tree predictor.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from core.errors import ModelError

GBM_KEY = "hist-gradient-boosting"
GBM_FILE = "model.skops"
GBM_CONFIG_FILE = "gbm_config.json"
TRUSTED_TYPES = ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",)
SMALL_TABLE_ROWS = 20_000
# The estimator settings a run may choose (task option "gbm"); others keep scikit-learn's defaults.
GBM_PARAMS = ("learning_rate", "max_iter", "max_leaf_nodes", "l2_regularization", "min_samples_leaf")


@dataclass
class GradientBoostingModel:
    """A fitted HistGradientBoosting estimator and the label order of its probability columns."""

    estimator: Any
    kind: str                      # "classification" | "regression"
    labels: tuple[str, ...] = ()   # every class of the dataset (the estimator may know fewer)

    @classmethod
    def fit(cls, x: np.ndarray, y: Sequence[Any], kind: str, labels: Sequence[str] = (),
            seed: int = 42, params: dict[str, Any] | None = None) -> GradientBoostingModel:
        """Fit on a preprocessed matrix; classification targets are class names (str). `params`:
        the estimator's own settings a sweep tries (learning_rate, max_iter, max_leaf_nodes, ...)."""
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        chosen = {k: v for k, v in (params or {}).items() if k in GBM_PARAMS}
        estimator = (HistGradientBoostingClassifier(random_state=seed, **chosen) if kind == "classification"
                     else HistGradientBoostingRegressor(random_state=seed, **chosen))
        target = np.asarray([str(v) for v in y], dtype=object) if kind == "classification" \
            else np.asarray(y, dtype=float)
        # On small tables OpenMP threads only spin against the other processes of a small machine.
        with threadpool_limits(limits=1 if len(x) < SMALL_TABLE_ROWS else None):
            estimator.fit(x, target)
        if kind != "classification":
            return cls(estimator, kind)
        return cls(estimator, kind, tuple(labels) or tuple(str(c) for c in estimator.classes_))

    def predict_outputs(self, x: np.ndarray) -> np.ndarray:
        """Probabilities (n, len(labels)) in `labels` order, or values (n,)."""
        if self.kind != "classification":
            return self.estimator.predict(x).astype(float) if len(x) else np.zeros(0)
        out = np.zeros((len(x), len(self.labels)))
        if len(x):
            columns = [self.labels.index(str(c)) for c in self.estimator.classes_]
            out[:, columns] = self.estimator.predict_proba(x)
        return out

    def save_pretrained(self, output_dir: Path | str) -> None:
        """Write ``model.skops`` and ``gbm_config.json``."""
        import skops.io as sio

        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        sio.dump(self.estimator, output_dir / GBM_FILE)
        (output_dir / GBM_CONFIG_FILE).write_text(json.dumps(
            {"kind": self.kind, "labels": list(self.labels),
             "estimator": type(self.estimator).__name__}, indent=1))

    @classmethod
    def from_pretrained(cls, model_dir: Path | str) -> GradientBoostingModel:
        """Load what `save_pretrained` wrote, trusting only the tree predictor type."""
        import skops.io as sio

        model_dir = Path(model_dir)
        path = model_dir / GBM_FILE
        if not path.is_file() or not (model_dir / GBM_CONFIG_FILE).is_file():
            raise ModelError(f"The folder {model_dir} holds no saved gradient-boosting model; "
                             "train the run again.")
        unexpected = [t for t in sio.get_untrusted_types(file=path) if t not in TRUSTED_TYPES]
        if unexpected:
            raise ModelError(f"The file {path} contains types this app does not load "
                             f"({', '.join(unexpected[:3])}); train the run again.")
        config = json.loads((model_dir / GBM_CONFIG_FILE).read_text())
        estimator = sio.load(path, trusted=list(TRUSTED_TYPES))
        return cls(estimator, config["kind"], tuple(config.get("labels") or ()))


def is_gbm_folder(model_dir: Path | str) -> bool:
    """Whether a saved tabular model folder holds gradient boosting (else the MLP)."""
    return (Path(model_dir) / GBM_FILE).is_file()
