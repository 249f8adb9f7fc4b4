"""Estimated against actual wall time of five short runs of different tasks, on this machine.

Each run goes the app's whole way: a dataset version saved from a gallery table (the first rows
only, so the runs stay short), ``core.training.service.start_run`` with the real launcher (a
worker process), the final evaluation and baselines. Per run it prints

* before   – ``estimate_run`` before the run starts (earlier runs' speed, else the probe/default);
* after    – at the first progress write past 20 % of the steps: the wall time so far plus
             ``remaining_seconds`` (the run's own pace for the steps left and its final evaluation);
* actual   – wall time from ``start_run`` to the terminal status;

and each estimate's error against the actual time (target: "after" within ±35 %), then the CPU
and whether it computes bf16. Uses its own UCLAB_HOME under the temp folder and keeps it, so a
second pass estimates from the first pass's runs (their speed and the time around their steps).

    .venv/bin/python bench/estimates.py [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("UCLAB_HOME", str(Path(tempfile.gettempdir()) / "uclab-bench-estimates"))

# (gallery key, rows kept, model, config overrides)
RUNS = [
    ("movie-reviews", 600, "minilm-l6", {"epochs": 1.0, "batch_size": 16}),
    ("support-ticket-entities", 300, "minilm-l6", {"epochs": 2.0, "batch_size": 16}),
    ("wine", 178, "mlp", {"epochs": 30.0, "batch_size": 32, "learning_rate": 3e-3}),
    ("diabetes", 442, "mlp", {"epochs": 20.0, "batch_size": 32, "learning_rate": 3e-3}),
    ("chat-pairs", 150, "smollm2-135m-instruct", {"epochs": 1.0, "batch_size": 8}),
]


def _dataset(key: str, rows: int) -> Any:
    from core.data import datasets, gallery

    entry, frame, mapping, split = gallery.load_gallery_frame(key)
    frame = frame.sample(n=min(rows, len(frame)), random_state=0).reset_index(drop=True)
    parsed = datasets.frame_to_parsed(frame, f"{key}.csv", "gallery")
    return datasets.save_dataset(parsed, mapping, name=f"{entry.title} ({rows} rows)", task=entry.task,
                                 split=datasets.SplitConfig(0.2, 0.2, 42,
                                                            split.group_column, None))


def _one(key: str, rows: int, model_key: str, overrides: dict[str, Any]) -> dict[str, Any]:
    from core.run_config import TrainConfig
    from core.store import runs
    from core.training import service as training
    from core.training.estimates import Overheads, estimate_run, past_runs, remaining_seconds

    dataset = _dataset(key, rows)
    config = TrainConfig.from_preset("quick", task=dataset.task, max_train_rows=None, **overrides)
    before = estimate_run(dataset.id, model_key, config).seconds
    overheads = Overheads.from_runs(past_runs(model_key, dataset.task))
    start = time.monotonic()
    run = training.start_run(training.TrainRequest(dataset_id=dataset.id, model_key=model_key, config=config))
    after = None
    while True:
        info = runs.get_run(run.id)
        if info.status not in ("queued", "running"):
            break
        past = info.total_steps and info.step >= max(1, math.ceil(0.2 * info.total_steps))
        if after is None and past and info.eta_seconds is not None:
            left = remaining_seconds(info, dataset.split_sizes, overheads)
            after = (time.monotonic() - start) + (left or 0.0)
        time.sleep(0.25)
    actual = time.monotonic() - start
    return {"task": dataset.task, "data": f"{key} ({dataset.row_count} rows)", "model": model_key,
            "steps": info.total_steps, "status": info.status, "before_s": round(before, 1),
            "after_s": round(after, 1) if after is not None else None, "actual_s": round(actual, 1),
            "history": overheads is not None, "before_error": round(before / actual - 1, 3),
            "after_error": round(after / actual - 1, 3) if after is not None else None}


def main() -> None:
    from core.ml.device import machine_facts

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from core.models import catalog

    catalog.model_path("smollm2-135m-instruct")  # the one-time conversion is not part of any run
    rows = [_one(*spec) for spec in RUNS]
    machine = machine_facts()
    if args.json:
        print(json.dumps({"runs": rows, "machine": machine}, indent=2))
        return
    print(f"{'task':22} {'model':22} {'steps':>5} {'before':>8} {'after':>8} {'actual':>8} "
          f"{'err before':>10} {'err after':>10}")
    for r in rows:
        after = f"{r['after_s']:.0f} s" if r["after_s"] is not None else "—"
        err = f"{r['after_error']:+.0%}" if r["after_error"] is not None else "—"
        print(f"{r['task']:22} {r['model']:22} {r['steps']:>5} {r['before_s']:>6.0f} s {after:>8} "
              f"{r['actual_s']:>6.0f} s {r['before_error']:>+10.0%} {err:>10}  {r['status']}"
              f"{'  (from earlier runs)' if r['history'] else ''}")
    print(f"machine: {machine}")


if __name__ == "__main__":
    main()
