"""The quality figure: a default full run of the bundled MiniLM on the movie-review dataset.

Imports the gallery's movie-review sentiment set (split by movie, 80/10/10), queues a run with
the "full" preset (3 epochs, every training row), waits for it in the background worker, then
prints test accuracy next to the TF-IDF + logistic regression and majority baselines, and the
wall time. Expect the model above 0.82 and TF-IDF near 0.74; on a 2-core CPU with no other load
it takes roughly 20–30 minutes (≈30,600 training samples at 20–30 samples/s, plus evaluations).

    UCLAB_HOME=/tmp/uclab-quality .venv/bin/python scripts/quality_run.py [--preset quick] [--json]

The same with the CLI:

    python -m core datasets import movie-reviews --json        # note the dataset id
    python -m core train --dataset ID --model minilm-l6 --preset full --wait --json
    python -m core evaluate RUN_ID
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from core.data import gallery
    from core.models.catalog import MINILM_KEY
    from core.results.evaluation import get_evaluation
    from core.training import service as training

    parser = argparse.ArgumentParser(description="Movie-review quality run (MiniLM vs baselines).")
    parser.add_argument("--preset", default="full", choices=list(training.PRESETS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    dataset = gallery.import_gallery("movie-reviews")
    print(f"Dataset #{dataset.id} {dataset.label}: {dataset.split_sizes}", file=sys.stderr)
    config = training.TrainConfig.from_preset(args.preset)
    estimate = training.estimate_run(dataset.id, MINILM_KEY, config)
    print(f"Estimate: {estimate.steps} steps, about {estimate.seconds / 60:.0f} min "
          f"({estimate.speed_source}).", file=sys.stderr)
    run = training.start_run(training.TrainRequest(dataset.id, MINILM_KEY, config, name="quality-figure"))
    print(f"Run #{run.id} queued; waiting (python -m core runs show {run.id} for progress)…", file=sys.stderr)
    run = training.wait_for_run(run.id, poll=10.0)
    if run.status != "succeeded":
        sys.exit(f"Run #{run.id} ended {run.status}: {run.status_reason}")
    result = get_evaluation(run.id, "test")
    wall = (run.finished_at - run.started_at).total_seconds() if run.started_at and run.finished_at else None
    figure = {"run_id": run.id, "dataset_id": dataset.id, "preset": args.preset, "steps": run.step,
              "device": run.device, "wall_seconds": wall, "training_seconds": run.elapsed_seconds,
              "test_accuracy": result.metrics["accuracy"], "test_macro_f1": result.metrics["macro_f1"],
              "baselines": {b.name: {"accuracy": b.metrics["accuracy"], "gain": b.gain["accuracy"]}
                            for b in result.baselines}}
    if args.json:
        print(json.dumps(figure, indent=2))
        return
    print(f"MiniLM ({args.preset}): test accuracy {figure['test_accuracy']:.3f}, macro F1 "
          f"{figure['test_macro_f1']:.3f}, {run.step} steps, wall {wall / 60:.1f} min on {run.device}")
    for name, b in figure["baselines"].items():
        print(f"  {name:<13} accuracy {b['accuracy']:.3f}  (model {b['gain']:+.3f})")


if __name__ == "__main__":
    main()
