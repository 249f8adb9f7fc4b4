"""`uclab sweep` of preference (DPO) runs: --kind preference --from-run / --model, --beta-range, and
one-sentence errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from training_data import RecordingLauncher, add_text_dataset

from core.cli import main
from core.run_config import TrainConfig
from core.store import runs
from core.training import queue, sweep
from tests.preference_data import add_pairs_dataset
from tests.tiny_chat import build_tiny_chat_lm


@pytest.fixture
def setup(home: Path, tmp_path: Path) -> Iterator[tuple[str, int, int]]:
    """(tiny chat model key, preference dataset id, a finished causal-LM run of that model)."""
    from core.models import catalog

    queue.set_launcher(RecordingLauncher())  # trials stay queued: nothing trains here
    key = catalog.add_local_model(str(build_tiny_chat_lm(tmp_path / "tiny-chat", seed=1))).key
    parent = runs.create_run(dataset_id=add_text_dataset(name="chat"), model_key=key, task="causal-lm",
                             config=TrainConfig().to_dict(), seed=42)
    runs.transition(parent.id, "running", pid=1)
    runs.transition(parent.id, "succeeded")
    yield key, add_pairs_dataset(), parent.id
    queue.set_launcher(None)


def test_a_preference_sweep_from_a_run_sweeps_beta_in_the_given_range(setup, capsys) -> None:
    key, pairs, parent = setup
    assert main(["sweep", "--dataset", str(pairs), "--kind", "preference", "--from-run", str(parent),
                 "--beta-range", "0.2..0.4", "--trials", "2", "--max-steps", "6", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    s = data["sweep"]
    assert (s["metric"], s["direction"], s["model_key"], s["asked"]) == ("dpo_loss", "minimize", key, 1)
    assert s["space"] == "beta=0.2..0.4, learning_rate=5e-5..0.0005:log, lora_rank=4|8|16"
    [trial] = [r for r in runs.list_runs(limit=20) if sweep.sweep_tag(r.config)]
    c = trial.config
    assert (c["training_kind"], c["parent_run_id"], c["max_steps"]) == ("preference", parent, 6)
    assert 0.2 <= c["beta"] <= 0.4


def test_a_preference_dataset_alone_means_a_preference_sweep_on_the_model(setup, capsys) -> None:
    key, pairs, _parent = setup
    assert main(["sweep", "--dataset", str(pairs), "--model", key, "--trials", "1", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)["sweep"]
    assert (s["metric"], s["base_config"]["training_kind"], s["base_config"]["parent_run_id"]) == \
        ("dpo_loss", "preference", None)


@pytest.mark.parametrize(("args", "words"), [
    (["--from-run", "{parent}", "--dataset", "{chat}"], "holds no preference pairs"),
    (["--kind", "supervised", "--from-run", "{parent}", "--dataset", "{pairs}"], "add --kind preference"),
    (["--kind", "preference", "--dataset", "{pairs}"], "--from-run"),
    (["--from-run", "{parent}", "--dataset", "{pairs}", "--epochs", "2"], "--max-steps instead of --epochs"),
    (["--from-run", "{parent}", "--dataset", "{pairs}", "--beta-range", "0.1..0.3",
      "--space", "beta=0.1|0.2"], "not both"),
    (["--from-run", "{parent}", "--dataset", "{pairs}", "--space", "epochs=1..3"], "count steps"),
    (["--from-run", "999", "--dataset", "{pairs}"], "no run with id 999"),
])
def test_preference_sweep_errors_are_one_sentence(setup, capsys, args, words) -> None:
    key, pairs, parent = setup
    chat = add_text_dataset(name="plain")
    argv = [a.format(parent=parent, pairs=pairs, chat=chat) for a in args]
    assert main(["sweep", *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sweep.list_sweeps() == []
