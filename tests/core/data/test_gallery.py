"""The use-case gallery: cards, each packaged loader, one-click idempotent imports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.data import datasets, gallery
from core.data.datasets import load_dataset_frame
from core.errors import NotFoundError

KEYS = [e.key for e in gallery.list_gallery()]


def test_cards_say_question_size_and_licence() -> None:
    entries = gallery.list_gallery()
    assert len(KEYS) == len(set(KEYS)) == 12
    for e in entries:
        assert e.title and e.question and e.licence and e.source and e.description
        assert e.rows > 0
    by_key = {e.key: e for e in entries}
    assert by_key["movie-reviews"].question == "Watch brand sentiment"
    assert by_key["20-newsgroups"].question == "Route incoming tickets by topic"
    assert "Written for this demo" in by_key["support-ticket-entities"].licence
    assert "no explicit licence" in by_key["movie-reviews"].licence
    assert {e.task for e in entries} == {"classification", "causal-lm", "token-classification", "tabular"}


@pytest.mark.parametrize("key", KEYS)
def test_each_loader_returns_rows_with_its_mapped_columns(key: str) -> None:
    entry, frame, mapping, split = gallery.load_gallery_frame(key)
    assert len(frame) >= entry.rows  # before duplicates are left out
    for role in ("text", "label", "tokens", "tags", "prompt", "completion"):
        if mapping.get(role):
            assert mapping[role] in frame.columns
    for column in (split.group_column, split.split_column, *mapping.get("features", [])):
        if column:
            assert column in frame.columns


def test_movie_reviews_import_is_grouped_by_movie_and_idempotent(home: Path) -> None:
    info = gallery.import_gallery("movie-reviews")
    entry = next(e for e in gallery.list_gallery() if e.key == "movie-reviews")
    assert (info.name, info.task, info.row_count) == (entry.title, "classification", entry.rows)
    assert info.info["gallery"] == "movie-reviews" and info.info["licence"] == entry.licence
    frame = load_dataset_frame(info.id)
    assert set(frame["label"]) == {"fresh", "rotten"}
    assert frame.groupby("group")["split"].nunique().max() == 1  # no movie in two splits
    split = next(f["message"] for f in info.quality["findings"] if f["code"] == "split")
    assert split.startswith("Split by 'movie_name' so no value of it is in two splits (")
    codes = {f["code"] for f in info.quality["findings"]}
    assert "duplicates" in codes and not any(f["severity"] == "blocking"
                                             for f in info.quality["findings"])
    again = gallery.import_gallery("movie-reviews")
    assert again.id == info.id and len(datasets.list_datasets()) == 1


def test_reuters_keeps_its_own_test_file(home: Path) -> None:
    info = gallery.import_gallery("reuters-r8")
    assert info.quality["stats"]["split_method"] == "from the file's split column"
    assert info.split_sizes["test"] > 2100  # reuters-r8-test.tab has 2,189 rows
    assert info.split_sizes["validation"] > 0  # carved from the train file
    assert len(info.quality["stats"]["class_counts"]) == 8


def test_support_ticket_entities_are_token_lists(home: Path) -> None:
    info = gallery.import_gallery("support-ticket-entities")
    frame = load_dataset_frame(info.id)
    assert info.task == "token-classification" and len(frame) == 600
    tags = {t[2:] for row in frame["tags"] for t in row if t != "O"}
    assert tags == {"PERSON", "ORG", "PRODUCT", "MONEY", "DATE", "LOC"}
    assert all(len(a) == len(b) for a, b in zip(frame["tokens"], frame["tags"], strict=True))


def test_chat_pairs_keep_each_prompt_in_one_split(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(datasets.TASK_CHECKS, "causal-lm")
    info = gallery.import_gallery("chat-pairs")
    frame = load_dataset_frame(info.id)
    assert info.mapping["format"] == "prompt_completion"
    assert list(frame.columns) == ["split", "prompt", "completion", "group"]
    assert frame.groupby("group")["split"].nunique().max() == 1


@pytest.mark.parametrize(("key", "kind", "classes"), [("iris", "classification", 3),
                                                      ("diabetes", "regression", None)])
def test_sklearn_tables(home: Path, key: str, kind: str, classes: int | None) -> None:
    info = gallery.import_gallery(key)
    assert info.task == "tabular" and info.mapping["target_kind"] == kind
    frame = load_dataset_frame(info.id)
    assert "label" in frame and len(info.mapping["features"]) >= 4
    assert len(info.quality["stats"].get("class_counts", {})) == (classes or 0)


def test_unknown_key(home: Path) -> None:
    with pytest.raises(NotFoundError, match="no gallery dataset 'nope'"):
        gallery.import_gallery("nope")


def test_ner_sample_is_small_and_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.data.samples import make_ner_sample

    committed = gallery.NER_SAMPLE.read_bytes()
    assert len(committed) < 500_000
    monkeypatch.setattr(make_ner_sample, "OUT", tmp_path / "again.jsonl")
    make_ner_sample.main()
    assert (tmp_path / "again.jsonl").read_bytes() == committed
    first = json.loads(committed.splitlines()[0])
    assert len(first["tokens"]) == len(first["tags"])


def test_chinese_use_cases_read_as_chinese(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(datasets.TASK_CHECKS, "causal-lm")  # chat-length checks are not under test
    chat = gallery.import_gallery("chat-pairs-chinese")
    frame = load_dataset_frame(chat.id)
    assert chat.task == "causal-lm" and frame["prompt"].str.contains("你好").any()
    assert chat.quality["stats"]["language"] == "Chinese"
    topics = gallery.import_gallery("chinese-topics")
    entry = next(e for e in gallery.list_gallery() if e.key == "chinese-topics")
    assert (topics.row_count, len(topics.quality["stats"]["class_counts"])) == (entry.rows, entry.classes)
    codes = {f["code"]: f for f in topics.quality["findings"]}
    assert "SmolLM2-135M-Instruct" in codes["unknown_tokens"]["message"]  # MiniLM cannot read it
