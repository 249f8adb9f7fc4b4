"""Blind A/B review: stakeholders vote between two models' outputs without knowing which is which.

Items are stored in a random order and each item's ``a_first`` flag (random) decides whether
model A's output is shown first. Reviewers see "first" and "second", never the model names.

Win rates count a tie as half a win for each side (so the two rates add up to 1 and every vote
counts); the 95% interval is the Wilson score interval on that rate with n = all votes.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.errors import UserError
from core.results.side_by_side import model_outputs
from core.store import reviews as store
from core.store.reviews import ItemRow, ReviewInfo, VoteRow
from core.tasks.intervals import wilson_interval
from core.text.spreadsheet import escape_cell

CHOICES = ("a", "b", "tie")
POSITIONS = ("first", "second")
TIES_RULE = "A tie counts as half a win for each model; the interval is a 95% Wilson score interval."
MAX_ITEMS = 500


@dataclass(frozen=True)
class ReviewItemView:
    """One item as a reviewer sees it: a prompt and two unlabeled outputs."""

    item_id: int
    review_id: int
    prompt: str
    first: str
    second: str
    done: int
    total: int


def _clean_texts(values: Sequence[Any], what: str) -> list[str]:
    texts = ["" if v is None else str(v) for v in values]
    if not texts:
        raise UserError(f"The review needs at least one {what}; pick some validation prompts or texts.")
    if len(texts) > MAX_ITEMS:
        raise UserError(f"A review can hold at most {MAX_ITEMS} items; pick fewer {what}s.")
    return texts


def _outputs_for(model: str, prompts: list[str]) -> list[str]:
    """Outputs of a model reference ('run:ID' or a catalogue key) on each prompt, same seed for both."""

    return model_outputs(model, prompts, seed=0, temperature=0.0)


def create_review(name: str, model_a: str, model_b: str, prompts: Sequence[Any], *,
                  outputs_a: Sequence[Any] | None = None, outputs_b: Sequence[Any] | None = None,
                  seed: int | None = None, created_by: str = "") -> int:
    """Store a blind review of two models on the prompts (outputs given or generated); return its id."""
    name = (name or "").strip()
    if not name:
        raise UserError("Give the review a name, for example 'Support replies, round 1'.")
    if not str(model_a).strip() or not str(model_b).strip():
        raise UserError("Pick two models (or runs) to compare.")
    texts = _clean_texts(prompts, "prompt")
    outs_a = _clean_texts(outputs_a, "output") if outputs_a is not None else _outputs_for(model_a, texts)
    outs_b = _clean_texts(outputs_b, "output") if outputs_b is not None else _outputs_for(model_b, texts)
    if not len(texts) == len(outs_a) == len(outs_b):
        raise UserError(f"Each prompt needs one output per model: got {len(texts)} prompts, "
                        f"{len(outs_a)} outputs for A and {len(outs_b)} for B.")
    rng = random.Random(seed)
    order = list(range(len(texts)))
    rng.shuffle(order)  # items are stored (and shown) in a random order
    return store.add_review(name[:200], str(model_a)[:300], str(model_b)[:300],
                            [(texts[i], outs_a[i], outs_b[i], rng.random() < 0.5) for i in order],
                            created_by=created_by[:200])


def _check_reviewer(reviewer: str) -> str:
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise UserError("Type your name (or initials) before reviewing, so votes can be told apart.")
    return reviewer[:100]


def get_review(review_id: int) -> ReviewInfo:
    """A review's names and counts."""
    return store.get_review(review_id)


def list_reviews() -> pd.DataFrame:
    """Every review, newest first: id, name, model_a, model_b, items, votes, created_at."""
    return store.list_reviews()


def next_item_for(reviewer: str, review_id: int) -> ReviewItemView | None:
    """The next item this reviewer has not voted on yet (None when they have voted on all)."""
    reviewer = _check_reviewer(reviewer)
    items = store.items(review_id)
    voted = {v.item_id for v in store.votes(review_id, reviewer)}
    for item in items:
        if item.id not in voted:
            first, second = ((item.output_a, item.output_b) if item.a_first
                             else (item.output_b, item.output_a))
            return ReviewItemView(item.id, item.review_id, item.prompt, first, second,
                                  done=len(voted), total=len(items))
    return None


def vote(item_id: int, reviewer: str, choice: str) -> None:
    """Record a reviewer's verdict: 'a', 'b', 'tie', or the shown position 'first'/'second'."""
    reviewer = _check_reviewer(reviewer)
    choice = (choice or "").strip().lower()
    if choice not in CHOICES + POSITIONS:
        raise UserError(f"A vote must be one of: {', '.join(CHOICES + POSITIONS)}; got '{choice}'.")

    def hidden(item: ItemRow) -> str:  # map what the reviewer saw back to the hidden model
        if choice in POSITIONS:
            return "a" if (choice == "first") == item.a_first else "b"
        return choice

    store.record_vote(item_id, reviewer, hidden)


def summarise_votes(a: int, b: int, ties: int) -> dict[str, Any]:
    """Win rates of A and B with 95% Wilson intervals, ties counted as half a win each."""
    n = a + b + ties
    score_a, score_b = a + ties / 2, b + ties / 2
    return {
        "votes": n, "a_wins": a, "b_wins": b, "ties": ties,
        "win_rate_a": score_a / n if n else None, "win_rate_b": score_b / n if n else None,
        "ci_a": wilson_interval(score_a, n) if n else None,
        "ci_b": wilson_interval(score_b, n) if n else None,
        "ties_rule": TIES_RULE,
    }


def review_result(review_id: int) -> dict[str, Any]:
    """The review's counts, each model's win rate with its 95% interval, and the reviewers."""
    review = store.get_review(review_id)
    votes = store.votes(review_id)
    meta = {"review_id": review.id, "name": review.name, "model_a": review.model_a,
            "model_b": review.model_b, "items": review.items}
    choices = [v.choice for v in votes]
    result = summarise_votes(choices.count("a"), choices.count("b"), choices.count("tie"))
    return {**meta, **result, "reviewers": sorted({v.reviewer for v in votes})}


def export_review_csv(review_id: int) -> str:
    """Every vote as CSV: item, prompt, both outputs, which was shown first, reviewer, choice."""
    review = store.get_review(review_id)
    by_item: dict[int, list[VoteRow]] = {}
    for v in store.votes(review_id):
        by_item.setdefault(v.item_id, []).append(v)
    header = ["review", "item_id", "prompt", "model_a", "output_a", "model_b", "output_b",
              "shown_first", "reviewer", "choice", "voted_at"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([escape_cell(h) for h in header])
    for item in store.items(review_id):
        for v in by_item.get(item.id) or [None]:
            writer.writerow([escape_cell(x) for x in (
                review.name, item.id, item.prompt, review.model_a, item.output_a, review.model_b,
                item.output_b, "a" if item.a_first else "b", v.reviewer if v else "",
                v.choice if v else "", v.created_at.isoformat(timespec="seconds") if v else "")])
    return out.getvalue()
