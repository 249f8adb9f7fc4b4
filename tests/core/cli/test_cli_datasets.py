"""`python -m core datasets …` through core.cli.main: output, --json, and exit code 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main


@pytest.fixture
def reviews(tmp_path: Path) -> Path:
    path = tmp_path / "reviews.csv"
    rows = ["review,stars,movie"] + [f"review {i} was {'great' if i % 2 else 'poor'},{i % 2 + 4},m{i // 4}"
                                      for i in range(80)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_add_prints_the_version_with_counts(home: Path, reviews: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["datasets", "add", str(reviews), "--name", "Reviews", "--task", "classification",
                 "--text-column", "review", "--label-column", "stars", "--group-column", "movie",
                 "--seed", "3"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("Saved 'Reviews' v1 (id 1, classification): 80 rows — train ")


def test_add_json_then_list_and_show(home: Path, reviews: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["datasets", "add", str(reviews), "--name", "R", "--task", "classification",
                 "--label-column", "stars", "--json"]) == 0
    saved = json.loads(capsys.readouterr().out)
    assert saved["version"] == 1 and saved["row_count"] == 80
    assert saved["mapping"]["text"] == "review" and saved["split_sizes"]["test"] == 8
    assert main(["datasets", "list", "--json"]) == 0
    assert [d["id"] for d in json.loads(capsys.readouterr().out)] == [saved["id"]]
    assert main(["datasets", "list"]) == 0
    assert "R     1        classification  80" in capsys.readouterr().out
    assert main(["datasets", "show", str(saved["id"])]) == 0
    shown = capsys.readouterr().out
    assert "R v1 (id 1)" in shown and "quality report:" in shown


@pytest.mark.parametrize(("args", "message"), [
    (["--label-column", "nope"], "The file has no column 'nope'. Columns found: review, stars, movie."),
    (["--validation-size", "0.9"], "keep their sum below 0.95"),
])
def test_bad_input_exits_2_with_one_sentence(home: Path, reviews: Path, capsys: pytest.CaptureFixture,
                                             args: list[str], message: str) -> None:
    code = main(["datasets", "add", str(reviews), "--name", "R", "--task", "classification", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    folder = home / "datasets"
    assert not folder.exists() or not list(folder.iterdir())


def test_missing_file_and_unknown_id(home: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["datasets", "add", "/no/such/file.csv", "--name", "x", "--task", "regression"]) == 2
    assert "There is no file at '/no/such/file.csv'" in capsys.readouterr().err
    assert main(["datasets", "show", "7"]) == 2
    assert "no dataset with id 7" in capsys.readouterr().err


def test_gallery_list_and_import(home: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["datasets", "gallery"]) == 0
    table = capsys.readouterr().out
    assert "movie-reviews" in table and "Watch brand sentiment" in table
    assert main(["datasets", "import", "iris", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["task"] == "tabular" and info["info"]["gallery"] == "iris"
    assert main(["datasets", "import", "iris"]) == 0
    assert f"(id {info['id']}, tabular)" in capsys.readouterr().out


def test_add_with_an_encoding(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "ru.csv"
    texts = [f"Отзыв номер {i}: {'хороший' if i % 2 else 'плохой'} фильм" for i in range(40)]
    path.write_bytes(("text,label\n" + "".join(f"{t},{i % 2}\n" for i, t in enumerate(texts))
                      ).encode("cp1251"))
    assert main(["datasets", "add", str(path), "--name", "ru", "--task", "classification",
                 "--encoding", "cp1251", "--json"]) == 0
    saved = json.loads(capsys.readouterr().out)
    assert saved["info"]["encoding"] == "cp1251"
    assert main(["datasets", "add", str(path), "--name", "ru", "--task", "classification",
                 "--encoding", "utf-8"]) == 2
    assert "cannot be read as UTF-8" in capsys.readouterr().err


def test_an_ambiguous_encoding_is_refused_naming_both_readings(home: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "few.csv"
    path.write_bytes("text,label\n配送が早い,a\n助かりました,b\n".encode("euc_jp"))
    args = ["datasets", "add", str(path), "--name", "ja", "--task", "classification"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "EUC-JP (Japanese)" in err and "GBK (Chinese, simplified)" in err
    assert "--encoding euc-jp" in err and "--encoding gbk" in err and "Traceback" not in err
    folder = home / "datasets"
    assert not folder.exists() or not list(folder.iterdir())
    assert main([*args, "--encoding", "euc-jp", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["info"]["encoding"] == "euc-jp"


def test_encoding_must_be_a_text_encoding(home: Path, reviews: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["datasets", "add", str(reviews), "--name", "R", "--task", "classification",
                 "--encoding", "zlib_codec"])
    err = capsys.readouterr().err
    assert code == 2 and "'zlib_codec' is not a text encoding" in err and "Traceback" not in err
