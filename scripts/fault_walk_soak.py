"""Fault walk, part 4: one writer and N reader processes on the same SQLite database for S
seconds; counts calls and 'database is locked' errors.

    UCLAB_HOME=/tmp/walk python scripts/fault_walk_soak.py [readers] [seconds]
"""

from __future__ import annotations

import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def _work(role: str, run_id: int, seconds: float, out: mp.Queue) -> None:
    from core.store import runs

    calls = locked = other = 0
    end = time.monotonic() + seconds
    step = 0
    while time.monotonic() < end:
        try:
            if role == "writer":
                step += 1
                runs.add_metrics(run_id, step, None, "train", {"loss": 1.0 / step})
                runs.add_log(run_id, f"step {step}")
                runs.update_progress(run_id, step=step)
            else:
                runs.get_run(run_id)
                runs.metrics_frame(run_id)
                runs.log_tail(run_id, 30)
                runs.list_runs()
            calls += 1
        except Exception as exc:  # noqa: BLE001 - counted, not raised
            locked += "locked" in str(exc)
            other += "locked" not in str(exc)
    out.put((role, calls, locked, other))


def main(readers: int, seconds: float) -> dict:
    from training_data import add_text_dataset

    from core.store import runs

    run_id = runs.create_run(dataset_id=add_text_dataset(), model_key="m", task="classification",
                             config={}, seed=1).id
    runs.transition(run_id, "running")
    out: mp.Queue = mp.Queue()
    procs = [mp.Process(target=_work, args=(role, run_id, seconds, out))
             for role in ["writer"] + ["reader"] * readers]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return {"writers": 1, "readers": readers, "seconds": seconds,
            "write_calls": sum(c for r, c, _, _ in results if r == "writer"),
            "read_calls": sum(c for r, c, _, _ in results if r == "reader"),
            "database_is_locked": sum(x for _, _, x, _ in results),
            "other_errors": sum(x for _, _, _, x in results)}


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(main(int(args[0]) if args else 8, float(args[1]) if len(args) > 1 else 30)))
