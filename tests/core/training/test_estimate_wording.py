"""The estimate speaks of text lengths with the statistic the Datasets page shows (the median)."""

from __future__ import annotations

from pathlib import Path

from training_data import add_text_dataset, tiny_model

from core.run_config import TrainConfig
from core.store import orm
from core.store.db import session_scope
from core.training import service as training


def test_a_cut_is_described_by_the_median_like_on_the_datasets_page(home: Path) -> None:
    key, dataset = tiny_model(), add_text_dataset()
    with session_scope(write=True) as s:
        row = s.get(orm.Dataset, dataset)
        row.quality = {**(row.quality or {}), "stats": {"token_lengths": {"median": 680.0, "mean": 874.0,
                                                                         "max": 3000}}}
    estimate = training.estimate_run(dataset, key, TrainConfig(epochs=1, max_length=128))
    assert ("The median text has 680 tokens, more than the max length 128: the ends of most texts "
            "will be cut.") in estimate.warnings
    assert not any("874" in w for w in estimate.warnings)


def test_the_estimate_uses_the_speed_of_earlier_runs_of_the_same_model_and_task(home: Path) -> None:
    import os

    from core.store import runs

    key, dataset = tiny_model(), add_text_dataset()
    config = TrainConfig(epochs=1, batch_size=4, max_length=64)
    before = training.estimate_run(dataset, key, config)
    assert "earlier run" not in before.speed_source
    past = runs.create_run(dataset_id=dataset, model_key=key, task="classification", config=config.to_dict(),
                           seed=1)
    runs.claim_run(past.id, os.getpid())
    runs.transition(past.id, "succeeded", samples_per_second=1.4)  # slower than any probe promised
    after = training.estimate_run(dataset, key, config)
    assert after.speed_source == "measured in 1 earlier run of this model for this task here"
    assert abs(after.samples_per_second - 1.4) < 0.05  # same data and length: the same speed
    assert after.seconds > before.seconds


def test_time_left_includes_the_final_evaluation_until_the_phase_takes_over() -> None:
    from types import SimpleNamespace

    from core.training.estimates import remaining_seconds

    training_run = SimpleNamespace(eta_seconds=60.0, samples_per_second=10.0, summary={})
    assert remaining_seconds(training_run, {"train": 5000, "validation": 100, "test": 200}) == 70.0
    evaluating = SimpleNamespace(eta_seconds=12.0, samples_per_second=10.0,
                                 summary={"phase": "Evaluating on 200 test rows…"})
    assert remaining_seconds(evaluating, {"validation": 100, "test": 200}) == 12.0
    assert remaining_seconds(SimpleNamespace(eta_seconds=None, samples_per_second=None, summary={})) is None


def test_time_around_the_steps_comes_from_earlier_runs_when_there_are_some() -> None:
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace

    from core.training.estimates import Overheads, remaining_seconds

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    past = [SimpleNamespace(created_at=t0, started_at=t0 + timedelta(seconds=20),
                            finished_at=t0 + timedelta(seconds=20 + 100 + extra), elapsed_seconds=100.0)
            for extra in (300, 340, 380)]  # a generator's final evaluation: minutes after its last step
    overheads = Overheads.from_runs(past)
    assert overheads == Overheads(launch=20.0, after=340.0)
    running = SimpleNamespace(eta_seconds=60.0, samples_per_second=0.2, summary={})
    assert remaining_seconds(running, {"validation": 17, "test": 18}, overheads) == 400.0
    assert Overheads.from_runs([]) is None
