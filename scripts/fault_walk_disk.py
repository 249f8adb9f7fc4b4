"""Fault walk, part 3: a full disk. UCLAB_HOME must be on a small file system of its own
(for example ``mount -t tmpfs -o size=64m tmpfs /tmp/full``). The disk is filled to a few MB,
a real worker trains until a checkpoint save fails, then read-only CLI commands are run.

    UCLAB_HOME=/tmp/full python scripts/fault_walk_disk.py [free_mb]
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main(free_target_mb: float) -> dict:
    from training_data import add_text_dataset, text_frame, tiny_model

    from core.config import get_settings
    from core.run_config import TrainConfig
    from core.store import runs
    from core.training import service as training

    home = get_settings().home
    run_id = runs.create_run(dataset_id=add_text_dataset(text_frame(rows=200)), model_key=tiny_model(),
                             task="classification", seed=1,
                             config=TrainConfig(max_steps=20, batch_size=8, eval_every=5).to_dict()).id
    ballast = home / "ballast"
    with open(ballast, "wb") as handle:
        while shutil.disk_usage(home).free > free_target_mb * 2**20 + 2**20:
            handle.write(b"\0" * 2**20)
            handle.flush()
    free_before = shutil.disk_usage(home).free / 2**20
    training.kick_queue()
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and runs.get_run(run_id).status in ("queued", "running"):
        time.sleep(1)
    info = runs.get_run(run_id)
    checkpoints = home / "runs" / str(run_id) / "checkpoints"
    with open(ballast, "ab") as handle:  # the read-only commands run with 0 bytes free
        try:
            while True:
                handle.write(b"\0" * 2**16)
                handle.flush()
        except OSError:
            pass
    full_mb = round(shutil.disk_usage(home).free / 2**20, 1)
    cli = {}
    for args in (["runs", "list", "--json"], ["runs", "show", str(run_id), "--json"],
                 ["datasets", "list", "--json"], ["models", "list", "--json"]):
        done = subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True)
        cli[" ".join(args)] = done.returncode if done.returncode else "ok (exit 0)"
    with sqlite3.connect(home / "uclab.db") as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    return {"free_mb_before_training": round(free_before, 1), "status": info.status,
            "reason": info.status_reason, "step": info.step,
            "checkpoints_left": sorted(p.name for p in checkpoints.glob("*checkpoint-*")),
            "partial_left": sorted(p.name for p in checkpoints.glob("*checkpoint-*")
                                   if not (p / runs.COMPLETE_MARKER).exists()),
            "free_mb_when_cli_ran": full_mb, "read_only_cli_on_the_full_disk": cli, "integrity": integrity}


if __name__ == "__main__":
    print(json.dumps(main(float(sys.argv[1]) if len(sys.argv) > 1 else 6), indent=1))
