"""Held-out legacy code pages (tests/encoding_corpus.py): every file is stored exactly as written,
or the app asks which reading is right; none is ever stored as another script."""

from __future__ import annotations

import pytest

from core.data.ingest import read_upload
from core.errors import DatasetError
from core.text.encoding import EncodingQuestion
from tests.encoding_corpus import CASES, csv_bytes


@pytest.mark.parametrize("which", ["main", "fresh"])
@pytest.mark.parametrize("size", ["short", "long"])
@pytest.mark.parametrize(("name", "language", "codec"), CASES, ids=[c[0] for c in CASES])
def test_stored_right_or_asked_never_wrong(name: str, language: str, codec: str, size: str,
                                           which: str) -> None:
    data, texts = csv_bytes(language, size, codec, which)
    try:
        parsed = read_upload(data, f"{language}.csv")
    except EncodingQuestion as question:
        codecs = [r.codec for r in question.readings]
        # The question always offers the right reading, so one click stores the file intact.
        assert any(data.decode(c) == data.decode(codec) for c in codecs), codecs
        return
    assert parsed.frame["text"].tolist() == texts, f"{name} {size} stored as {parsed.encoding}"


@pytest.mark.parametrize(("name", "language", "codec"), CASES, ids=[c[0] for c in CASES])
def test_the_chosen_encoding_always_reads_the_file(name: str, language: str, codec: str) -> None:
    data, texts = csv_bytes(language, "long", codec)
    assert read_upload(data, "x.csv", codec.replace("_", "-")).frame["text"].tolist() == texts


@pytest.mark.parametrize(("name", "language", "codec"), [c for c in CASES if "UTF-16" not in c[0]],
                         ids=[c[0] for c in CASES if "UTF-16" not in c[0]])
def test_long_natural_text_is_decided_without_asking(name: str, language: str, codec: str) -> None:
    """Fifteen sentences are enough evidence for every code page here: no question, right text."""
    data, texts = csv_bytes(language, "long", codec)
    try:
        parsed = read_upload(data, "x.csv")
    except DatasetError as error:  # pragma: no cover - the failure message says what happened
        pytest.fail(f"{name}: {error}")
    assert parsed.frame["text"].tolist() == texts
