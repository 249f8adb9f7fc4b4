"""Page speed with a big database: 1,000 runs and 200,000 metric rows against an empty one.

Run: ``.venv/bin/python bench/pages.py [--runs 1000] [--metrics 200000] [--repeat 5]``

Times, in one process and side by side, (1) the runs-list service call, (2) the compare service
for 3 runs, and (3) rendering the runs-list page (Fine-tuning) and the Compare page with
``streamlit.testing.v1.AppTest``, each on an empty and on a full database (temporary
UCLAB_HOME folders). Prints the median of ``--repeat`` timings and the full/empty ratio.
Target: every page under 1 s and at most 3x its empty-database time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pandas as pd  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from core.store import db, orm  # noqa: E402

SPLITS = ["train"] * 24 + ["test"] * 8 + ["validation"] * 8


def use_home(home: Path) -> None:
    os.environ["UCLAB_HOME"] = str(home)
    os.environ.pop("UCLAB_DATABASE_URL", None)
    db.reset_engines()


def fill(n_runs: int, n_metrics: int) -> list[int]:
    """One dataset, n_runs finished runs with a test evaluation each, n_metrics metric rows."""
    from core.config import get_settings

    settings = get_settings()
    settings.datasets_dir.mkdir(parents=True, exist_ok=True)
    path = settings.datasets_dir / "bench.parquet"
    pd.DataFrame({"text": [f"text {i}" for i in range(40)], "label": ["a", "b"] * 20,
                  "split": SPLITS}).to_parquet(path)
    now = orm.utcnow()
    with db.session_scope(write=True) as s:
        ds = orm.Dataset(name="bench", version=1, task="classification", source_filename="bench.csv",
                         content_hash="bench", path=settings.relative(path), mapping={},
                         split_sizes={"train": 24, "validation": 8, "test": 8}, quality={}, info={},
                         row_count=40)
        s.add(ds)
        s.flush()
        statuses = ["succeeded"] * 8 + ["failed", "cancelled"]
        s.execute(insert(orm.Run), [{
            "dataset_id": ds.id, "name": f"run-{i + 1}", "model_key": "minilm-l6", "task": "classification",
            "kind": "train", "config": {"epochs": 3.0, "learning_rate": 5e-5 * (1 + i % 4), "batch_size": 16},
            "seed": 42, "status": statuses[i % len(statuses)], "status_reason": "", "cancel_requested": False,
            "created_at": now - timedelta(minutes=n_runs - i), "finished_at": now, "step": 100,
            "total_steps": 100, "epoch": 3.0, "elapsed_seconds": 300.0, "output_dir": "",
            "last_checkpoint": "", "summary": {}, "library_versions": {}, "device": "cpu"}
            for i in range(n_runs)])
        ids = [r for (r,) in s.execute(orm.Run.__table__.select().with_only_columns(orm.Run.id))]
        per_run = max(1, n_metrics // len(ids))
        rows = []
        for run_id in ids:
            for k in range(per_run):
                step = (k // 2 + 1) * 5
                train = k % 2 == 0
                rows.append({"run_id": run_id, "step": step, "epoch": step / 100 * 3, "split":
                             "train" if train else "validation", "name": "loss" if train else "accuracy",
                             "value": 1.0 / step if train else min(1.0, step / 500), "recorded_at": now})
        for start in range(0, len(rows), 50_000):
            s.execute(insert(orm.RunMetric), rows[start:start + 50_000])
        s.execute(insert(orm.Evaluation), [{
            "run_id": r, "split": "test", "model": "run", "predictions_path": "", "created_at": now,
            "metrics": {"accuracy": 0.8 + (r % 10) / 100, "macro_f1": 0.75 + (r % 7) / 100, "n": 8}}
            for r in ids])
    return ids


def median_time(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of `repeat` calls after one warm-up call (imports, caches, first connection)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def render(page: str, query: dict[str, str] | None = None) -> Callable[[], object]:
    from streamlit import config as st_config
    from streamlit.testing.v1 import AppTest

    st_config.set_option("runner.enforceSerializableSessionState", False)

    def go() -> object:
        at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=60)
        for key, value in (query or {}).items():
            at.query_params[key] = value
        at.run()
        if at.exception:
            raise RuntimeError(f"{page} failed: {at.exception[0].value}")
        return at

    return go


def measure(ids: list[int], repeat: int) -> dict[str, float]:
    from core.results import compare
    from core.training import service as training

    three = ",".join(map(str, ids[-3:]))
    figures = {"runs-list service": median_time(lambda: training.list_runs(), repeat)}
    if len(ids) >= 3:
        figures["compare service (3 runs)"] = median_time(lambda: compare.compare_runs(ids[-3:]), repeat)
    if (ROOT / "pages" / "finetune.py").exists():
        figures["runs-list page (Fine-tuning)"] = median_time(render("finetune"), repeat)
    if (ROOT / "pages" / "compare.py").exists():
        figures["compare page (3 runs)"] = median_time(render("compare", {"runs": three} if ids else None),
                                                       repeat)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--metrics", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as empty_home, tempfile.TemporaryDirectory() as full_home:
        use_home(Path(empty_home))
        empty = measure([], args.repeat)
        use_home(Path(full_home))
        start = time.perf_counter()
        ids = fill(args.runs, args.metrics)
        took = time.perf_counter() - start
        print(f"Filled {len(ids):,} runs and {args.metrics:,} metric rows in {took:.1f} s.")
        full = measure(ids, args.repeat)
    print(f"\n{'what':32} {'empty DB':>10} {'full DB':>10} {'ratio':>7}  verdict (< 1 s and <= 3x)")
    ok = True
    for name, seconds in full.items():
        base = empty.get(name)
        ratio = seconds / base if base else float("nan")
        good = seconds < 1.0 and (base is None or ratio <= 3.0)
        ok &= good or "service" in name
        base_text = f"{base * 1000:8.1f}ms" if base is not None else f"{'—':>10}"
        print(f"{name:32} {base_text} {seconds * 1000:8.1f}ms {ratio:6.2f}x  {'ok' if good else 'SLOW'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
