"""Tabular models side by side: the MLP and gradient boosting (catalogue models) vs the baselines.

For each gallery table (iris, wine, breast cancer, diabetes) this imports the dataset as the app
does, trains the catalogue's ``mlp`` and ``hist-gradient-boosting`` models with the CLI's default
settings (``TrainConfig.from_preset("full", task="tabular")``, same seed) through the real worker,
and prints the test-split metric of each run next to the logistic/ridge and gradient-boosting
baselines the worker scores on the same rows. Accuracy for classification, R² for diabetes.

    UCLAB_HOME=$(mktemp -d) .venv/bin/python bench/tabular.py [--datasets iris,wine] [--seed 42]

Measured here (2-core x86_64 with bf16, shared; seed 42; test split):

    dataset        metric    MLP    linear   gradient boosting (baseline = catalogue model)
    iris           accuracy  1.000  0.933    0.867
    wine           accuracy  1.000  1.000    0.833
    breast-cancer  accuracy  0.982  0.947    0.982
    diabetes       R²        0.269  0.257    0.196

The MLP with the old defaults (30 fixed epochs, best checkpoint by macro F1, bf16 autocast):
iris 0.733, wine 0.944, breast cancer 0.965, diabetes 0.278.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DATASETS = ("iris", "wine", "breast-cancer", "diabetes")
MODELS = ("mlp", "hist-gradient-boosting")


def measure(key: str, seed: int) -> dict[str, float | str]:
    from core.data.gallery import import_gallery
    from core.results.evaluation import get_evaluation
    from core.run_config import TrainConfig
    from core.training import service as training
    from core.training.worker import InlineLauncher

    dataset = import_gallery(key)
    row: dict[str, float | str] = {"dataset": key}
    for model in MODELS:
        config = TrainConfig.from_preset("full", task="tabular", seed=seed)
        started = time.perf_counter()
        run = training.start_run(training.TrainRequest(dataset.id, model, config),
                                 launcher=InlineLauncher())
        seconds = time.perf_counter() - started
        if run.status != "succeeded":
            raise SystemExit(f"{model} on {key}: {run.status} ({run.status_reason})")
        evaluation = get_evaluation(run.id, "test")
        metric = "accuracy" if "accuracy" in evaluation.metrics else "r2"
        row["metric"] = metric
        row[model] = evaluation.metrics[metric]
        row[f"{model} s"] = seconds
        if model == "mlp":
            for baseline in evaluation.baselines:
                row[baseline.name] = baseline.metrics[metric]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rows = [measure(key, args.seed) for key in args.datasets.split(",")]
    from core.ml.device import cpu_supports_bf16

    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"bf16 {'yes' if cpu_supports_bf16() else 'no'} (the MLP trains in fp32); seed {args.seed}")
    header = ("dataset", "metric", "mlp", "linear", "hist_gradient_boosting", "hist-gradient-boosting",
              "mlp s", "hist-gradient-boosting s")
    print(" | ".join(header))
    for row in rows:
        linear = row.get("logistic_regression", row.get("linear_regression", float("nan")))
        cells = [row["dataset"], row["metric"], row["mlp"], linear, row.get("hist_gradient_boosting"),
                 row["hist-gradient-boosting"], row["mlp s"], row["hist-gradient-boosting s"]]
        print(" | ".join(f"{c:.3f}" if isinstance(c, float) else str(c) for c in cells))
        print(f"  mlp / linear = {row['mlp'] / linear:.3f}" if isinstance(linear, float) and linear else "")


if __name__ == "__main__":
    main()
