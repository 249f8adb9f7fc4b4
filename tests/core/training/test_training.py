"""Training service: request checks, the queue (one run at a time), cancel/resume rules, estimates."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from training_data import RecordingLauncher, add_text_dataset, tiny_model

from core.errors import ConfigError, NotFoundError, RunStateError
from core.run_config import TrainConfig
from core.store import runs
from core.training import queue
from core.training import service as training


@pytest.fixture
def recorder(home: Path, monkeypatch: pytest.MonkeyPatch) -> RecordingLauncher:
    launcher = RecordingLauncher()
    monkeypatch.setattr(queue, "_launcher", launcher)
    return launcher


def _request(dataset: int, key: str, **config: object) -> training.TrainRequest:
    return training.TrainRequest(dataset, key, TrainConfig(**{"max_steps": 2, **config}))


def test_presets_and_validation() -> None:
    quick = TrainConfig.from_preset("quick", learning_rate=1e-4)
    assert (quick.epochs, quick.max_train_rows, quick.learning_rate) == (1.0, 2000, 1e-4)
    assert TrainConfig.from_preset("full").max_train_rows is None
    with pytest.raises(ConfigError, match="learning rate must be a positive number"):
        TrainConfig(learning_rate=0)
    with pytest.raises(ConfigError, match="Batch size"):
        TrainConfig.from_preset("quick", batch_size=0)
    with pytest.raises(ConfigError, match="Unknown preset"):
        TrainConfig.from_preset("huge")
    assert TrainConfig.from_dict({**quick.to_dict(), "unknown_future_key": 1}) == quick
    assert "NaN" in training.field_help()["learning_rate"]


def test_bad_requests_are_refused_before_anything_is_stored(recorder: RecordingLauncher) -> None:
    key = tiny_model()
    dataset = add_text_dataset()
    with pytest.raises(NotFoundError):
        training.start_run(_request(999, key))
    with pytest.raises(NotFoundError):
        training.start_run(_request(dataset, "no-such-model"))
    with pytest.raises(ConfigError, match="for classification, not causal-lm"):
        training.start_run(training.TrainRequest(dataset, key, TrainConfig(), task="causal-lm"))
    assert runs.list_runs() == [] and recorder.launched == []


def test_one_run_at_a_time_the_rest_wait_in_order(recorder: RecordingLauncher) -> None:
    key, dataset = tiny_model(), add_text_dataset()
    first = training.start_run(_request(dataset, key))
    assert recorder.launched == [first.id]
    runs.claim_run(first.id, os.getpid())  # as its worker would (a live process)
    second = training.start_run(_request(dataset, key))
    third = training.start_run(_request(dataset, key))
    assert recorder.launched == [first.id]
    assert [training.queue_position(r.id) for r in (first, second, third)] == [0, 1, 2]
    runs.transition(first.id, "succeeded")
    assert training.kick_queue() == [second.id]
    assert training.kick_queue() == []  # the second is launching (the launcher's pid is alive)


def test_cancel_queued_and_resume_rules(recorder: RecordingLauncher) -> None:
    key, dataset = tiny_model(), add_text_dataset()
    run = training.start_run(_request(dataset, key))
    runs.claim_run(run.id, os.getpid())
    waiting = training.start_run(_request(dataset, key))
    assert training.cancel_run(waiting.id).status == "cancelled"
    with pytest.raises(RunStateError, match="only an interrupted, cancelled or failed"):
        training.resume_run(run.id)
    runs.transition(run.id, "failed", reason="Boom.")
    with pytest.raises(RunStateError, match="failed before its first checkpoint"):
        training.resume_run(run.id)
    resumed = training.resume_run(waiting.id)  # cancelled before starting: restarts from zero
    assert resumed.status == "queued" and not resumed.cancel_requested
    assert any("from the start" in line for line in training.run_logs(waiting.id))


def test_max_running_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UCLAB_MAX_RUNNING", "3")
    assert queue.max_running() == 3
    monkeypatch.setenv("UCLAB_MAX_RUNNING", "lots")
    assert queue.max_running() == 1


def test_estimate_scales_with_rows_and_warns_when_memory_is_short(
        recorder: RecordingLauncher, monkeypatch: pytest.MonkeyPatch) -> None:
    key, dataset = tiny_model(), add_text_dataset()
    small = training.estimate_run(dataset, key, TrainConfig(epochs=1, batch_size=4))
    large = training.estimate_run(dataset, key, TrainConfig(epochs=50, batch_size=4))
    assert small.train_rows == 48 and small.steps == 12 and large.steps == 600
    assert large.seconds > small.seconds > 0 and small.samples_per_second > 0
    assert "built-in default" in small.speed_source and small.fits
    monkeypatch.setattr("core.training.estimates.available_memory", lambda: 100 * 2**20)
    tight = training.estimate_run(dataset, key, TrainConfig(epochs=1))
    assert not tight.fits and "Lower the batch size" in tight.warnings[0]


def test_lora_needs_less_memory_than_a_full_fine_tune() -> None:
    from core.training.estimates import memory_needed

    shape = {"hidden": 384, "layers": 6, "heads": 12}
    full = memory_needed(22_700_000, TrainConfig(), shape, 30)
    lora = memory_needed(22_700_000, TrainConfig(lora=True), shape, 30)
    longer = memory_needed(22_700_000, TrainConfig(max_length=512), shape, 400)
    assert lora < full < longer


def test_item9_every_field_is_checked_before_queueing(recorder: RecordingLauncher, home: Path) -> None:
    """Issue 16 item 9: hidden sizes 'abc', a dataset whose file is gone and a model folder that
    needs remote code are refused with their sentence, and no run is queued."""
    import json

    import pandas as pd

    from core.errors import DatasetError, ModelError
    from core.models.catalog import MLP_KEY

    frame = pd.DataFrame({"split": ["train"] * 8 + ["validation"] * 2 + ["test"] * 2,
                          "x": [float(i) for i in range(12)], "label": ["a", "b"] * 6})
    table = add_text_dataset(frame, task="tabular", name="table")
    with pytest.raises(ConfigError, match="Hidden sizes must be whole numbers"):
        training.start_run(training.TrainRequest(
            table, MLP_KEY, TrainConfig(max_steps=2, task_options={"hidden_sizes": "abc"}), task="tabular"))

    key, dataset = tiny_model(), add_text_dataset()
    (home / "datasets" / f"{dataset}.parquet").unlink()
    with pytest.raises(DatasetError, match="missing from UCLAB_HOME"):
        training.start_run(_request(dataset, key))

    remote = home / "models" / "remote-code"
    remote.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        (remote / name).write_bytes((home / "models" / "tiny-bert" / name).read_bytes())
    config = json.loads((remote / "config.json").read_text())
    (remote / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoModel": "x.Model"}}))
    with pytest.raises(ModelError, match="never runs code shipped with a model"):
        training.start_run(_request(add_text_dataset(), "local:remote-code"))
    assert runs.list_runs() == [] and recorder.launched == []
