"""Fixing labels with lineage: checks, conflicts, the fixed version (same rows, same splits) and its chain."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.data import datasets, relabel
from core.errors import DatasetError


def _reviews(name: str = "reviews") -> datasets.DatasetInfo:
    rows = [{"text": f"A {'great' if i % 2 else 'dull'} film number {i}",
             "label": "fresh" if i % 2 else "rotten"} for i in range(60)]
    parsed = datasets.frame_to_parsed(pd.DataFrame(rows), "reviews.csv")
    return datasets.save_dataset(parsed, {"text": "text", "label": "label"}, name=name,
                                 task="classification", split=datasets.SplitConfig(0.2, 0.2, 7))


def _test_rows(dataset_id: int) -> tuple[pd.DataFrame, list[int]]:
    frame = datasets.load_dataset_frame(dataset_id)
    return frame, [i + 1 for i in frame.index[frame["split"] == "test"]]


def _other(label: str) -> str:
    return "rotten" if label == "fresh" else "fresh"


def test_fixed_version_keeps_every_row_and_split_and_records_its_lineage(home: Path) -> None:
    v1 = _reviews()
    frame, test = _test_rows(v1.id)
    train_row = int(frame.index[frame["split"] == "train"][0]) + 1
    fixes = {test[0]: _other(frame.at[test[0] - 1, "label"]),
             train_row: _other(frame.at[train_row - 1, "label"])}
    relabel.record_check(v1.id, test[0], fixes[test[0]], reviewer="ada@example.com", reason="says great")
    relabel.record_check(v1.id, train_row, fixes[train_row], reviewer="bob@example.com")
    relabel.record_check(v1.id, test[1], None, reviewer="bob@example.com")

    v2 = relabel.make_fixed_version(v1.id, created_by="ada@example.com", from_run=None)

    assert (v2.name, v2.version, v2.row_count) == (v1.name, 2, v1.row_count)
    assert v2.split_sizes == v1.split_sizes
    after = datasets.load_dataset_frame(v2.id)
    assert after["split"].tolist() == frame["split"].tolist()  # the same split, row for row
    assert after["text"].tolist() == frame["text"].tolist()
    changed = [i + 1 for i in after.index[after["label"] != frame["label"]]]
    assert changed == sorted(fixes)
    assert all(after.at[r - 1, "label"] == fixes[r] for r in fixes)
    lineage = v2.info[relabel.LINEAGE]
    assert lineage["parent_id"] == v1.id and lineage["fixed"] == 2 and lineage["confirmed_right"] == 1
    assert sorted(lineage["people"]) == ["ada@example.com", "bob@example.com"]
    first = next(c for c in lineage["changes"] if c["row"] == test[0])
    assert first == {"row": test[0], "split": "test", "old": frame.at[test[0] - 1, "label"],
                     "new": fixes[test[0]], "by": ["ada@example.com"], "why": "says great"}
    assert v2.quality["findings"]  # its own quality report, as for any version
    steps = relabel.lineage(v2.id)
    assert [s.dataset_id for s in steps] == [v1.id, v2.id]
    assert steps[-1].sentence == "v1 → v2: 2 labels fixed by 2 people"
    assert [d.id for d in relabel.children_of(v1.id)] == [v2.id]
    # Making it again from the same checks gives the same version, not a v3.
    assert relabel.make_fixed_version(v1.id).id == v2.id
    # A fix of v2 makes v3: the row keeps its number, the chain grows by one.
    relabel.record_check(v2.id, test[2], _other(after.at[test[2] - 1, "label"]), reviewer="ada@example.com")
    v3 = relabel.make_fixed_version(v2.id)
    assert [s.version for s in relabel.lineage(v3.id)] == [1, 2, 3]
    assert relabel.lineage(v3.id)[-1].sentence == "v2 → v3: 1 label fixed by 1 person"
    third = datasets.load_dataset_frame(v3.id)
    assert third["split"].tolist() == frame["split"].tolist()
    assert [i + 1 for i in third.index[third["label"] != frame["label"]]] == sorted([*fixes, test[2]])
    assert relabel.newest_labels(v1.id, [test[2]]) == (v3, [third.at[test[2] - 1, "label"]])


def test_a_later_check_replaces_the_same_persons_and_two_people_disagreeing_is_a_conflict(home: Path) -> None:
    v1 = _reviews()
    frame, test = _test_rows(v1.id)
    row = test[0]
    wrong = _other(frame.at[row - 1, "label"])
    relabel.record_check(v1.id, row, wrong, reviewer="ada")
    relabel.record_check(v1.id, row, None, reviewer="ada")  # ada changes her mind
    assert [(c.reviewer, c.new_value) for c in relabel.list_checks(v1.id)] == [("ada", None)]
    relabel.record_check(v1.id, row, wrong, reviewer="bob")
    res = relabel.resolve_checks(relabel.list_checks(v1.id))
    assert res.fixes == () and res.confirmed == 0
    assert [(c.row, c.verdicts) for c in res.conflicts] == [(row, (("ada", None), ("bob", wrong)))]
    with pytest.raises(DatasetError, match="conflicting checks"):
        relabel.make_fixed_version(v1.id)
    # Saying "it should be" the stored label is saying it is right.
    same = relabel.record_check(v1.id, test[1], frame.at[test[1] - 1, "label"], reviewer="ada")
    assert same.new_value is None
    # Once ada agrees, the row is a fix by both of them.
    relabel.record_check(v1.id, row, wrong, reviewer="ada")
    res = relabel.resolve_checks(relabel.list_checks(v1.id))
    assert [(f.row, f.new, f.by) for f in res.fixes] == [(row, wrong, ("ada", "bob"))]


def test_conflicting_rows_stay_out_of_the_new_version_and_are_counted(home: Path) -> None:
    v1 = _reviews()
    frame, test = _test_rows(v1.id)
    relabel.record_check(v1.id, test[0], _other(frame.at[test[0] - 1, "label"]), reviewer="ada")
    relabel.record_check(v1.id, test[1], _other(frame.at[test[1] - 1, "label"]), reviewer="ada")
    relabel.record_check(v1.id, test[1], None, reviewer="bob")
    v2 = relabel.make_fixed_version(v1.id)
    after = datasets.load_dataset_frame(v2.id)
    assert after.at[test[1] - 1, "label"] == frame.at[test[1] - 1, "label"]
    assert v2.info[relabel.LINEAGE]["conflicts_left_out"] == 1
    assert v2.info[relabel.LINEAGE]["fixed"] == 1


def test_bad_checks_get_one_sentence(home: Path) -> None:
    v1 = _reviews()
    with pytest.raises(DatasetError, match="not one of the dataset's labels"):
        relabel.record_check(v1.id, 1, "meh", reviewer="ada")
    with pytest.raises(DatasetError, match="has no row 61"):
        relabel.record_check(v1.id, 61, "fresh", reviewer="ada")
    with pytest.raises(DatasetError, match="nothing to fix"):
        relabel.make_fixed_version(v1.id)


def test_entity_tags_are_fixed_one_per_token(home: Path) -> None:
    rows = [{"tokens": ["Ada", "paid", "ACME", str(i)],
             "tags": ["B-PER", "O", "B-ORG" if i % 3 else "O", "O"]} for i in range(40)]
    parsed = datasets.frame_to_parsed(pd.DataFrame(rows), "tickets.jsonl")
    v1 = datasets.save_dataset(parsed, {"tokens": "tokens", "tags": "tags"}, name="tickets",
                               task="token-classification", split=datasets.SplitConfig(0.2, 0.2, 3))
    frame, test = _test_rows(v1.id)
    row = next(r for r in test if frame.at[r - 1, "tags"][2] == "O")
    with pytest.raises(DatasetError, match="one tag per token"):
        relabel.record_check(v1.id, row, "B-PER O B-ORG", reviewer="ada")
    with pytest.raises(DatasetError, match="Unknown tag 'B-XYZ'"):
        relabel.record_check(v1.id, row, "B-PER O B-XYZ O", reviewer="ada")
    relabel.record_check(v1.id, row, "B-PER O B-ORG O", reviewer="ada", reason="ACME is a company")
    v2 = relabel.make_fixed_version(v1.id)
    after = datasets.load_dataset_frame(v2.id)
    assert after.at[row - 1, "tags"] == ["B-PER", "O", "B-ORG", "O"]
    assert after["split"].tolist() == frame["split"].tolist()
    assert v2.info[relabel.LINEAGE]["changes"][0]["old"] == ["B-PER", "O", "O", "O"]


def test_a_fix_that_no_longer_matches_its_row_is_refused() -> None:
    frame = pd.DataFrame({"split": ["train", "test"], "text": ["a", "b"], "label": ["x", "y"]})
    stale = relabel.LabelFix(2, "test", "x", "y", ("ada",), ())
    with pytest.raises(DatasetError, match="no longer holds"):
        relabel.apply_fixes(frame, [stale], "label")


def test_tasks_without_label_fixes_are_refused(home: Path) -> None:
    rows = pd.DataFrame({"text": [f"t {i}" for i in range(30)], "label": [float(i) for i in range(30)]})
    v1 = datasets.save_dataset(datasets.frame_to_parsed(rows, "n.csv"), {"text": "text", "label": "label"},
                               name="numbers", task="regression", split=datasets.SplitConfig())
    with pytest.raises(DatasetError, match="cannot be checked"):
        relabel.record_check(v1.id, 1, "3", reviewer="ada")
