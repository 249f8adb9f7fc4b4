"""What a tabular export adds to the run's files: ``config.json``, ``load_tabular.py`` and the weights.

``config.json`` gathers what ``task.json``, ``preprocessor.json`` and ``mlp_config.json`` (or
``gbm_config.json``) hold, in the format ``core/ml/tabular_loader.py`` documents; that file
is copied next to it as ``load_tabular.py``, so the export predicts with numpy and safetensors
(or skops) alone, outside this app.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from core.errors import RunStateError
from core.ml import tabular_loader

LOADER = Path(tabular_loader.__file__)
LOADER_NAME = "load_tabular.py"
SKOPS_FILE = "model.skops"


def is_tabular_folder(folder: Path) -> bool:
    """Whether a model folder holds a tabular model (the MLP or gradient boosting)."""
    return (folder / "preprocessor.json").is_file()


def _read(folder: Path, name: str) -> dict[str, Any]:
    path = folder / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def export_config(folder: Path) -> dict[str, Any]:
    """The ``config.json`` of a tabular export (see ``tabular_loader`` for its fields)."""
    meta, pre = _read(folder, "task.json"), _read(folder, "preprocessor.json")
    gbm = (folder / SKOPS_FILE).is_file()
    model = _read(folder, "gbm_config.json" if gbm else "mlp_config.json")
    if not pre or not model:
        raise RunStateError(f"The tabular model in {folder} is incomplete; train the run again.")
    config: dict[str, Any] = {
        "format": tabular_loader.FORMAT, "format_version": 1,
        "model_type": "hist-gradient-boosting" if gbm else "tabular-mlp",
        "kind": model["kind"], "labels": list(model.get("labels") or []),
        "features": list(pre["feature_types"]), "preprocessor": pre,
        "weights": SKOPS_FILE if gbm else "model.safetensors",
        "problem_type": meta.get("problem_type", ""), "loader": LOADER_NAME}
    if gbm:
        config["estimator"] = model.get("estimator", "")
        config["trusted_types"] = tabular_loader.TRUSTED_TYPES
    else:
        config["mlp"] = {"hidden_sizes": model["hidden_sizes"], "activation": "relu",
                         "dropout": model["dropout"], "n_inputs": model["n_inputs"],
                         "target_mean": model["target_mean"], "target_std": model["target_std"]}
    return config


def stage_tabular(folder: Path, dest: Path) -> None:
    """Write config.json and load_tabular.py into `dest`, and copy the skops weights if any."""
    (dest / "config.json").write_text(json.dumps(export_config(folder), indent=1), encoding="utf-8")
    shutil.copyfile(LOADER, dest / LOADER_NAME)
    if (folder / SKOPS_FILE).is_file():
        shutil.copy2(folder / SKOPS_FILE, dest / SKOPS_FILE)


USAGE = '''# The unzipped export; needs numpy + safetensors (MLP) or skops + scikit-learn (gradient boosting).
from load_tabular import TabularModel

model = TabularModel.load({folder!r})
print(model.predict([{example}]))
# or from a shell:  python load_tabular.py rows.csv > predictions.csv
'''


def usage(folder: str, features: list[str]) -> str:
    """Python that loads the export with its own loader and predicts one row."""
    example = ", ".join(f"{name!r}: ..." for name in features[:3]) + (", ..." if len(features) > 3 else "")
    return USAGE.format(folder=folder, example="{" + example + "}")
