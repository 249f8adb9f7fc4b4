"""Fixing labels with lineage: people's checks of a version's labels, and the version they make.

A row is known by its number in the version's Parquet file (``row``, counted from 1 as the quality
report counts rows). A version made
from fixed labels keeps every row of its parent in the same order and with the same split, only
the fixed labels differ; so a row keeps its number, and the test split its rows, along the whole
chain of versions. The new version records in its ``info["lineage"]`` its parent, the run whose
evaluation the checks came from, and every changed row (split, old and new value, who, why).

Several people check over several sessions: each person's latest check of a row counts; when two
people disagree about a row, it is a conflict, shown and left out of the new version until one of
them changes their check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.data import datasets
from core.data.splits import SplitConfig
from core.entities import DatasetInfo
from core.errors import DatasetError
from core.store import label_checks as store
from core.store.label_checks import LabelCheckInfo
from core.task_specs import label_fixes

LINEAGE = "lineage"  # the key of a version's info that holds its parent and its changed rows
MAX_REASON = 500


@dataclass(frozen=True)
class LabelFix:
    """A row whose label the checks agree is wrong, with the value it gets in the new version."""

    row: int
    split: str
    old: Any
    new: Any
    by: tuple[str, ...]
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "by": list(self.by), "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Conflict:
    """A row two or more people disagree about: each person's verdict (None = "the label is right")."""

    row: int
    split: str
    old: Any
    verdicts: tuple[tuple[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "split": self.split, "old": self.old,
                "verdicts": [{"by": who, "new": new} for who, new in self.verdicts]}


@dataclass(frozen=True)
class Resolution:
    """What a version's checks add up to: the fixes, the conflicts and the rows confirmed right."""

    fixes: tuple[LabelFix, ...]
    conflicts: tuple[Conflict, ...]
    confirmed: int
    people: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"fixes": [f.to_dict() for f in self.fixes],
                "conflicts": [c.to_dict() for c in self.conflicts],
                "confirmed": self.confirmed, "people": list(self.people)}


def who(reviewer: str) -> str:
    """A reviewer as a person reads it ("" is the person at the keyboard of an app without sign-in)."""
    return reviewer or "local user"


def fix_column(task: str) -> str:
    """The column a person fixes for this task, or a DatasetError when its labels cannot be checked."""
    column = label_fixes(task)
    if not column:
        raise DatasetError(f"Labels of a {task} dataset cannot be checked here; only classes and "
                           "entity tags can.")
    return column


def label_set(frame: pd.DataFrame, column: str) -> list[str]:
    """The labels (or tags) a version uses, sorted: what a fix may choose from."""
    if column == "tags":
        return sorted({str(t) for tags in frame["tags"] if tags is not None for t in tags})
    return sorted(frame["label"].dropna().astype(str).unique().tolist())


def evaluated_rows(frame: pd.DataFrame, split: str, column: str) -> np.ndarray:
    """The row numbers (from 1) of the rows a run is evaluated on in a split, in the order it scores them
    (a tagger leaves out sentences without tokens or with a tag count unlike the token count)."""
    positions = np.flatnonzero((frame["split"] == split).to_numpy())
    if column != "tags":
        return positions + 1

    def size(value: Any) -> int:
        return len(value) if hasattr(value, "__len__") else 0

    usable = [size(frame.at[i, "tokens"]) > 0 and size(frame.at[i, "tokens"]) == size(frame.at[i, "tags"])
              for i in positions]
    return (positions[np.asarray(usable, dtype=bool)] if len(positions) else positions) + 1


def parse_value(value: Any, column: str, allowed: Sequence[str], tokens: Sequence[str] | None = None) -> Any:
    """A person's corrected value checked against the version's labels (and the token count): the
    class as text, or the tags as a list; a DatasetError saying what is wrong."""
    if column == "tags":
        tags = value.split() if isinstance(value, str) else [str(t) for t in value]
        if tokens is not None and len(tags) != len(tokens):
            raise DatasetError(f"Give one tag per token: the sentence has {len(tokens)} tokens and the "
                               f"correction {len(tags)} tags.")
        unknown = sorted({t for t in tags if t not in allowed})
        if unknown:
            raise DatasetError(f"Unknown tag {', '.join(repr(t) for t in unknown[:3])}; use the dataset's "
                               f"tags: {', '.join(allowed[:20])}.")
        return tags
    text = " ".join(str(value).split())
    if text not in allowed:
        raise DatasetError(f"'{text[:60]}' is not one of the dataset's labels ({', '.join(allowed[:20])}); "
                           "pick one of them.")
    return text


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value]
    return None if value is None else str(value)


def record_check(dataset_id: int, row: int, new_value: Any, *, reviewer: str, reason: str = "",
                 run_id: int | None = None) -> LabelCheckInfo:
    """Store a person's check of one row of a version: ``new_value`` None means "the label is right",
    else what it should be (checked against the version's labels). Replaces their earlier check."""
    info = datasets.get_dataset(dataset_id)
    column = fix_column(info.task)
    frame = datasets.load_dataset_frame(dataset_id)
    if not 1 <= int(row) <= len(frame):
        raise DatasetError(f"Dataset '{info.label}' has no row {row}; its rows are 1 to {len(frame):,}.")
    at = int(row) - 1
    old = _plain(frame.at[at, column])
    new = None
    if new_value is not None:
        tokens = list(frame.at[at, "tokens"]) if column == "tags" else None
        new = parse_value(new_value, column, label_set(frame, column), tokens)
        if new == old:
            new = None  # "it should be what it is" is "the label is right"
    return store.save_check(dataset_id=dataset_id, row=int(row), split=str(frame.at[at, "split"]),
                            old_value=old, new_value=new, reviewer=reviewer[:200],
                            reason=" ".join(str(reason or "").split())[:MAX_REASON], run_id=run_id)


def list_checks(dataset_id: int) -> list[LabelCheckInfo]:
    """Every stored check of a version, by row."""
    return store.list_checks(dataset_id)


def withdraw_check(dataset_id: int, row: int, reviewer: str) -> bool:
    """Take back a person's check of a row; whether there was one."""
    return store.delete_check(dataset_id, int(row), reviewer)


def resolve_checks(checks: Sequence[LabelCheckInfo]) -> Resolution:
    """Each row's checks (each person's latest counts): fixed when everyone who checked it gives the
    same new value, a conflict when people disagree, confirmed when everyone says it is right."""
    by_row: dict[int, dict[str, LabelCheckInfo]] = {}
    for check in sorted(checks, key=lambda c: (c.row, c.checked_at, c.id)):
        by_row.setdefault(check.row, {})[check.reviewer] = check
    fixes, conflicts, confirmed = [], [], 0
    for row, mine in sorted(by_row.items()):
        verdicts = list(mine.values())
        first = verdicts[0]
        values = {repr(c.new_value) for c in verdicts}
        if len(values) > 1:
            conflicts.append(Conflict(row, first.split, first.old_value,
                                      tuple((who(c.reviewer), c.new_value) for c in verdicts)))
        elif first.new_value is None:
            confirmed += 1
        else:
            fixes.append(LabelFix(row, first.split, first.old_value, first.new_value,
                                  tuple(sorted(c.reviewer for c in verdicts)),
                                  tuple(c.reason for c in verdicts if c.reason)))
    people = tuple(sorted({c.reviewer for c in checks}))
    return Resolution(tuple(fixes), tuple(conflicts), confirmed, people)


def apply_fixes(frame: pd.DataFrame, fixes: Sequence[LabelFix], column: str) -> pd.DataFrame:
    """The parent's rows with the fixed labels, same order and split; a DatasetError when a fix no
    longer matches the row it was made on."""
    out = frame.copy()
    for fix in fixes:
        if not 1 <= fix.row <= len(out) or _plain(out.at[fix.row - 1, column]) != fix.old:
            raise DatasetError(f"Row {fix.row} no longer holds the label that was checked; check it again.")
        out.at[fix.row - 1, column] = list(fix.new) if column == "tags" else fix.new
    return out


def make_fixed_version(parent_id: int, *, created_by: str = "", from_run: int | None = None) -> DatasetInfo:
    """Save the next version of a dataset with the labels its checks agree are wrong fixed.

    Same name, next version number, the parent's rows in the same order and split; its info records
    the parent, the run the checks came from, the changed rows (row, split, old, new, who, why) and the
    counts. Conflicting rows are left out (and counted). Its quality report is made as for any version.
    """
    parent = datasets.get_dataset(parent_id)
    column = fix_column(parent.task)
    resolution = resolve_checks(store.list_checks(parent_id))
    if not resolution.fixes:
        more = (f" ({len(resolution.conflicts)} rows have conflicting checks: settle them first)"
                if resolution.conflicts else "")
        raise DatasetError(f"No label of '{parent.label}' is marked wrong yet, so there is nothing to "
                           f"fix{more}.")
    frame = datasets.load_dataset_frame(parent_id)
    fixed = apply_fixes(frame, resolution.fixes, column)
    mapping = {"tokens": "tokens", "tags": "tags"} if column == "tags" else {"text": "text", "label": "label"}
    mapping |= {"split_column": "split", "drop_duplicates": False}  # every row stays, where it was
    if "group" in fixed:
        mapping["group"] = "group"
    old_split = parent.info.get("split") or {}
    split = SplitConfig(float(old_split.get("validation_size", 0.1)), float(old_split.get("test_size", 0.1)),
                        int(old_split.get("seed", 42)), None, "split")
    fixers = sorted({p for f in resolution.fixes for p in f.by})
    lineage = {"parent_id": parent.id, "parent_version": parent.version, "from_run": from_run,
               "fixed": len(resolution.fixes), "people": [who(p) for p in fixers],
               "conflicts_left_out": len(resolution.conflicts), "confirmed_right": resolution.confirmed,
               "column": column,
               "changes": [{"row": f.row, "split": f.split, "old": f.old, "new": f.new,
                            "by": [who(p) for p in f.by], "why": "; ".join(f.reasons)}
                           for f in resolution.fixes]}
    parsed = datasets.frame_to_parsed(fixed, f"{parent.label} with {len(resolution.fixes)} fixed labels")
    saved = datasets.save_dataset(parsed, mapping, name=parent.name, task=parent.task, split=split,
                                  model_key=parent.info.get("model_key"),
                                  max_length=parent.info.get("max_length"),
                                  extra_info={LINEAGE: lineage}, created_by=created_by)
    if saved.row_count != parent.row_count:  # never a version whose rows moved
        raise DatasetError(f"The fixed version has {saved.row_count:,} rows, not {parent.row_count:,}; "
                           "it was not made from these fixes.")
    return saved


def parent_of(info: DatasetInfo) -> int | None:
    """The version a version was made from by fixing labels (None for an uploaded one)."""
    parent = (info.info or {}).get(LINEAGE, {}).get("parent_id")
    return int(parent) if parent is not None else None


@dataclass(frozen=True)
class LineageStep:
    """One version in a chain: what it fixed in its parent (nothing for the first)."""

    dataset_id: int
    version: int
    label: str
    parent_id: int | None
    parent_version: int | None
    fixed: int
    people: tuple[str, ...]
    from_run: int | None
    conflicts_left_out: int
    changes: tuple[dict[str, Any], ...]

    @property
    def sentence(self) -> str:
        """'v1 → v2: 37 labels fixed by 2 people (from run 7)'."""
        if self.parent_id is None:
            return f"v{self.version}: as uploaded"
        n, k = self.fixed, len(self.people)
        text = (f"v{self.parent_version} → v{self.version}: {n} label"
                f"{'s' if n != 1 else ''} fixed by {k} {'person' if k == 1 else 'people'}")
        if self.from_run is not None:
            text += f" (checked on run {self.from_run})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "people": list(self.people), "changes": list(self.changes),
                "sentence": self.sentence}


def _step(info: DatasetInfo) -> LineageStep:
    lineage = (info.info or {}).get(LINEAGE) or {}
    return LineageStep(info.id, info.version, info.label, parent_of(info), lineage.get("parent_version"),
                       int(lineage.get("fixed", 0)),
                       tuple(lineage.get("people", [])), lineage.get("from_run"),
                       int(lineage.get("conflicts_left_out", 0)), tuple(lineage.get("changes", [])))


def lineage(dataset_id: int) -> list[LineageStep]:
    """The chain of versions that ends at this one, the first (uploaded) version first."""
    chain, seen = [], set()
    current: int | None = int(dataset_id)
    while current is not None and current not in seen:
        seen.add(current)
        info = datasets.get_dataset(current)
        chain.append(_step(info))
        current = parent_of(info)
    return chain[::-1]


def children_of(dataset_id: int) -> list[DatasetInfo]:
    """The versions made from this one by fixing labels, newest first."""
    return [d for d in datasets.list_datasets() if parent_of(d) == int(dataset_id)]


def newest_labels(dataset_id: int, rows: Sequence[int]) -> tuple[DatasetInfo, list[Any]]:
    """The newest version made (by fixing labels) from this one, following the chain, and its labels
    of these rows; the version itself when nothing was made from it."""
    current = datasets.get_dataset(dataset_id)
    while True:
        children = children_of(current.id)
        if not children:
            break
        current = max(children, key=lambda d: (d.version, d.id))
    column = fix_column(current.task)
    frame = datasets.load_dataset_frame(current.id)
    return current, [_plain(frame.at[int(r) - 1, column]) for r in rows]


def next_version(dataset_id: int) -> int:
    """The version number the next version saved under this dataset's name gets."""
    info = datasets.get_dataset(dataset_id)
    return max(d.version for d in datasets.list_datasets() if d.name == info.name) + 1
