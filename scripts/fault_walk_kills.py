"""Fault walk, part 1: kill -9 the training worker N times at random moments, and after each
kill check the database's integrity, the run's reason, and that it resumes; then let it finish.

    UCLAB_HOME=/tmp/walk python scripts/fault_walk_kills.py 20 [steps]

Prints one JSON document with the figures (a walk, not a test: it takes minutes).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def _wait(predicate, timeout: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def main(kills: int, steps: int = 100) -> dict:
    from training_data import add_text_dataset, text_frame, tiny_model

    from core.config import get_settings
    from core.run_config import TrainConfig
    from core.store import runs
    from core.training import service as training

    home = get_settings().home
    config = TrainConfig(max_steps=steps, batch_size=8, eval_every=5, save_total_limit=3,
                         debug={"step_sleep": 0.05})
    run_id = runs.create_run(dataset_id=add_text_dataset(text_frame(rows=400)), model_key=tiny_model(),
                             task="classification", config=config.to_dict(), seed=42).id
    training.kick_queue()
    rng = random.Random(16)
    events = []
    seen = -1
    for i in range(kills):
        # Each worker first trains a step past the last kill (loading takes a while on a busy
        # machine), then dies at a random moment: in a step, a checkpoint save or an evaluation.
        assert _wait(lambda s=seen: (r := runs.get_run(run_id)).status in ("succeeded", "failed")
                     or (r.status == "running" and r.step > s), 600)
        time.sleep(rng.uniform(0.0, 3.0))
        info = runs.get_run(run_id)
        if info.status != "running":
            break
        pid = info.pid
        os.kill(pid, signal.SIGKILL)
        _wait(lambda pid=pid: not runs.pid_alive(pid), 30)
        cdir = home / "runs" / str(run_id) / "checkpoints"
        partial = [p.name for p in cdir.glob("*checkpoint-*") if not (p / runs.COMPLETE_MARKER).exists()]
        runs.reap_stale(timedelta(0))
        after = runs.get_run(run_id)
        with sqlite3.connect(home / "uclab.db") as db:
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        last = runs.last_complete_checkpoint(cdir)
        seen = after.step
        events.append({"kill": i + 1, "step": after.step, "total": after.total_steps,
                       "phase": ("loading the model and data" if not after.total_steps
                                 else "evaluation/saving after the last step"
                                 if after.step >= after.total_steps
                                 else "checkpoint save" if partial else "training step"),
                       "partial_checkpoints": partial, "status": after.status,
                       "reason_ok": "stopped unexpectedly" in after.status_reason,
                       "integrity": integrity, "resume_from": last.name if last else None})
        resumed = training.resume_run(run_id)
        events[-1]["resumed_status"] = resumed.status
    assert _wait(lambda: not runs.get_run(run_id).is_live, 600)
    final = runs.get_run(run_id)
    keys = runs.metrics_frame(run_id)[["step", "split", "name"]].apply(tuple, axis=1).tolist()
    folders = sorted(int(p.name.split("-")[1]) for p in (home / "runs" / str(run_id) / "checkpoints")
                     .glob("checkpoint-*"))
    return {"kills": len(events), "integrity_ok": sum(e["integrity"] == "ok" for e in events),
            "reason_ok": sum(e["reason_ok"] for e in events),
            "interrupted": sum(e["status"] == "interrupted" for e in events),
            "resumed_queued_or_running": sum(e["resumed_status"] in ("queued", "running") for e in events),
            "phases": {p: sum(e["phase"] == p for e in events) for p in {e["phase"] for e in events}},
            "final_status": final.status, "final_step": final.step, "total_steps": final.total_steps,
            "checkpoint_steps_left": folders, "metric_rows": len(keys),
            "duplicate_metric_rows": len(keys) - len(set(keys)), "events": events}


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(main(*args) if args else main(20), indent=1, default=str))
