"""Blind review: storage, hidden order, several reviewers, win rates with Wilson intervals, CSV."""

from __future__ import annotations

import csv
import io

import pytest

from core.errors import NotFoundError, UserError
from core.results import review


def test_wilson_interval_matches_a_hand_computed_case() -> None:
    # 8 of 10: p=0.8, z=1.96 -> centre (0.8+0.19208)/1.38416=0.71679, half 0.22647 -> (0.4902, 0.9433).
    low, high = review.wilson_interval(8, 10, z=1.96)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


def test_ties_count_half_in_the_win_rate_and_interval() -> None:
    # 6 A, 3 B, 1 tie: A scores 6.5/10. Wilson by hand (z=1.96): centre 0.84208/1.38416=0.60837,
    # half 1.96*sqrt(0.02275+0.009604)/1.38416=0.25470 -> (0.3537, 0.8631).
    result = review.summarise_votes(6, 3, 1)
    assert result["votes"] == 10
    assert result["win_rate_a"] == pytest.approx(0.65)
    assert result["win_rate_b"] == pytest.approx(0.35)
    assert result["ci_a"][0] == pytest.approx(0.3537, abs=2e-4)
    assert result["ci_a"][1] == pytest.approx(0.8631, abs=2e-4)
    # The interval for B mirrors A's.
    assert result["ci_b"][0] == pytest.approx(1 - result["ci_a"][1], abs=1e-9)
    assert "half" in result["ties_rule"]


def test_no_votes_gives_no_rate() -> None:
    result = review.summarise_votes(0, 0, 0)
    assert result["win_rate_a"] is None and result["ci_a"] is None


def _make(n: int = 6, seed: int = 3) -> int:
    prompts = [f"prompt {i}" for i in range(n)]
    return review.create_review("Round 1", "run:1", "run:2", prompts,
                                outputs_a=[f"A says {i}" for i in range(n)],
                                outputs_b=[f"B says {i}" for i in range(n)], seed=seed)


def test_items_are_shuffled_and_shown_without_labels(home) -> None:
    review_id = _make(n=20)
    seen, first_is_a = [], []
    for _ in range(20):
        item = review.next_item_for("ana", review_id)
        assert item is not None
        assert "A says" in item.first + item.second and "B says" in item.first + item.second
        seen.append(item.prompt)
        first_is_a.append(item.first.startswith("A says"))
        review.vote(item.item_id, "ana", "first")
    assert review.next_item_for("ana", review_id) is None
    assert sorted(seen) == sorted(f"prompt {i}" for i in range(20))
    assert seen != [f"prompt {i}" for i in range(20)]  # random order
    assert 0 < sum(first_is_a) < 20  # sometimes A first, sometimes B first
    # Always voting "first" means A wins exactly where A was shown first.
    result = review.review_result(review_id)
    assert result["a_wins"] == sum(first_is_a)
    assert result["b_wins"] == 20 - sum(first_is_a)


def test_several_reviewers_and_changed_votes(home) -> None:
    review_id = _make(n=2)
    item = review.next_item_for("ana", review_id)
    review.vote(item.item_id, "ana", "a")
    review.vote(item.item_id, "ana", "b")  # changed her mind: replaces, not adds
    review.vote(item.item_id, "bob", "tie")
    # Bob's vote does not move Ana along.
    assert review.next_item_for("ana", review_id).item_id != item.item_id
    assert review.next_item_for("bob", review_id).item_id != item.item_id
    result = review.review_result(review_id)
    assert (result["a_wins"], result["b_wins"], result["ties"]) == (0, 1, 1)
    assert result["reviewers"] == ["ana", "bob"]
    assert result["win_rate_b"] == pytest.approx(0.75)
    info = review.get_review(review_id)
    assert (info.items, info.votes) == (2, 2)
    listed = review.list_reviews()
    assert listed.loc[0, "votes"] == 2 and listed.loc[0, "items"] == 2


def test_export_csv_has_every_vote(home) -> None:
    review_id = review.create_review("R", "base", "run:7", ["=1+1", "hello, world"],
                                     outputs_a=["x", "y"], outputs_b=["z", "w"], seed=1)
    item = review.next_item_for("ana", review_id)
    review.vote(item.item_id, "ana", "tie")
    rows = list(csv.DictReader(io.StringIO(review.export_review_csv(review_id))))
    assert len(rows) == 2  # one voted item, one item without votes yet
    voted = [r for r in rows if r["choice"]]
    assert voted[0]["reviewer"] == "ana" and voted[0]["choice"] == "tie"
    prompts = {r["prompt"] for r in rows}
    assert "'=1+1" in prompts  # a formula-looking cell is quoted for spreadsheets
    assert "hello, world" in prompts


def test_bad_input_is_a_user_error(home) -> None:
    with pytest.raises(UserError):
        review.create_review("", "a", "b", ["p"], outputs_a=["x"], outputs_b=["y"])
    with pytest.raises(UserError):
        review.create_review("R", "a", "b", ["p", "q"], outputs_a=["x"], outputs_b=["y", "z"])
    review_id = _make(n=1)
    item = review.next_item_for("ana", review_id)
    with pytest.raises(UserError):
        review.vote(item.item_id, "ana", "maybe")
    with pytest.raises(UserError):
        review.next_item_for("  ", review_id)
    with pytest.raises(NotFoundError):
        review.review_result(999)
    assert review.review_result(review_id)["votes"] == 0
