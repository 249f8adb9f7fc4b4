"""`uclab sweep`: start with an estimate, one JSON document, the leaderboard, one-sentence errors."""

from __future__ import annotations

import json

import pytest
from training_data import RecordingLauncher

from core.cli import main
from core.data import gallery
from core.training import queue


@pytest.fixture
def iris(home):
    launcher = RecordingLauncher()  # trials stay queued: nothing trains in these tests
    queue.set_launcher(launcher)
    yield gallery.import_gallery("iris")
    queue.set_launcher(None)


def test_sweep_starts_with_an_estimate_and_queues_parallel_trials(iris, capsys) -> None:
    code = main(["sweep", "--dataset", str(iris.id), "--model", "mlp", "--trials", "3", "--parallel", "2",
                 "--space", "learning_rate=1e-3..3e-2:log, hidden_size=8|16", "--epochs", "2", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)  # exactly one JSON document
    sweep = data["sweep"]
    assert (sweep["asked"], sweep["n_trials"], sweep["metric"]) == (2, 3, "macro_f1")
    assert data["sweep"]["space"] == "learning_rate=0.001..0.03:log, hidden_size=8|16"
    assert [t["state"] for t in data["trials"]] == ["RUNNING", "RUNNING"]
    assert data["estimate"]["seconds"] > 0 and "3 trials" in data["estimate"]["sentence"]

    assert main(["sweep", "show", str(data["sweep"]["id"])]) == 0
    text = capsys.readouterr().out
    assert f"Sweep #{data['sweep']['id']}: running" in text and "trial 0" in text and "trial 1" in text
    assert main(["sweep", "list", "--json"]) == 0
    assert [s["id"] for s in json.loads(capsys.readouterr().out)["sweeps"]] == [data["sweep"]["id"]]


@pytest.mark.parametrize(("args", "words"), [
    (["--space", "learning_rate=5..1"], "smaller to a larger"),
    (["--space", "colour=1|2"], "cannot be swept"),
    (["--trials", "0"], "between 1 and"),
    (["--parallel", "0"], "--parallel"),
])
def test_bad_sweep_input_is_one_sentence_and_exit_2(iris, capsys, args, words) -> None:
    assert main(["sweep", "--dataset", str(iris.id), "--model", "mlp", *args]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_show_of_a_missing_sweep_and_a_start_without_a_model_exit_2(iris, capsys) -> None:
    assert main(["sweep", "show", "99"]) == 2
    assert "no sweep with id 99" in capsys.readouterr().err
    assert main(["sweep", "--dataset", str(iris.id)]) == 2
    assert "--model" in capsys.readouterr().err
