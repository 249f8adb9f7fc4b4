"""Run persistence: the status machine, the atomic claim, progress, metrics, logs, queue and reaping."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from training_data import add_text_dataset

from core.errors import NotFoundError, RunStateError
from core.store import runs
from core.store.orm import utcnow


def _run(dataset_id: int) -> int:
    return runs.create_run(dataset_id=dataset_id, model_key="m", task="classification",
                           config={"epochs": 1}, seed=1).id


@pytest.fixture
def dataset(home: Path) -> int:
    return add_text_dataset()


def test_new_run_is_queued_with_a_default_name(dataset: int) -> None:
    info = runs.get_run(_run(dataset))
    assert info.status == "queued" and info.name == f"run-{info.id}" and info.is_live


def test_transitions_follow_the_status_machine(dataset: int) -> None:
    run_id = _run(dataset)
    with pytest.raises(RunStateError, match="queued, so it cannot become succeeded"):
        runs.transition(run_id, "succeeded")
    running = runs.transition(run_id, "running")
    assert running.started_at is not None and running.heartbeat_at is not None
    done = runs.transition(run_id, "succeeded", step=7)
    assert done.status == "succeeded" and done.finished_at is not None and done.step == 7
    with pytest.raises(RunStateError):
        runs.transition(run_id, "queued")  # a succeeded run is final


def test_failed_run_may_be_queued_again_and_loses_its_reason(dataset: int) -> None:
    run_id = _run(dataset)
    runs.transition(run_id, "running")
    runs.transition(run_id, "failed", reason="boom.")
    again = runs.transition(run_id, "queued")
    assert again.status == "queued" and again.status_reason == "" and again.finished_at is None


def test_unknown_run_is_a_clear_error(home: Path) -> None:
    with pytest.raises(NotFoundError, match="no run with id 99"):
        runs.get_run(99)


def test_claim_is_atomic_and_respects_the_slot_limit(dataset: int) -> None:
    first, second = _run(dataset), _run(dataset)
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(runs.claim_run(first, 111)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    assert not runs.claim_run(second, 222, max_running=1)  # the only slot is taken
    assert runs.claim_run(second, 222, max_running=2)
    assert runs.running_count() == 2


def test_progress_reports_cancel_and_metrics_store_nan_as_missing(dataset: int) -> None:
    run_id = _run(dataset)
    runs.transition(run_id, "running")
    assert runs.update_progress(run_id, step=3, epoch=0.5, eta_seconds=float("inf")) is False
    runs.request_cancel(run_id)
    assert runs.update_progress(run_id, step=4) is True
    runs.add_metrics(run_id, 4, 0.5, "train", {"loss": float("nan"), "lr": 1e-5, "flag": True})
    frame = runs.metrics_frame(run_id)
    assert list(frame.columns) == ["step", "epoch", "split", "name", "value"]
    assert set(frame["name"]) == {"loss", "lr"}
    assert frame.loc[frame["name"] == "loss", "value"].isna().all()
    info = runs.get_run(run_id)
    assert info.step == 4 and info.eta_seconds is None and info.cancel_requested


def test_cancelling_a_queued_run_is_immediate(dataset: int) -> None:
    info = runs.request_cancel(_run(dataset))
    assert info.status == "cancelled"
    with pytest.raises(RunStateError):
        runs.request_cancel(info.id)


def test_logs_and_queue_positions(dataset: int) -> None:
    a, b, c = _run(dataset), _run(dataset), _run(dataset)
    for i in range(5):
        runs.add_log(a, f"line {i}")
    assert [line.split()[-1] for line in runs.log_tail(a, tail=2)] == ["3", "4"]
    assert [runs.queue_position(x) for x in (a, b, c)] == [1, 2, 3]
    runs.transition(a, "running")
    assert [runs.queue_position(x) for x in (a, b, c)] == [0, 1, 2]


def test_reap_sees_a_dead_local_process_at_once(dataset: int) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run_id = _run(dataset)
    runs.claim_run(run_id, dead.pid)
    assert runs.reap_stale() == [run_id]  # the heartbeat is fresh, but the pid is known dead
    info = runs.get_run(run_id)
    assert info.status == "interrupted"
    assert "stopped unexpectedly" in info.status_reason and "gone" in info.status_reason


def test_reap_sees_a_reused_pid_at_once(dataset: int) -> None:
    import os

    run_id = _run(dataset)
    # Our own pid, but with another start time: the process that claimed the run is gone and
    # the pid now belongs to someone else.
    runs.claim_run(run_id, os.getpid(), pid_started=1.0)
    assert runs.reap_stale() == [run_id]
    assert "gone" in runs.get_run(run_id).status_reason


def test_a_run_held_on_another_host_is_judged_by_its_heartbeat(dataset: int) -> None:
    run_id = _run(dataset)
    runs.claim_run(run_id, 1, host="gpu-box-2", pid_started=123.0)  # pid 1 here means nothing
    assert runs.reap_stale() == []
    assert runs.reap_stale(now=utcnow() + timedelta(minutes=2)) == [run_id]
    assert "on gpu-box-2 silent" in runs.get_run(run_id).status_reason


def test_reap_spares_a_live_worker_but_not_a_hung_one(dataset: int) -> None:
    import os

    run_id = _run(dataset)
    runs.claim_run(run_id, os.getpid())
    assert runs.reap_stale(now=utcnow() + timedelta(minutes=2)) == []
    assert runs.reap_stale(now=utcnow() + timedelta(hours=1)) == [run_id]
    assert "hung" in runs.get_run(run_id).status_reason


def test_claim_launch_reserves_a_queued_run_once(dataset: int) -> None:
    import os

    run_id = _run(dataset)
    assert runs.claim_launch(run_id, os.getpid())
    assert not runs.claim_launch(run_id, os.getpid())  # our pid is alive: already launching


def test_last_complete_checkpoint_skips_partial_folders(tmp_path: Path) -> None:
    for step in (5, 10, 15):
        (tmp_path / f"checkpoint-{step}").mkdir()
    runs.mark_complete(tmp_path / "checkpoint-5")
    runs.mark_complete(tmp_path / "checkpoint-10")
    assert runs.last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-10"
    assert runs.last_complete_checkpoint(tmp_path / "missing") is None
