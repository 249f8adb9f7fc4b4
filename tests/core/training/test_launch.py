"""One way to start a worker (core.training.launch), and reads that never start one (issue 26)."""

from __future__ import annotations

import sys

from training_data import RecordingLauncher, add_text_dataset

from core.store import runs
from core.training import daemon, launch, queue
from core.training import service as training


def test_reading_runs_starts_no_worker_but_a_kick_does(home, monkeypatch) -> None:
    launcher = RecordingLauncher()
    monkeypatch.setattr(queue, "_launcher", launcher)
    run = runs.create_run(dataset_id=add_text_dataset(), model_key="m", task="classification", config={},
                          seed=1)
    assert [r.id for r in training.list_runs()] == [run.id]
    assert training.get_run(run.id).status == "queued"
    assert launcher.launched == []  # the pages only read
    assert training.kick_queue() == [run.id] and launcher.launched == [run.id]


def test_every_launcher_builds_the_same_command_and_environment(home) -> None:
    assert launch.worker_command(7) == [sys.executable, "-m", "core.training.worker", "7"]
    assert daemon.child_command(7, 1) == [sys.executable, "-m", "core.training.worker", "7", "--claimed"]
    several = daemon.child_command(7, 2)
    assert several[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert several[-4:] == ["-m", "core.training.worker", "7", "--claimed"]
    env = launch.worker_env()
    assert env["UCLAB_HOME"] == str(home) and env["HF_HUB_OFFLINE"] == "1"
    assert env["PYTHONPATH"].split(":")[0] == str(launch.ROOT)
    assert daemon.child_env([]) == {**env, "CUDA_VISIBLE_DEVICES": ""}  # a CPU run sees no GPU
    assert launch.daemon_command(2, 60.0)[1:] == ["-m", "core.training.daemon", "--local", "2", "60.0"]
