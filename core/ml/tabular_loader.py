"""Load an exported Use Case Lab tabular model and predict, without Use Case Lab.

Shipped in every tabular export as ``load_tabular.py``. Needs numpy and safetensors (the MLP)
or skops and scikit-learn (gradient boosting); torch and pandas are optional. Nothing is
unpickled: the MLP is plain safetensors arrays, and skops rebuilds only the types listed below.

    python load_tabular.py rows.csv > predictions.csv        # a CSV with the feature columns

    from load_tabular import TabularModel
    model = TabularModel.load(".")                            # the unzipped export
    model.predict([{"sepal length (cm)": 5.1, ...}])          # labels, or numbers
    model.predict_proba(rows)                                 # classification: (rows, classes)

The folder holds ``config.json``: ``format`` ("use-case-lab/tabular"), ``model_type``
("tabular-mlp" or "hist-gradient-boosting"), ``kind`` ("classification" or "regression"),
``labels`` (the order of the probability columns), ``features`` and ``preprocessor`` (per
numeric column: the median that fills a missing value, then the mean and scale that standardise
it; per categorical column: the categories one-hot encoded in that order, a missing value being
"(missing)"). For the MLP, ``mlp`` gives the hidden sizes (ReLU between linear layers
``net.<i>.weight`` / ``net.<i>.bias`` in ``model.safetensors``) and ``target_mean`` /
``target_std``: a regression output is ``raw * target_std + target_mean``.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "use-case-lab/tabular"
MISSING = "(missing)"
TRUSTED_TYPES = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _category(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return MISSING
    return str(value)


class TabularModel:
    """An exported tabular model: raw feature values in, predictions out."""

    def __init__(self, folder: Path, config: dict[str, Any], model: Any) -> None:
        self.folder, self.config, self.model = folder, config, model
        self.kind: str = config["kind"]
        self.labels: list[str] = list(config.get("labels") or [])
        self.features: list[str] = list(config["features"])

    @classmethod
    def load(cls, folder: str | Path = ".") -> TabularModel:
        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if config.get("format") != FORMAT:
            raise ValueError(f"{folder / 'config.json'} is not a Use Case Lab tabular export.")
        if config["model_type"] == "hist-gradient-boosting":
            import skops.io as sio

            path = folder / "model.skops"
            unexpected = [t for t in sio.get_untrusted_types(file=path) if t not in TRUSTED_TYPES]
            if unexpected:
                raise ValueError(f"{path} holds types this loader does not trust: {unexpected}")
            return cls(folder, config, sio.load(path, trusted=TRUSTED_TYPES))
        from safetensors.numpy import load_file

        weights = load_file(str(folder / "model.safetensors"))
        layers = sorted({int(k.split(".")[1]) for k in weights if k.startswith("net.")})
        model = [(weights[f"net.{i}.weight"].astype(np.float32), weights[f"net.{i}.bias"].astype(np.float32))
                 for i in layers]
        return cls(folder, config, model)

    def transform(self, rows: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """The standardised, one-hot encoded matrix the model reads."""
        rows = _records(rows)
        pre = self.config["preprocessor"]
        parts = []
        for col, kind in pre["feature_types"].items():
            if kind != "numeric":
                continue
            values = np.array([_number(r.get(col)) for r in rows], dtype=float)
            values = np.where(np.isnan(values), pre["medians"][col], values)
            parts.append(((values - pre["means"][col]) / pre["scales"][col])[:, None])
        for col, kind in pre["feature_types"].items():
            if kind == "numeric":
                continue
            cats = np.asarray(pre["categories"][col], dtype=object)
            values = np.array([_category(r.get(col)) for r in rows], dtype=object)
            parts.append((values[:, None] == cats[None, :]).astype(float))
        if not parts:
            return np.zeros((len(rows), 0), dtype=np.float32)
        return np.hstack(parts).astype(np.float32)

    def outputs(self, rows: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """Probabilities (rows, labels) or values (rows,)."""
        x = self.transform(rows)
        if self.config["model_type"] == "hist-gradient-boosting":
            if self.kind != "classification":
                return self.model.predict(x).astype(float)
            out = np.zeros((len(x), len(self.labels)))
            columns = [self.labels.index(str(c)) for c in self.model.classes_]
            out[:, columns] = self.model.predict_proba(x)
            return out
        for i, (weight, bias) in enumerate(self.model):
            x = x @ weight.T + bias
            if i < len(self.model) - 1:
                x = np.maximum(x, 0.0)
        if self.kind == "classification":
            x = np.exp(x - x.max(axis=1, keepdims=True))
            return x / x.sum(axis=1, keepdims=True)
        mlp = self.config["mlp"]
        return x[:, 0] * mlp["target_std"] + mlp["target_mean"]

    def predict_proba(self, rows: Iterable[Mapping[str, Any]]) -> np.ndarray:
        if self.kind != "classification":
            raise ValueError("A regression model has no class probabilities; call predict.")
        return self.outputs(rows)

    def predict(self, rows: Iterable[Mapping[str, Any]]) -> list[Any]:
        """The predicted label (classification) or value (regression) of each row."""
        out = self.outputs(rows)
        if self.kind == "classification":
            return [self.labels[i] for i in out.argmax(axis=1)]
        return [float(v) for v in out]


def _records(rows: Any) -> list[Mapping[str, Any]]:
    if hasattr(rows, "to_dict"):  # a pandas DataFrame
        return rows.to_dict("records")
    return list(rows)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("Usage: python load_tabular.py rows.csv > predictions.csv", file=sys.stderr)
        return 2
    model = TabularModel.load(Path(__file__).resolve().parent)
    with open(argv[0], newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    missing = [f for f in model.features if rows and f not in rows[0]]
    if missing:
        print(f"The file has no column {', '.join(missing)}; add every feature column.", file=sys.stderr)
        return 2
    writer = csv.writer(sys.stdout)
    if model.kind == "classification":
        proba = model.predict_proba(rows)
        writer.writerow(["predicted", *[f"p:{label}" for label in model.labels]])
        for row in proba:
            writer.writerow([model.labels[int(row.argmax())], *[repr(float(p)) for p in row]])
    else:
        writer.writerow(["predicted"])
        for value in model.predict(rows):
            writer.writerow([repr(value)])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
