"""Blind-review items with their votes, for comparing a judge's verdicts with the stakeholders'."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.store.db import session_scope
from core.store.orm import ReviewItem, ReviewVote


def items_with_votes(review_id: int) -> list[dict[str, Any]]:
    """Each voted item of a review: prompt, output A, output B and the list of votes ('a', 'b', 'tie')."""
    with session_scope() as s:
        rows = s.execute(select(ReviewItem.id, ReviewItem.prompt, ReviewItem.output_a, ReviewItem.output_b,
                                ReviewVote.choice).join(ReviewVote, ReviewVote.item_id == ReviewItem.id)
                         .where(ReviewItem.review_id == review_id).order_by(ReviewItem.id)).all()
    items: dict[int, dict[str, Any]] = {}
    for item_id, prompt, a, b, choice in rows:
        items.setdefault(item_id, {"item_id": item_id, "prompt": prompt, "output_a": a, "output_b": b,
                                   "votes": []})["votes"].append(choice)
    return list(items.values())
