"""Facts read from Arrow buffers agree with the slow, obvious pandas/Python answers."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pyarrow as pa

from core.text.arrowtext import (
    blank_rows,
    char_lengths,
    factorize_sorted,
    non_ascii_rows,
    take_rows,
    text_codes,
    value_counts,
)

PIECES = ["a", "b", " ", "\t", "é", "€", "x" * 9, "\x85", "\u3000", "", "日"]


def _series(rng: random.Random, n: int, dtype: object) -> pd.Series:
    values: list[str | None] = []
    for _ in range(n):
        r = rng.random()
        if r < 0.1:
            values.append(None)
        elif r < 0.5 and values:
            values.append(rng.choice(values))
        else:
            values.append("".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30))))
    series = pd.Series(values, dtype=dtype)
    if n > 4 and rng.random() < 0.5:  # several Arrow chunks
        series = pd.concat([series.iloc[: n // 2], series.iloc[n // 2:]])
    return series


def _same_groups(a: np.ndarray, b: np.ndarray) -> bool:
    return bool((pd.factorize(a)[0] == pd.factorize(b)[0]).all())


def test_row_facts_match_python_on_random_text() -> None:
    rng = random.Random(0)
    for _ in range(80):
        for dtype in ("str", object):
            s = _series(rng, rng.randint(0, 60), dtype)
            plain = s.astype(object)
            assert _same_groups(text_codes(s), pd.factorize(plain, use_na_sentinel=False)[0])
            blank = plain.map(lambda v: v is None or v != v or not str(v).strip() or str(v).isspace())
            assert (blank_rows(s) == blank.to_numpy(dtype=bool)).all()
            chars = plain.map(lambda v: len(v) if isinstance(v, str) else 0).to_numpy()
            assert (char_lengths(s) == chars).all()
            wide = plain.map(lambda v: isinstance(v, str) and not v.isascii()).to_numpy(dtype=bool)
            assert (non_ascii_rows(s) == wide).all()


def test_text_codes_on_many_rows_with_and_without_copies() -> None:
    unique = pd.Series([f"review {i} " + "pad" * (i % 7) for i in range(40_000)], dtype="str")
    assert len(set(text_codes(unique))) == 40_000
    doubled = pd.concat([unique, unique.iloc[:15_000]], ignore_index=True)
    assert _same_groups(text_codes(doubled), pd.factorize(doubled)[0])
    labels = pd.Series(["pos", "neg", "neutral"] * 1000, dtype="str")
    assert _same_groups(text_codes(labels), pd.factorize(labels)[0])


def test_sorted_codes_and_counts_match_pandas() -> None:
    rng = random.Random(1)
    for _ in range(100):
        values = [rng.choice(["b", "a", "é", "Z", "zz", "", "10", "9", "€x"])
                  for _ in range(rng.randint(0, 50))]
        s = pd.Series(values, dtype="str")
        codes, uniques = factorize_sorted(s)
        want_codes, want_uniques = pd.factorize(s, sort=True)
        assert (codes == want_codes).all() and list(uniques) == list(want_uniques)
        assert value_counts(s).to_dict() == s.value_counts().to_dict()


def test_take_rows_across_chunks() -> None:
    arr = pa.chunked_array([pa.array(["a", "b", "c"]), pa.array([], pa.string()),
                            pa.array(["d", None]).slice(0), pa.array(["e", "f"])])
    assert take_rows(arr, np.array([0, 2, 3, 4, 6])) == ["a", "c", "d", None, "f"]
    assert take_rows(arr, None) == ["a", "b", "c", "d", None, "e", "f"]
