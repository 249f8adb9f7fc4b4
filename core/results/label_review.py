"""Check the labels a run got wrong: the rows of its evaluation worth a person's look, each with its
text, stored label, the model's prediction and what people said about it (``core.data.relabel``
stores the checks and makes the fixed version).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.data import datasets, relabel
from core.errors import UserError
from core.results.evaluation import read_predictions
from core.store.runs import get_run

RIGHT_SAMPLE = 20  # rows the model got right, shown beside the wrong ones (a label can be wrong there too)


@dataclass(frozen=True)
class LabelReview:
    """The rows of one run's evaluation to check, and what the version's checks add up to so far."""

    run_id: int
    dataset_id: int
    dataset_label: str
    split: str
    column: str                    # "label" or "tags"
    labels: list[str]              # what a fix may choose from
    rows: pd.DataFrame             # row, split, text, stored, predicted, correct, confidence, checks
    resolution: relabel.Resolution
    checks: int

    @property
    def wrong(self) -> int:
        return int((~self.rows["correct"]).sum()) if len(self.rows) else 0


def show_value(value: Any) -> str:
    if isinstance(value, list | tuple | np.ndarray):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _aligned(frame: pd.DataFrame, rows: np.ndarray, predictions: pd.DataFrame, column: str) -> bool:
    if len(rows) != len(predictions):
        return False
    if column == "tags":
        return all(list(map(str, frame.at[r - 1, "tokens"])) == list(map(str, p))
                   for r, p in zip(rows, predictions["tokens"], strict=True))
    return bool((frame["text"].iloc[rows - 1].astype(str).to_numpy()
                 == predictions["text"].astype(str).to_numpy()).all())


def checks_text(checks: list[Any]) -> str:
    """'ada: should be sport; bob: right' for one row's checks."""
    return "; ".join(f"{relabel.who(c.reviewer)}: "
                     + ("right" if c.new_value is None else f"should be {show_value(c.new_value)}")
                     for c in checks)


def label_review(run_id: int, split: str = "test", right_sample: int = RIGHT_SAMPLE,
                 seed: int = 0) -> LabelReview:
    """Every row the run got wrong on a split (most confident first) and a sample of the right ones,
    with the stored label, the prediction and the checks people made of the row."""
    run = get_run(run_id)
    info = datasets.get_dataset(run.dataset_id)
    column = relabel.fix_column(info.task)
    frame = datasets.load_dataset_frame(info.id)
    predictions = read_predictions(run_id, split)
    rows = relabel.evaluated_rows(frame, split, column)
    if not _aligned(frame, rows, predictions, column):
        raise UserError(f"The stored {split} predictions of run {run_id} do not line up with the rows of "
                        f"'{info.label}', so its labels cannot be checked from this run; pick a run "
                        "evaluated on the whole split.")
    correct = predictions["correct"].astype(bool).to_numpy()
    confidence = (predictions["confidence"].map(lambda v: float(np.mean(v)) if hasattr(v, "__len__")
                                                 else float(v)).to_numpy()
                  if "confidence" in predictions else np.full(len(predictions), np.nan))
    table = pd.DataFrame({
        "row": rows.astype(int), "split": split,
        "text": [show_value(frame.at[r - 1, "tokens"] if column == "tags" else frame.at[r - 1, "text"])
                 for r in rows],
        "stored": [show_value(frame.at[r - 1, column]) for r in rows],
        "predicted": predictions["predicted"].map(show_value).to_numpy(),
        "correct": correct, "confidence": confidence})
    wrong = table[~table["correct"]].sort_values("confidence", ascending=False, kind="stable")
    right = table[table["correct"]]
    if len(right) > right_sample:
        right = right.sample(n=right_sample, random_state=seed).sort_values("row")
    stored = relabel.list_checks(info.id)
    by_row: dict[int, list[Any]] = {}
    for check in stored:
        by_row.setdefault(check.row, []).append(check)
    shown = pd.concat([wrong, right], ignore_index=True)
    shown["checks"] = [checks_text(by_row.get(int(r), [])) for r in shown["row"]]
    return LabelReview(run_id=run_id, dataset_id=info.id, dataset_label=info.label, split=split,
                       column=column,
                       labels=relabel.label_set(frame, column), rows=shown,
                       resolution=relabel.resolve_checks(stored), checks=len(stored))


def summary_sentence(review: LabelReview) -> str:
    """'3 rows checked by 2 people: 2 labels wrong, 1 conflict, 0 confirmed right.'"""
    res = review.resolution
    if not review.checks:
        return "No row of this dataset version has been checked yet."
    rows = len(res.fixes) + len(res.conflicts) + res.confirmed
    people = len(res.people)
    conflicts = len(res.conflicts)
    return (f"{rows} row{'s' if rows != 1 else ''} checked by {people} "
            f"{'person' if people == 1 else 'people'}: {len(res.fixes)} label"
            f"{'s' if len(res.fixes) != 1 else ''} to fix, {conflicts} conflict"
            f"{'s' if conflicts != 1 else ''} (left out until settled), {res.confirmed} confirmed right.")
