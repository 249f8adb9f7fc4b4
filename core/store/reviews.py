"""Blind reviews in the database: the review, its items (prompt and both outputs, in a random
order, with which output is shown first) and each reviewer's vote."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from core.errors import NotFoundError
from core.store import orm
from core.store.db import session_scope


@dataclass(frozen=True)
class ReviewInfo:
    """A review's name, the two models it compares and its size."""

    id: int
    name: str
    model_a: str
    model_b: str
    items: int
    votes: int


@dataclass(frozen=True)
class ItemRow:
    """One stored item, with the hidden order of its outputs."""

    id: int
    review_id: int
    prompt: str
    output_a: str
    output_b: str
    a_first: bool


@dataclass(frozen=True)
class VoteRow:
    """One reviewer's vote on an item (choice is 'a', 'b' or 'tie')."""

    item_id: int
    reviewer: str
    choice: str
    created_at: datetime


def _item(row: orm.ReviewItem) -> ItemRow:
    return ItemRow(row.id, row.review_id, row.prompt, row.output_a, row.output_b, bool(row.a_first))


def _review_row(s: Any, review_id: int) -> orm.Review:
    review = s.get(orm.Review, int(review_id))
    if review is None:
        raise NotFoundError(f"There is no review with id {review_id}; pick one from the list of reviews.")
    return review


def add_review(name: str, model_a: str, model_b: str,
               items: Sequence[tuple[str, str, str, bool]], *, created_by: str = "") -> int:
    """Store a review and its items (prompt, output A, output B, A shown first) in this order."""
    with session_scope(write=True) as s:
        review = orm.Review(name=name, model_a=model_a, model_b=model_b, created_by=created_by)
        s.add(review)
        s.flush()
        for prompt, out_a, out_b, a_first in items:
            s.add(orm.ReviewItem(review_id=review.id, prompt=prompt, output_a=out_a, output_b=out_b,
                                 a_first=a_first))
        return review.id


def get_review(review_id: int) -> ReviewInfo:
    """A review's names and counts (NotFoundError when the id names nothing)."""
    with session_scope() as s:
        r = _review_row(s, review_id)
        items = s.scalar(select(func.count()).where(orm.ReviewItem.review_id == r.id)) or 0
        votes = s.scalar(select(func.count()).select_from(orm.ReviewVote).join(orm.ReviewItem)
                         .where(orm.ReviewItem.review_id == r.id)) or 0
        return ReviewInfo(r.id, r.name, r.model_a, r.model_b, int(items), int(votes))


def list_reviews() -> pd.DataFrame:
    """Every review, newest first: id, name, model_a, model_b, items, votes, created_at."""
    votes = (select(orm.ReviewItem.review_id, func.count(orm.ReviewVote.id).label("votes"))
             .join(orm.ReviewVote, orm.ReviewVote.item_id == orm.ReviewItem.id)
             .group_by(orm.ReviewItem.review_id).subquery())
    items = (select(orm.ReviewItem.review_id, func.count().label("items"))
             .group_by(orm.ReviewItem.review_id).subquery())
    query = (select(orm.Review.id, orm.Review.name, orm.Review.model_a, orm.Review.model_b,
                    func.coalesce(items.c["items"], 0), func.coalesce(votes.c.votes, 0),
                    orm.Review.created_at)
             .outerjoin(items, items.c.review_id == orm.Review.id)
             .outerjoin(votes, votes.c.review_id == orm.Review.id)
             .order_by(orm.Review.id.desc()))
    with session_scope() as s:
        rows = s.execute(query).all()
    return pd.DataFrame([tuple(r) for r in rows],
                        columns=["id", "name", "model_a", "model_b", "items", "votes", "created_at"])


def items(review_id: int) -> list[ItemRow]:
    """The review's items in their stored (random) order."""
    with session_scope() as s:
        _review_row(s, review_id)
        return [_item(r) for r in s.scalars(select(orm.ReviewItem)
                                            .where(orm.ReviewItem.review_id == int(review_id))
                                            .order_by(orm.ReviewItem.id))]


def votes(review_id: int, reviewer: str | None = None) -> list[VoteRow]:
    """The votes on a review's items (of one reviewer, or of all), in item order."""
    query = (select(orm.ReviewVote).join(orm.ReviewItem).where(orm.ReviewItem.review_id == int(review_id))
             .order_by(orm.ReviewItem.id, orm.ReviewVote.id))
    if reviewer is not None:
        query = query.where(orm.ReviewVote.reviewer == reviewer)
    with session_scope() as s:
        _review_row(s, review_id)
        return [VoteRow(v.item_id, v.reviewer, v.choice, v.created_at) for v in s.scalars(query)]


def record_vote(item_id: int, reviewer: str, choose: Callable[[ItemRow], str]) -> None:
    """Store `choose(item)` as the reviewer's vote on the item, replacing an earlier vote of theirs."""
    with session_scope(write=True) as s:
        row = s.get(orm.ReviewItem, int(item_id))
        if row is None:
            raise NotFoundError(f"There is no review item with id {item_id}; reload the review.")
        choice = choose(_item(row))
        existing = s.scalar(select(orm.ReviewVote).where(orm.ReviewVote.item_id == row.id,
                                                         orm.ReviewVote.reviewer == reviewer))
        if existing is not None:  # a reviewer changing their mind replaces their vote
            existing.choice = choice
            existing.created_at = orm.utcnow()
        else:
            s.add(orm.ReviewVote(item_id=row.id, reviewer=reviewer, choice=choice))
