"""Run settings: presets, then the task's own defaults, then what the person chose."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.run_config import TrainConfig


def test_task_defaults_sit_between_the_preset_and_the_overrides() -> None:
    plain = TrainConfig.from_preset("quick")
    tagger = TrainConfig.from_preset("quick", task="token-classification")
    mlp = TrainConfig.from_preset("quick", task="tabular")
    chosen = TrainConfig.from_preset("quick", task="tabular", learning_rate=1e-2)
    assert (plain.learning_rate, plain.epochs, plain.max_train_rows) == (5e-5, 1.0, 2000)
    assert tagger.learning_rate == 2e-4 and tagger.epochs == 1.0
    assert (mlp.learning_rate, mlp.epochs, mlp.task_options["hidden_sizes"]) == (3e-3, 200.0, [64, 64])
    assert (mlp.early_stopping, mlp.lr_scheduler) == (True, "reduce_lr_on_plateau")
    assert chosen.learning_rate == 1e-2
    assert TrainConfig.from_preset("full", task="causal-lm").eval_batch_size == 8


def test_an_unknown_preset_is_a_sentence() -> None:
    with pytest.raises(ConfigError, match="Unknown preset 'fast'"):
        TrainConfig.from_preset("fast")


def test_an_unknown_learning_rate_schedule_is_a_sentence() -> None:
    with pytest.raises(ConfigError, match="learning-rate schedule must be one of"):
        TrainConfig(lr_scheduler="exponential")
