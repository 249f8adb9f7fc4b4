"""Token lengths: the printable-ASCII shortcut counts exactly as the real tokenizer, and the range."""

from __future__ import annotations

import random

import pandas as pd

from core.models.tokenlength import (
    TOKEN_SAMPLE,
    _ascii_twin,
    _load,
    _minilm_path,
    measure_token_lengths,
    share_range,
)

PIECES = ["The", "movie", "WAS", "un-believable", "!!", "...", "don't", "(great)", "[MASK]",
          "[CLS]x", "3.14", "$5", "e-mail@x.com", "a" * 120, "supercalifragilistic", "#1", "~",
          "", " ", "  ", "\t", "\n", "café", "naïve", "\x85", "日本", "\x07", "Ã©"]


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) + rng.choice(["", " "]) for _ in range(rng.randint(0, 30)))
            for _ in range(n)]


def test_ascii_twin_counts_the_same_tokens_as_the_real_tokenizer() -> None:
    path = str(_minilm_path())
    real, twin = _load(path), _ascii_twin(path)
    assert twin is not None
    texts = [t for t in _texts(3000) if t.isascii() and t.isprintable()]
    assert len(texts) > 100
    got = [len(e.ids) for e in twin.encode_batch_fast(texts)]
    want = [len(e.ids) for e in real.encode_batch_fast(texts)]
    assert got == want


def test_mixed_texts_are_measured_as_the_real_tokenizer_does() -> None:
    texts = _texts(400, seed=1)
    measured = measure_token_lengths(pd.Series(texts, dtype="str"), model_key="minilm-l6",
                                     max_length=16)
    real = _load(str(_minilm_path()))
    assert measured["token_lengths"]["values"] == [len(e.ids) for e in real.encode_batch_fast(texts)]


def test_a_sample_states_its_range_and_a_full_count_has_none() -> None:
    texts = pd.Series(_texts(TOKEN_SAMPLE * 3, seed=2), dtype="str")
    sampled = measure_token_lengths(texts, model_key="minilm-l6", max_length=16)
    low, high = sampled["truncated_share_range"]
    assert sampled["token_lengths"]["sample_size"] == TOKEN_SAMPLE
    assert low < sampled["truncated_share"] < high and high - low < 0.1
    whole = measure_token_lengths(texts.head(50), model_key="minilm-l6", max_length=16)
    assert whole["truncated_share_range"] == [whole["truncated_share"]] * 2


def test_share_range_is_a_95_percent_interval() -> None:
    low, high = share_range(0.5, 512, 100_000)
    assert 0.45 < low < 0.46 and 0.54 < high < 0.55
    assert share_range(0.0, 512, 100_000)[0] == 0.0 and 0 < share_range(0.0, 512, 100_000)[1] < 0.01
    assert share_range(0.2, 100, 100) == (0.2, 0.2)


def test_item11_huge_texts_are_measured_on_their_start(monkeypatch) -> None:  # noqa: ANN001
    """Issue 16 item 11: a 5 MB cell is cut before tokenising and still counts as too long."""
    from core.models import tokenlength

    seen: list[int] = []
    real = tokenlength._count_tokens

    def spy(path: str, items: list, pretokenized: bool):  # noqa: ANN202
        seen.extend(len(t) for t in items)
        return real(path, items, pretokenized)

    monkeypatch.setattr(tokenlength, "_count_tokens", spy)
    texts = pd.Series(["short one", "word " * 1_000_000, "another short text"])
    out = measure_token_lengths(texts, model_key="minilm-l6", max_length=128)
    assert max(seen) <= tokenlength.char_limit(128)
    assert out["truncated_share"] == round(1 / 3, 4)
    assert out["token_lengths"]["max"] > 128
