"""The engine on an Apple GPU (mocked): no forced CPU, and a missing MPS operation retrains on the CPU."""

from __future__ import annotations

import pytest
from sklearn.datasets import load_iris

from core.ml import device as devices
from core.ml.tasks.registry import get_adapter
from core.run_config import TrainConfig
from core.training import engine
from tests.core.ml.test_tabular_task import CONFIG, inputs, make_run, sk_parts

MISSING_OP = ("The operator 'aten::fake_op' is not currently implemented for the MPS device. As a "
              "temporary fix, you can set the environment variable `PYTORCH_ENABLE_MPS_FALLBACK=1`.")


def test_mps_is_not_forced_onto_the_cpu_and_a_missing_operation_falls_back(home, tmp_path, monkeypatch):
    monkeypatch.setattr(devices, "choose_device", lambda: "mps")
    original = engine.GuardedTrainer.train
    seen: list[bool] = []

    def train(self, *args, **kwargs):
        seen.append(self.args.use_cpu)
        if not self.args.use_cpu:  # the Apple GPU: this model needs an operation it lacks
            raise NotImplementedError(MISSING_OP)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(engine.GuardedTrainer, "train", train)
    parts, mapping = sk_parts(load_iris)
    config = TrainConfig(**{**CONFIG, "max_steps": 3})
    run_id = make_run(config)
    lines: list[str] = []
    outcome = engine.train(run_id, inputs(parts, mapping, config, tmp_path), get_adapter("tabular"),
                           home / "runs" / str(run_id), log=lines.append)
    assert outcome.status == "succeeded" and outcome.global_step == 3
    assert seen == [False, True]  # first on MPS (use_cpu off), then on the CPU
    assert any(line.startswith("The Apple GPU (MPS) lacks an operation") for line in lines)
    assert any(line.startswith("Device: mps (Apple GPU") for line in lines)
    assert any(line.startswith("Device: cpu (") for line in lines)


def test_other_errors_on_mps_are_not_hidden(home, tmp_path, monkeypatch):
    monkeypatch.setattr(devices, "choose_device", lambda: "mps")

    def train(self, *args, **kwargs):
        raise RuntimeError("something else broke")

    monkeypatch.setattr(engine.GuardedTrainer, "train", train)
    parts, mapping = sk_parts(load_iris)
    config = TrainConfig(**{**CONFIG, "max_steps": 2})
    with pytest.raises(RuntimeError, match="something else broke"):
        engine.train(make_run(config), inputs(parts, mapping, config, tmp_path), get_adapter("tabular"),
                     home / "runs" / "1", log=lambda _: None)
