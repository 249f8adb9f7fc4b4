"""Text length in tokens of the chosen model, measured with the fast `tokenizers` library."""

from __future__ import annotations

import json
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import UserError
from core.models import catalog
from core.models.assets import minilm_dir
from core.tasks.intervals import wilson_interval
from core.text.arrowtext import arrow_strings, take_rows

# Tokenising is the expensive part of the report, so it runs on a random sample. With 512 rows
# a share is known within ±4.3 percentage points at worst (95%, share near 50%) and within
# about ±1.9 points near the 5% that makes it a warning; the report states the range it measured.
TOKEN_SAMPLE = 512
_lock = threading.Lock()  # a fast tokenizer must not be used from two threads at once
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")


@lru_cache(maxsize=8)
def _load(path: str):  # noqa: ANN202 - tokenizers.Tokenizer
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(path)
    tok.no_truncation()
    tok.no_padding()
    return tok


@lru_cache(maxsize=8)
def _ascii_twin(path: str):  # noqa: ANN202 - tokenizers.Tokenizer | None
    """The tokenizer with BERT's normalizer swapped for plain lower-casing, or None.

    On text made only of printable ASCII (bytes 0x20-0x7e) BertNormalizer has nothing to clean,
    no accent to strip and no CJK character to pad, so it only lower-cases: the twin gives the
    same tokens there, a third faster. Any other text goes to the real tokenizer.
    """
    from tokenizers import Tokenizer, normalizers

    spec = json.loads(_load(path).to_str()).get("normalizer") or {}
    if spec.get("type") != "BertNormalizer" or not spec.get("lowercase", True):
        return None
    twin = Tokenizer.from_file(path)
    twin.no_truncation()
    twin.no_padding()
    twin.normalizer = normalizers.Lowercase()
    return twin


def _minilm_path() -> Path:
    return minilm_dir() / "tokenizer.json"


def _tokenizer_path(model_key: str) -> tuple[str, str, str]:
    """The tokenizer.json to use, the key it belongs to, and a note when MiniLM stands in."""
    note = ""
    if model_key != "minilm-l6":
        try:
            found = Path(catalog.tokenizer_path(model_key))
            found = found / "tokenizer.json" if found.is_dir() else found
            if found.is_file():
                _load(str(found))
                return str(found), model_key, ""
            note = f"No tokenizer.json for '{model_key}'"
        except (ImportError, AttributeError):
            note = f"The tokenizer of '{model_key}' cannot be looked up yet"
        except Exception as exc:  # noqa: BLE001 - any failure falls back to MiniLM
            note = f"The tokenizer of '{model_key}' could not be loaded ({exc})"
        note += "; lengths are counted with MiniLM-L6's tokenizer instead."
    return str(_minilm_path()), "minilm-l6", note


def tokenizer_for(model_key: str) -> tuple[Any, str, str]:
    """The model's tokenizer, the key it belongs to, and a note when MiniLM stands in for it."""
    path, used, note = _tokenizer_path(model_key)
    return _load(path), used, note


def share_range(share: float, n: int, total: int) -> tuple[float, float]:
    """95% Wilson interval of a share seen in a random sample of n of total rows."""
    if n >= total or n == 0:
        return share, share
    low, high = wilson_interval(share * n, n, population=total)
    return round(low, 4), round(high, 4)


def _count_tokens(path: str, items: list, pretokenized: bool) -> np.ndarray:
    tok, twin = _load(path), None if pretokenized else _ascii_twin(path)
    easy = np.zeros(len(items), dtype=bool)
    if twin is not None:
        easy = np.fromiter((not _NOT_PRINTABLE_ASCII.search(t) for t in items), dtype=bool,
                           count=len(items))
    lengths = np.zeros(len(items), dtype=np.int64)
    with _lock:
        for which, rows in ((twin, easy), (tok, ~easy)):
            if rows.any():
                picked = [items[i] for i in np.flatnonzero(rows)]
                encodings = which.encode_batch_fast(picked, is_pretokenized=pretokenized,
                                                    add_special_tokens=True)
                lengths[rows] = [len(e) for e in encodings]  # len() builds no id list
    return lengths


def char_limit(max_length: int) -> int:
    """Characters (or words, for token lists) kept of each text before counting its tokens: far
    more than ``max_length`` tokens ever need (a token is rarely over 64 characters)."""
    return max(64 * max_length, 65_536)


def measure_token_lengths(texts: pd.Series, *, model_key: str, max_length: int,
                          pretokenized: bool = False, sample: int = TOKEN_SAMPLE,
                          seed: int = 0) -> dict[str, Any]:
    """Token-length histogram and the share longer than ``max_length``, on a random sample."""
    total = len(texts)
    out: dict[str, Any] = {"max_length": max_length}
    try:
        path, used, note = _tokenizer_path(model_key)
        _load(path)
    except UserError as exc:
        out["tokenizer_note"] = f"Token lengths were not measured: {exc}"
        return out
    idx = (np.sort(np.random.default_rng(seed).choice(total, size=sample, replace=False))
           if total > sample else None)
    if not pretokenized and pd.api.types.is_string_dtype(texts) and texts.dtype != object \
            and not texts.hasnans:
        # Arrow text: take the sampled rows chunk by chunk (a take over the whole column
        # first copies all its chunks into one).

        import pyarrow.compute as pc

        # Cut in Arrow before Python sees them: a 150 MB cell was copied whole to be cut.
        items = take_rows(pc.utf8_slice_codeunits(arrow_strings(texts), 0, char_limit(max_length) + 1),
                          idx)
    else:
        texts = texts.iloc[idx] if idx is not None else texts
        items = [list(v) for v in texts] if pretokenized else texts.astype(str).tolist()
    limit = char_limit(max_length)
    cut = np.fromiter((len(t) > limit for t in items), dtype=bool, count=len(items))
    if cut.any():  # a 40 MB cell would take gigabytes to tokenise; its start decides the answer
        items = [t[:limit] if c else t for t, c in zip(items, cut, strict=True)]
    lengths = _count_tokens(path, items, pretokenized)
    lengths[cut] = np.maximum(lengths[cut], max_length + 1)  # a cut text is longer than its start
    share = round(float((lengths > max_length).mean()), 4)
    counts, edges = np.histogram(lengths, bins=min(30, max(1, int(np.ptp(lengths)) + 1)))
    out.update({
        "tokenizer": used,
        "tokenizer_note": note,
        "truncated_share": share,
        "truncated_share_range": list(share_range(share, len(items), total)),
        "token_lengths": {"bins": edges.round(1).tolist(), "counts": counts.tolist(),
                          "sample_size": len(items), "total": total,
                          "median": float(np.median(lengths)),
                          "p95": round(float(np.percentile(lengths, 95)), 1),
                          "max": int(lengths.max()), "mean": round(float(lengths.mean()), 2),
                          "max_length": max_length, "values": lengths.tolist()},
    })
    return out
