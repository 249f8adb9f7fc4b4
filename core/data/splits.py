"""Deterministic train/validation/test splits: stratified, grouped, or taken from a column."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import DatasetError
from core.text.arrowtext import factorize_sorted

SPLIT_NAMES = {"train": "train", "training": "train", "trn": "train",
               "validation": "validation", "valid": "validation", "val": "validation",
               "dev": "validation", "development": "validation", "eval": "validation",
               "test": "test", "testing": "test", "tst": "test", "holdout": "test"}
MIN_PER_SPLIT = 3  # rows a class needs to appear in train, validation and test
NAMES = np.array(["train", "validation", "test"], dtype=object)


@dataclass(frozen=True)
class SplitConfig:
    """How to split: sizes as fractions of all rows, a seed, and an optional group or split column."""

    validation_size: float = 0.1
    test_size: float = 0.1
    seed: int = 42
    group_column: str | None = None
    split_column: str | None = None

    def validate(self) -> None:
        for label, size in (("validation", self.validation_size), ("test", self.test_size)):
            if not 0 <= size < 1:
                raise DatasetError(f"The {label} size must be a fraction between 0 and 0.9 "
                                   f"(got {size}); for example 0.1 means 10% of the rows.")
        if self.validation_size + self.test_size >= 0.95:
            raise DatasetError("Validation and test sizes together must leave rows to train on; "
                               "keep their sum below 0.95.")


@dataclass(frozen=True)
class SplitResult:
    """Each row's split, how it was decided, and sentences about anything surprising."""

    split: pd.Series
    method: str
    notes: tuple[str, ...] = ()
    codes: np.ndarray | None = field(default=None, repr=False, compare=False)  # 0/1/2 per row

    def split_codes(self) -> np.ndarray:
        """0 = train, 1 = validation, 2 = test, one per row."""
        if self.codes is not None:
            return self.codes
        return pd.Categorical(self.split, categories=list(NAMES)).codes.astype(np.int64)


def normalize_split_values(values: pd.Series, column: str) -> pd.Series:
    """Map a file's split column (train/valid/dev/test, any case) to train/validation/test."""
    text = values.astype("string").str.strip().str.lower()
    mapped = text.map(SPLIT_NAMES)
    bad = text[mapped.isna()]
    if len(bad):
        shown = ", ".join(repr(v) for v in bad.fillna("(empty)").value_counts().index[:5])
        raise DatasetError(f"The split column '{column}' has values other than train, validation "
                           f"and test ({shown} in {len(bad)} rows); fix them or choose no split column.")
    return mapped.astype(object)


def _allocate(counts: np.ndarray, fraction: float) -> np.ndarray:
    """Per-stratum quotas that sum to round(fraction * total), by largest remainder."""
    total = int(round(fraction * counts.sum()))
    exact = counts * fraction
    quotas = np.floor(exact).astype(int)
    order = np.argsort(-(exact - quotas), kind="stable")
    quotas[order[: max(0, total - quotas.sum())]] += 1
    return quotas


def _stratified(strata: np.ndarray | pd.Series,
                config: SplitConfig) -> tuple[np.ndarray, np.ndarray]:
    """0=train, 1=validation, 2=test within each stratum, shuffled by the seed; and stratum sizes."""
    rng = np.random.default_rng(config.seed)
    n = len(strata)
    if n == 0:
        return np.zeros(0, dtype=np.int8), np.zeros(0, dtype=np.int64)
    if isinstance(strata, pd.Series):
        codes, uniques = factorize_sorted(strata)
    else:
        codes, uniques = pd.factorize(strata, sort=True)
    counts = np.bincount(codes, minlength=len(uniques))
    # Small strata cannot give a row to every split; keep them whole in train.
    splittable = counts >= MIN_PER_SPLIT
    n_test = np.where(splittable, _allocate(np.where(splittable, counts, 0), config.test_size), 0)
    n_val = np.where(splittable, _allocate(np.where(splittable, counts, 0),
                                           config.validation_size), 0)
    # Never take a stratum's last training row.
    n_test = np.minimum(n_test, np.maximum(counts - 1, 0))
    over = np.maximum(0, n_test + n_val - (counts - 1))
    n_val = np.maximum(0, n_val - over)
    perm = rng.permutation(n)
    # A stable sort has one answer; 16-bit keys let numpy use its faster radix sort for it.
    shuffled = codes[perm].astype(np.int16 if len(uniques) < 2**15 else np.int64)
    order = perm[np.argsort(shuffled, kind="stable")]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, counts)
    first_val = n_test[codes]
    assign = np.zeros(n, dtype=np.int8)
    assign[rank < first_val] = 2
    assign[(rank >= first_val) & (rank < first_val + n_val[codes])] = 1
    return assign, counts


def _grouped(groups: pd.Series, config: SplitConfig) -> np.ndarray:
    from sklearn.model_selection import GroupShuffleSplit

    n = len(groups)
    assign = np.zeros(n, dtype=np.int8)
    codes = pd.factorize(groups, use_na_sentinel=False)[0]
    n_groups = codes.max() + 1
    needed = 1 + (config.test_size > 0) + (config.validation_size > 0)
    if n_groups < needed:
        raise DatasetError(f"The group column has only {n_groups} distinct value(s); a grouped "
                           f"split needs at least {needed}, so choose another column or none.")
    rest = np.arange(n)
    if config.test_size > 0:
        gss = GroupShuffleSplit(n_splits=1, test_size=config.test_size, random_state=config.seed)
        train_idx, test_idx = next(gss.split(rest, groups=codes))
        assign[test_idx] = 2
        rest = train_idx
    if config.validation_size > 0:
        share = config.validation_size / (1 - config.test_size)
        gss = GroupShuffleSplit(n_splits=1, test_size=share, random_state=config.seed + 1)
        train_idx, val_idx = next(gss.split(rest, groups=codes[rest]))
        assign[rest[val_idx]] = 1
    return assign


def assign_splits(frame: pd.DataFrame, config: SplitConfig, *, stratify: pd.Series | None = None,
                  groups: pd.Series | None = None,
                  given: pd.Series | None = None) -> SplitResult:
    """Give each row of ``frame`` a split; ``given`` is a file's own (normalized) split column."""
    config.validate()
    n = len(frame)
    notes: list[str] = []
    if given is not None:
        split = pd.Series(given.to_numpy(), index=frame.index, dtype=object)
        method = "from the file's split column"
        missing = [s for s in ("validation", "test")
                   if (s == "validation" and config.validation_size > 0 or s == "test"
                       and config.test_size > 0) and not (split == s).any()]
        if missing:
            train = split == "train"
            sub = SplitConfig(validation_size=config.validation_size if "validation" in missing else 0,
                              test_size=config.test_size if "test" in missing else 0,
                              seed=config.seed)
            carved = assign_splits(frame[train.to_numpy()], sub,
                                   stratify=None if stratify is None else stratify[train.to_numpy()],
                                   groups=None if groups is None else groups[train.to_numpy()])
            split[train.to_numpy()] = carved.split.to_numpy()
            notes.append(f"The file has no {' or '.join(missing)} rows; they were carved from "
                         f"the train rows ({carved.method}).")
        return SplitResult(split, method, tuple(notes))
    if groups is not None:
        assign = _grouped(groups.reset_index(drop=True), config)
        method = "grouped (no group in two splits)"
    elif stratify is not None:
        assign, sizes = _stratified(stratify, config)
        method = "stratified by label"
        # Counting by value again is only needed to name the small classes, which is rare.
        small = (stratify.value_counts() if (sizes < MIN_PER_SPLIT).any()
                 else pd.Series([], dtype=np.int64))
        small = small[small < MIN_PER_SPLIT]
        if len(small) and (config.test_size > 0 or config.validation_size > 0):
            shown = ", ".join(f"'{k}' ({v})" for k, v in small.head(5).items())
            notes.append(f"{len(small)} {'class has' if len(small) == 1 else 'classes have'} fewer "
                         f"than {MIN_PER_SPLIT} rows, kept in train only, so not evaluated: {shown}.")
    else:
        assign, _sizes = _stratified(np.zeros(n, dtype=np.int8), config)
        method = "random"
    return SplitResult(pd.Series(NAMES[assign], index=frame.index, dtype=object), method,
                       tuple(notes), assign.astype(np.int64))
