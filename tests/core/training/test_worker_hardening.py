"""Issue 16 items 3, 7 and 13: a full disk, a resume from the final checkpoint and re-run steps,
a poisoned checkpoint. The worker runs inline on the tiny model."""

from __future__ import annotations

import errno
import pickle
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from training_data import add_text_dataset, tiny_model

from core.ml.trainer import GuardedTrainer
from core.run_config import TrainConfig
from core.store import orm, runs
from core.store.db import session_scope
from core.training import disk, evidence, queue, worker
from core.training import service as training


@pytest.fixture
def inline(home: Path, monkeypatch: pytest.MonkeyPatch) -> worker.InlineLauncher:
    launcher = worker.InlineLauncher()
    monkeypatch.setattr(queue, "_launcher", launcher)
    return launcher


def _queue(**kw: object) -> int:
    config = TrainConfig(**{"max_steps": 5, "batch_size": 4, "eval_every": 2, **kw})
    return runs.create_run(dataset_id=add_text_dataset(), model_key=tiny_model(), task="classification",
                           config=config.to_dict(), seed=42).id


def _metric_keys(run_id: int) -> list[tuple[int, str, str]]:
    with session_scope() as s:
        return list(s.execute(select(orm.RunMetric.step, orm.RunMetric.split, orm.RunMetric.name)
                              .where(orm.RunMetric.run_id == run_id)).all())


def _checkpoints(home: Path, run_id: int) -> list[str]:
    return sorted(p.name for p in (home / "runs" / str(run_id) / "checkpoints").glob("checkpoint-*"))


def _fail_once(monkeypatch: pytest.MonkeyPatch, target: object, name: str, exc: BaseException) -> None:
    original = getattr(target, name)
    state = {"done": False}

    def once(*args: object, **kwargs: object) -> object:
        if not state["done"]:
            state["done"] = True
            raise exc
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, once)


def test_item7_resume_from_the_final_checkpoint_trains_no_extra_step(
        inline: worker.InlineLauncher, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = _queue()
    # Killed while evaluating, after the checkpoint of the last step was saved.
    _fail_once(monkeypatch, evidence, "store_evaluation", RuntimeError("killed while evaluating"))
    assert worker.run(run_id) == 1
    assert _checkpoints(home, run_id)[-1] == "checkpoint-5"
    resumed = training.resume_run(run_id)
    assert resumed.status == "succeeded", resumed.status_reason
    assert resumed.step == 5
    assert "checkpoint-6" not in _checkpoints(home, run_id)
    assert any("nothing is left to train" in line for line in runs.log_tail(run_id))


def test_item7_re_run_steps_replace_their_metric_rows(inline: worker.InlineLauncher,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = _queue(max_steps=8, eval_every=4)
    original = GuardedTrainer.training_step
    crashed = {"done": False}

    def crash_at_6(self, model, inputs, num_items_in_batch=None):  # noqa: ANN001, ANN202
        if self.state.global_step + 1 == 6 and not crashed["done"]:
            crashed["done"] = True
            raise RuntimeError("crash after step 5 was logged")
        return original(self, model, inputs, num_items_in_batch)

    monkeypatch.setattr(GuardedTrainer, "training_step", crash_at_6)
    assert worker.run(run_id) == 1
    assert (5, "train", "loss") in _metric_keys(run_id)  # logged after checkpoint-4
    resumed = training.resume_run(run_id)
    assert resumed.status == "succeeded", resumed.status_reason
    keys = _metric_keys(run_id)
    assert len(keys) == len(set(keys)), "a re-run step is stored once"
    assert runs.add_metrics(run_id, 8, 1.0, "train", {"loss": 0.1}) is None
    assert _metric_keys(run_id).count((8, "train", "loss")) == 1


def test_item3_full_disk_fails_the_run_with_the_sentence_and_removes_partial_checkpoints(
        inline: worker.InlineLauncher, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = _queue(max_steps=6, eval_every=2)
    run_dir = home / "runs" / str(run_id)
    original, add_log = GuardedTrainer.training_step, runs.add_log
    full = {"now": False}

    def full_at_4(self, model, inputs, num_items_in_batch=None):  # noqa: ANN001, ANN202
        if self.state.global_step + 1 == 4:
            partial = run_dir / "checkpoints" / "checkpoint-4"
            partial.mkdir(parents=True)
            (partial / "model.safetensors").write_bytes(b"\0" * 1024)  # half-written, no marker
            full["now"] = True
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, model, inputs, num_items_in_batch)

    def log_needs_the_disk(*args: object, **kwargs: object) -> None:
        if full["now"]:  # once the disk is full, log lines cannot be written any more
            raise OperationalError("INSERT INTO run_logs", {}, Exception("database or disk is full"))
        add_log(*args, **kwargs)

    monkeypatch.setattr(GuardedTrainer, "training_step", full_at_4)
    monkeypatch.setattr(runs, "add_log", log_needs_the_disk)
    assert worker.run(run_id) == 1
    info = runs.get_run(run_id)
    assert info.status == "failed"
    assert info.status_reason.startswith("The disk is full (")
    assert " MB free in UCLAB_HOME)" in info.status_reason
    assert _checkpoints(home, run_id) == ["checkpoint-2"]  # the complete one stays for the resume
    assert not (home / disk.RESERVE_NAME).exists()  # given back so the status could be written


def test_item3_disk_full_is_recognised_through_wrappers() -> None:
    wrapped = OperationalError("UPDATE runs", {}, Exception("database or disk is full"))
    assert disk.is_disk_full(wrapped)
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("PytorchStreamWriter failed writing file data") from inner
    except RuntimeError as outer:
        assert disk.is_disk_full(outer)
    assert not disk.is_disk_full(ValueError("bad value"))


class _Payload:
    def __reduce__(self) -> tuple:
        return (Path.touch, (Path("/tmp/uclab16-poison-ran"),))


def test_item13_poisoned_checkpoint_is_refused_with_a_sentence(inline: worker.InlineLauncher,
                                                               home: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    sentinel = Path("/tmp/uclab16-poison-ran")
    sentinel.unlink(missing_ok=True)
    run_id = _queue(max_steps=6, eval_every=2)
    original = GuardedTrainer.training_step

    def crash_at_5(self, model, inputs, num_items_in_batch=None):  # noqa: ANN001, ANN202
        if self.state.global_step + 1 == 5:
            raise RuntimeError("crash at step 5")
        return original(self, model, inputs, num_items_in_batch)

    monkeypatch.setattr(GuardedTrainer, "training_step", crash_at_5)
    assert worker.run(run_id) == 1
    last = runs.last_complete_checkpoint(home / "runs" / str(run_id) / "checkpoints")
    assert last is not None and last.name == "checkpoint-4"
    for name in ("optimizer.pt", "rng_state.pth"):
        if (last / name).exists():
            (last / name).write_bytes(pickle.dumps(_Payload()))
    resumed = training.resume_run(run_id)
    assert resumed.status == "failed"
    assert "checkpoint-4 of run" in resumed.status_reason and "is not trusted" in resumed.status_reason
    assert "Start a new run" in resumed.status_reason
    assert "weights_only" not in resumed.status_reason
    assert not sentinel.exists(), "the pickled payload never ran"
