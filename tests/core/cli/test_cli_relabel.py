"""`uclab datasets relabel` and `uclab datasets lineage`: checks from a CSV, the new version, its chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.data import datasets


@pytest.fixture
def reviews(tmp_path: Path) -> Path:
    path = tmp_path / "reviews.csv"
    rows = ["review,stars"] + [f"review {i} was {'great' if i % 2 else 'poor'},{i % 2 + 4}"
                               for i in range(60)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_relabel_from_a_csv_makes_the_next_version_and_lineage_shows_it(
        home: Path, reviews: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["datasets", "add", str(reviews), "--name", "Reviews", "--task", "classification",
                 "--text-column", "review", "--label-column", "stars", "--json"]) == 0
    v1 = json.loads(capsys.readouterr().out)
    frame = datasets.load_dataset_frame(v1["id"])
    test = [i + 1 for i in frame.index[frame["split"] == "test"]]
    fixes = tmp_path / "fixes.csv"
    fixes.write_text("row,new_label,reason\n"
                     f"{test[0]},{'4' if frame.at[test[0] - 1, 'label'] == '5' else '5'},\"typo, clearly\"\n"
                     f"{test[1]},,\n", encoding="utf-8")
    assert main(["datasets", "relabel", str(v1["id"]), "--fixes", str(fixes), "--by", "ada",
                 "--make-version", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["checks_saved"] == 2 and made["resolution"]["confirmed"] == 1
    v2 = made["new_version"]
    assert (v2["name"], v2["version"]) == ("Reviews", 2)

    assert main(["datasets", "lineage", str(v2["id"]), "--json"]) == 0
    chain = json.loads(capsys.readouterr().out)["chain"]
    assert [s["dataset_id"] for s in chain] == [v1["id"], v2["id"]]
    assert chain[1]["sentence"] == "v1 → v2: 1 label fixed by 1 person"
    assert chain[1]["changes"][0]["row"] == test[0] and chain[1]["changes"][0]["why"] == "typo, clearly"
    assert main(["datasets", "lineage", str(v1["id"])]) == 0
    text = capsys.readouterr().out
    assert "Reviews v1 (id 1): v1: as uploaded" in text and "made from it: Reviews v2 (id 2)" in text


def test_bad_fix_files_exit_2_with_one_sentence(home: Path, reviews: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    assert main(["datasets", "add", str(reviews), "--name", "R", "--task", "classification",
                 "--text-column", "review", "--label-column", "stars"]) == 0
    capsys.readouterr()
    bad = tmp_path / "bad.csv"
    bad.write_text("line,label\n1,4\n", encoding="utf-8")
    assert main(["datasets", "relabel", "1", "--fixes", str(bad)]) == 2
    assert "needs the columns row and new_label" in capsys.readouterr().err
    bad.write_text("row,new_label\n1,7\n", encoding="utf-8")
    assert main(["datasets", "relabel", "1", "--fixes", str(bad)]) == 2
    assert "'7' is not one of the dataset's labels (4, 5)" in capsys.readouterr().err
    assert main(["datasets", "lineage", "99"]) == 2
    assert "There is no dataset with id 99" in capsys.readouterr().err


def test_train_again_queues_a_run_with_the_checked_runs_settings(home: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    from core.training import service as training
    from tests.pages.seed import save_labelled_reviews, seed_predicted_run
    from tests.training_data import RecordingLauncher

    v1 = save_labelled_reviews()
    frame = datasets.load_dataset_frame(v1.id)
    row = int(frame.index[frame["split"] == "test"][0]) + 1
    run = seed_predicted_run(v1.id, list(datasets.load_dataset_frame(v1.id, "test")["label"]))
    fixes = tmp_path / "fixes.csv"
    other = "fresh" if frame.at[row - 1, "label"] == "rotten" else "rotten"
    fixes.write_text(f"row,new_label\n{row},{other}\n", encoding="utf-8")
    launcher = RecordingLauncher()
    training.set_launcher(launcher)
    try:
        assert main(["datasets", "relabel", str(v1.id), "--fixes", str(fixes), "--from-run", str(run.id),
                     "--make-version", "--json"]) == 0
        v2 = json.loads(capsys.readouterr().out)["new_version"]
        assert main(["datasets", "train-again", str(v2["id"]), "--json"]) == 0
        again = json.loads(capsys.readouterr().out)
        assert (again["dataset_id"], again["model_key"], again["status"]) == (v2["id"], "minilm-l6", "queued")
        assert launcher.launched == [again["id"]]
        assert main(["datasets", "train-again", str(v1.id)]) == 2
        assert "not made from labels checked on a run" in capsys.readouterr().err
    finally:
        training.set_launcher(None)
