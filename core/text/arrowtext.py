"""Exact per-row facts about a column of strings, read straight from its Arrow buffers.

The quality report looks at every row of files up to the 200 MB upload limit. Where pyarrow has
the call (byte and character lengths, non-ASCII and blank rows, dictionary encoding of labels) it
is used. One fact keeps a hand-written path, because ``bench/arrowtext.py`` measures the library
2-5x slower on a 1.6M-row, 193 MB file, in English and in mixed scripts: the text codes for
duplicates (a 64-bit fingerprint of each row's length and first, middle and last 8 bytes, with
only rows whose fingerprints collide compared exactly, instead of hashing every whole text).
Its answers are the same as the library's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

# Multipliers of the row fingerprint (odd 64-bit constants; any collision is resolved exactly).
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                 0x27D4EB2F165667C5], dtype=np.uint64)
# Low n bytes of a little-endian uint64 (index n = 0..8).
_LOW_BYTES = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [2**64 - 1], dtype=np.uint64)


def arrow_strings(series: pd.Series) -> Any:
    """The series as a pyarrow string ChunkedArray (zero-copy for pandas' Arrow-backed strings)."""
    import pyarrow as pa

    arr = getattr(series.array, "_pa_array", None)
    if arr is None or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pa.array(series, type=pa.large_string(), from_pandas=True)
    return arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr], type=arr.type)


def text_pieces(series: pd.Series, position: int, size: int = 2**20) -> Iterator[str]:
    """One value of an Arrow-backed text series, decoded ``size`` bytes at a time straight from
    its buffer: a 150 MB text is never copied into one Python string."""
    import codecs

    arr = arrow_strings(series)
    for chunk in arr.chunks:
        if position >= len(chunk):
            position -= len(chunk)
            continue
        offsets, data = _buffers(chunk)
        start, end = int(offsets[position]), int(offsets[position + 1])
        decoder = codecs.getincrementaldecoder("utf-8")()
        for at in range(start, end, size):
            yield decoder.decode(data[at:min(at + size, end)].tobytes(), final=at + size >= end)
        return


def _buffers(chunk: Any) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (n + 1, int64) and data bytes of one Arrow string chunk."""
    import pyarrow as pa

    wide = pa.types.is_large_string(chunk.type)
    _validity, offsets_buf, data_buf = chunk.buffers()
    n = len(chunk)
    if offsets_buf is None:  # an all-null or empty chunk may have no buffers at all
        return np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(offsets_buf, dtype=np.int64 if wide else np.int32)
    offsets = offsets[chunk.offset: chunk.offset + n + 1].astype(np.int64, copy=False)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return offsets, data


def _words(data: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The 8 bytes starting at each position as a little-endian uint64 (zeros past the end)."""
    if len(data) < 8:
        data = np.concatenate([data, np.zeros(8 - len(data), dtype=np.uint8)])
    last = len(data) - 8
    view = np.ndarray(shape=(last + 1,), dtype="<u8", buffer=data, offset=0, strides=(1,))
    if not len(positions) or positions.max() <= last:
        return view[positions]
    clipped = np.minimum(positions, last)
    # A window that runs past the buffer's end is read from 8 bytes before it and shifted down.
    return view[clipped] >> ((positions - clipped) * 8).astype(np.uint64)


def _fingerprint(offsets: np.ndarray, data: np.ndarray) -> np.ndarray:
    """A 64-bit number per row from its length and its first, middle and last 8 bytes."""
    starts, lengths = offsets[:-1], np.diff(offsets)
    keep = _LOW_BYTES[np.minimum(lengths, 8)]
    mid = starts + np.maximum(lengths // 2 - 4, 0)
    end = starts + np.maximum(lengths - 8, 0)
    with np.errstate(over="ignore"):
        h = lengths.astype(np.uint64) * _MIX[0]
        for mix, pos in zip(_MIX[1:], (starts, mid, end), strict=True):
            h = (h ^ ((_words(data, pos) & keep) * mix)) * np.uint64(0x100000001B3)
    return h


def text_codes(series: pd.Series) -> np.ndarray:
    """One integer per row, equal exactly when the texts are equal (missing values share one)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = arrow_strings(series)
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    head = arr.slice(0, 2048)
    if pc.count_distinct(head, mode="all").as_py() <= len(head) // 2:
        return _indices(_encoded(series))  # mostly repeated values (labels, categories)
    prints = np.concatenate([_fingerprint(*_buffers(c)) for c in arr.chunks])
    # Rows whose fingerprint no other row has are unique texts; only the rest are compared.
    maybe = _repeated(prints)
    if arr.null_count:
        maybe |= arr.is_null().to_numpy(zero_copy_only=False)
    if maybe.mean() > 0.5:  # repeats after all: comparing every row is then just as fast
        return _dictionary_codes(arr)
    codes = np.empty(n, dtype=np.int64)
    distinct = 0
    if maybe.any():
        codes[maybe] = _dictionary_codes(arr.filter(pa.array(maybe)))
        distinct = int(codes[maybe].max()) + 1
    codes[~maybe] = distinct + np.arange(int((~maybe).sum()))
    return codes


def _repeated(values: np.ndarray) -> np.ndarray:
    """True where a uint64 value occurs more than once, like ``duplicated(keep=False)``.

    A sort and a look at neighbours is quicker than a hash table here, and when no value
    repeats (the usual case for texts) nothing else is done.
    """
    ordered = np.sort(values)
    same = ordered[1:] == ordered[:-1]
    if not same.any():
        return np.zeros(len(values), dtype=bool)
    return np.isin(values, ordered[1:][same])


def _dictionary_codes(arr: Any) -> np.ndarray:
    """Codes of a (chunked) array in order of first appearance, nulls as one more value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(arr, pa.ChunkedArray):  # one array, so all rows share one dictionary
        arr = arr.combine_chunks()
    return _indices(pc.dictionary_encode(arr, null_encoding="encode"))


def _indices(encoded: Any) -> np.ndarray:
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)


# The label column is encoded for duplicates, the split, the class counts and the mixed-type
# check; the last few encodings are kept with the very array they came from (held here, so
# an ``is`` match can only be that array).
_RECENT: list[tuple[Any, Any]] = []


def _encoded(series: pd.Series) -> Any:
    """The series' values as one Arrow DictionaryArray (first-appearance order, nulls encoded)."""
    import pyarrow.compute as pc

    arr = arrow_strings(series)
    for held, encoded in list(_RECENT):
        if held is arr:
            return encoded
    encoded = pc.dictionary_encode(arr.combine_chunks(), null_encoding="encode")
    _RECENT[:] = [(arr, encoded), *_RECENT[:2]]
    return encoded


def take_rows(arr: Any, rows: np.ndarray | None) -> list:
    """The values at sorted positions ``rows`` (all when None) of a ChunkedArray, as a list."""
    import pyarrow as pa

    if rows is None:
        return arr.to_pylist()
    bounds = np.cumsum([0] + [len(c) for c in arr.chunks])
    chunk_of = np.searchsorted(bounds, rows, side="right") - 1
    out: list = []
    for k, chunk in enumerate(arr.chunks):
        local = rows[chunk_of == k] - bounds[k]
        if len(local):
            out.extend(chunk.take(pa.array(local)).to_pylist())
    return out


def byte_lengths(series: pd.Series) -> np.ndarray:
    """UTF-8 byte length of each row (0 for missing values)."""
    import pyarrow.compute as pc

    arr = arrow_strings(series)
    if len(arr) == 0:
        return np.zeros(0, dtype=np.int64)
    return pc.binary_length(arr).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)


def non_ascii_rows(series: pd.Series) -> np.ndarray:
    """True for rows holding any byte >= 0x80 (the only rows that can be garbled or multi-byte)."""
    import pyarrow.compute as pc

    ascii_only = pc.string_is_ascii(arrow_strings(series)).fill_null(True)
    return ~ascii_only.to_numpy(zero_copy_only=False)


def char_lengths(series: pd.Series) -> np.ndarray:
    """Characters per row (as ``str.len``; 0 for missing)."""
    import pyarrow.compute as pc

    lengths = pc.utf8_length(arrow_strings(series)).fill_null(0)
    return lengths.to_numpy(zero_copy_only=False).astype(np.int64)


def blank_rows(series: pd.Series) -> np.ndarray:
    """True for missing, empty or whitespace-only texts."""
    import pyarrow.compute as pc

    arr = arrow_strings(series)
    if len(arr) == 0:
        return np.zeros(0, dtype=bool)
    blank = pc.or_(pc.equal(arr, ""), pc.utf8_is_space(arr)).fill_null(True)
    return blank.to_numpy(zero_copy_only=False)


def factorize_sorted(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(series, sort=True)``, reading Arrow text through its dictionary directly."""
    import pyarrow.compute as pc

    if not _plain_arrow_text(series):
        codes, uniques = pd.factorize(series, sort=True)
        return codes, pd.Index(uniques)
    encoded = _encoded(series)
    # Arrow orders strings by UTF-8 bytes, which is code-point order, as Python sorts them.
    order = pc.sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[_indices(encoded)], pd.Index(encoded.dictionary.take(order).to_pylist(), dtype=object)


def value_counts(series: pd.Series) -> pd.Series:
    """``series.value_counts(sort=False)`` (missing values left out), from the same encoding."""
    if not _plain_arrow_text(series):
        return series.value_counts(sort=False)
    encoded = _encoded(series)
    counts = np.bincount(_indices(encoded), minlength=len(encoded.dictionary))
    return pd.Series(counts, index=pd.Index(encoded.dictionary.to_pylist(), dtype=object),
                     name="count")


def _plain_arrow_text(series: pd.Series) -> bool:
    """Arrow-backed strings with no missing value."""
    return pd.api.types.is_string_dtype(series) and series.dtype != object and not series.hasnans
