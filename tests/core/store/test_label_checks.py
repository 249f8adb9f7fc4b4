"""Label checks in the store (SQLite here, PostgreSQL in CI): one per person and row, replaced, listed."""

from __future__ import annotations

from pathlib import Path

from core.store import label_checks
from tests.fake_runs import add_dataset, add_run


def test_one_check_per_person_and_row_a_later_one_replaces_it(home: Path) -> None:
    first = add_dataset()
    other = add_dataset("other")
    run_id = add_run(first)
    label_checks.save_check(dataset_id=first, row=3, split="test", old_value="good", new_value="bad",
                            reviewer="ada", reason="says awful", run_id=run_id)
    label_checks.save_check(dataset_id=first, row=3, split="test", old_value="good", new_value=None,
                            reviewer="bob")
    label_checks.save_check(dataset_id=other, row=3, split="test", old_value="x", new_value="y",
                            reviewer="ada")
    again = label_checks.save_check(dataset_id=first, row=3, split="test", old_value="good", new_value="ok",
                                    reviewer="ada", reason="")
    checks = label_checks.list_checks(first)
    assert [(c.reviewer, c.new_value, c.reason) for c in checks] == [("bob", None, ""), ("ada", "ok", "")]
    assert again.id == next(c.id for c in checks if c.reviewer == "ada")
    assert [c.new_value for c in label_checks.list_checks(other)] == ["y"]


def test_tags_are_stored_as_lists_and_a_check_can_be_withdrawn(home: Path) -> None:
    first = add_dataset("tickets", task="token-classification")
    saved = label_checks.save_check(dataset_id=first, row=1, split="test", old_value=["B-PER", "O"],
                                    new_value=["B-ORG", "O"], reviewer="")
    assert (saved.old_value, saved.new_value, saved.says_wrong) == (["B-PER", "O"], ["B-ORG", "O"], True)
    assert label_checks.delete_check(first, 1, "") is True
    assert label_checks.delete_check(first, 1, "") is False
    assert label_checks.list_checks(first) == []
