"""Saving immutable versions: canonical columns per task, versions, idempotence, no partial writes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.data import datasets
from core.data.datasets import (
    SplitConfig,
    check_dataset,
    frame_to_parsed,
    get_dataset,
    list_datasets,
    load_dataset_frame,
    read_upload,
    save_dataset,
    suggest_mapping,
)
from core.errors import DatasetError, NotFoundError


def _csv(n: int = 60, extra: str = "") -> bytes:
    rows = ["text,stars"] + [f"review {i} {extra} was {'great' if i % 2 else 'poor'},{i % 2 + 4}"
                             for i in range(n)]
    return ("\n".join(rows) + "\n").encode()


def _files(home: Path) -> list[str]:
    folder = home / "datasets"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _save(data: bytes, name: str = "Reviews", filename: str = "reviews.csv", **kw):
    parsed = read_upload(data, filename)
    mapping = kw.pop("mapping", {"text": "text", "label": "stars"})
    return save_dataset(parsed, mapping, name=name, task=kw.pop("task", "classification"),
                        split=kw.pop("split", SplitConfig()), **kw)


def test_save_writes_parquet_with_canonical_columns(home: Path) -> None:
    info = _save(_csv())
    assert (info.name, info.version, info.task, info.row_count) == ("Reviews", 1, "classification", 60)
    assert info.split_sizes == {"train": 48, "validation": 6, "test": 6}
    assert info.path.startswith("datasets/") and not Path(info.path).is_absolute()
    assert (home / info.path).is_file()
    assert info.quality["stats"]["class_counts"] == {"5": 30, "4": 30}
    frame = load_dataset_frame(info.id)
    assert list(frame.columns) == ["split", "text", "label"]
    assert frame["label"].map(type).eq(str).all()
    assert load_dataset_frame(info.id, "test")["split"].eq("test").all()
    assert len(load_dataset_frame(info.id, "validation")) == 6
    assert get_dataset(info.id) == info and list_datasets() == [info]


def test_same_content_returns_the_existing_version(home: Path) -> None:
    first = _save(_csv())
    again = _save(_csv(), filename="copy.csv")
    assert again.id == first.id and len(_files(home)) == 1


def test_new_content_or_split_makes_a_new_version(home: Path) -> None:
    first = _save(_csv())
    changed = _save(_csv(extra="edited"))
    reseeded = _save(_csv(), split=SplitConfig(seed=1))
    assert (first.version, changed.version, reseeded.version) == (1, 2, 3)
    assert changed.content_hash != first.content_hash
    assert reseeded.content_hash == first.content_hash
    other = _save(_csv(), name="Other name")
    assert other.version == 1 and other.id != first.id
    assert [d.id for d in list_datasets()] == [other.id, reseeded.id, changed.id, first.id]


def test_upload_name_never_becomes_a_path(home: Path) -> None:
    info = _save(_csv(), filename="../../../etc/evil name.csv")
    assert info.source_filename == "evil name.csv"
    assert Path(info.path).parent == Path("datasets")
    assert "evil" not in info.path


def test_blocking_problem_saves_nothing_and_keeps_earlier_versions(home: Path) -> None:
    kept = _save(_csv())
    before = _files(home)
    one_class = b"text,label\n" + b"".join(f"t{i},spam\n".encode() for i in range(30))
    with pytest.raises(DatasetError, match="cannot be saved: Every row has the same label 'spam'"):
        _save(one_class, mapping={"text": "text", "label": "label"})
    with pytest.raises(DatasetError, match=r"^The file has no column 'label'. Columns found: text, stars.$"):
        _save(_csv(), mapping={"text": "text", "label": "label"})
    assert _files(home) == before and list_datasets() == [kept]


def test_failed_database_write_leaves_no_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    with monkeypatch.context() as patch, pytest.raises(RuntimeError):
        patch.setattr("core.store.datasets.to_info", boom)  # fails inside the write transaction
        _save(_csv())
    assert [f for f in _files(home)] == [] and list_datasets() == []


@pytest.mark.parametrize(("mapping", "task", "message"), [
    ({"text": "text"}, "classification", "Choose the column that holds the label."),
    ({"text": "text", "label": "text"}, "classification", "chosen for two roles"),
    ({"text": "text", "label": "stars"}, "poetry", "Unknown task 'poetry'"),
    ({"label": "stars", "features": ["nope"]}, "tabular", "The file has no column 'nope'."),
    ({"text": "text", "label": "stars", "group": "movie"}, "classification", "no column 'movie'"),
])
def test_bad_mappings(home: Path, mapping: dict, task: str, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        _save(_csv(), mapping=mapping, task=task)
    assert _files(home) == [] and list_datasets() == []


def test_regression_labels_are_floats(home: Path) -> None:
    info = _save(_csv(), task="regression")
    assert load_dataset_frame(info.id)["label"].dtype == float
    assert info.quality["stats"]["label_summary"]["min"] == 4.0


def test_token_classification_keeps_lists(home: Path) -> None:
    rows = [{"words": ["Ann", "paid", str(i)], "ner": ["B-PER", "O", "O"]} for i in range(30)]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    parsed = read_upload(data, "ner.jsonl")
    mapping = suggest_mapping(parsed.frame)
    assert (mapping["task"], mapping["tokens"], mapping["tags"]) == ("token-classification", "words", "ner")
    info = save_dataset(parsed, mapping, name="NER", task="token-classification", split=SplitConfig())
    frame = load_dataset_frame(info.id)
    assert list(frame.columns) == ["split", "tokens", "tags"]
    assert frame["tokens"].iloc[0][:2] == ["Ann", "paid"] and isinstance(frame["tags"].iloc[0], list)


def test_causal_lm_formats(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # core.tasks.chat's checks load SmolLM2's tokenizer (slow); they are tested with core.tasks.chat.
    monkeypatch.delitem(datasets.TASK_CHECKS, "causal-lm")
    pairs = pd.DataFrame({"prompt": [f"q{i}?" for i in range(30)], "response": [f"a{i}" for i in range(30)]})
    mapping = suggest_mapping(pairs)
    assert (mapping["task"], mapping["format"], mapping["completion"]) == ("causal-lm", "prompt_completion",
                                                                            "response")
    info = save_dataset(frame_to_parsed(pairs, "p.csv"), mapping, name="Pairs", task="causal-lm",
                        split=SplitConfig())
    assert list(load_dataset_frame(info.id).columns) == ["split", "prompt", "completion"]
    chats = pd.DataFrame({"messages": [[{"role": "user", "content": f"hi {i}"},
                                        {"role": "assistant", "content": "hello"}] for i in range(30)]})
    info = save_dataset(frame_to_parsed(chats, "c.jsonl"), {"messages": "messages", "format": "messages"},
                        name="Chats", task="causal-lm", split=SplitConfig())
    stored = load_dataset_frame(info.id)["messages"].iloc[0]
    assert isinstance(stored, str) and json.loads(stored)[1] == {"role": "assistant", "content": "hello"}


def test_tabular_keeps_features_and_label(home: Path) -> None:
    frame = pd.DataFrame({"size": range(60), "colour": ["red", "blue", "green"] * 20,
                          "kind": ["a", "b"] * 30})
    mapping = suggest_mapping(frame, "tabular")
    assert mapping["features"] == ["size", "colour"] and mapping["label"] == "kind"
    info = save_dataset(frame_to_parsed(frame, "t.csv"), mapping, name="Tab", task="tabular",
                        split=SplitConfig())
    assert info.mapping["target_kind"] == "classification"
    assert list(load_dataset_frame(info.id).columns) == ["split", "size", "colour", "label"]


def test_group_column_is_kept_and_respected(home: Path) -> None:
    frame = pd.DataFrame({"text": [f"review {i}" for i in range(100)], "label": ["a", "b"] * 50,
                          "movie": [f"m{i // 5}" for i in range(100)]})
    info = save_dataset(frame_to_parsed(frame, "g.csv"), {"text": "text", "label": "label"},
                        name="G", task="classification", split=SplitConfig(group_column="movie"))
    saved = load_dataset_frame(info.id)
    assert saved.groupby("group")["split"].nunique().max() == 1
    assert info.quality["stats"]["split_method"].startswith("grouped")


def test_suggest_mapping_for_a_plain_upload() -> None:
    frame = pd.DataFrame({"id": range(30), "review": [f"a long review text number {i}" for i in range(30)],
                          "sentiment": ["pos", "neg", "neutral"] * 10, "split": ["train", "test"] * 15})
    mapping = suggest_mapping(frame)
    assert (mapping["task"], mapping["text"], mapping["label"], mapping["split_column"]) == (
        "classification", "review", "sentiment", "split")
    assert mapping["group"] is None


def test_check_dataset_writes_nothing(home: Path) -> None:
    report = check_dataset(read_upload(_csv(), "r.csv"), {"text": "text", "label": "stars"},
                           task="classification", split=SplitConfig())
    assert report.ok and _files(home) == [] and list_datasets() == []


def test_unknown_id_and_split(home: Path) -> None:
    with pytest.raises(NotFoundError, match="no dataset with id 42"):
        get_dataset(42)
    info = _save(_csv())
    with pytest.raises(DatasetError, match="Unknown split 'dev'"):
        load_dataset_frame(info.id, "dev")
    (home / info.path).unlink()
    with pytest.raises(DatasetError, match="is missing from UCLAB_HOME"):
        load_dataset_frame(info.id)
