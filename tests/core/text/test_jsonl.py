"""The one JSON Lines reader (core.text.jsonl)."""

from __future__ import annotations

import json

import pytest

from core.text.jsonl import JsonLine, read_jsonl


def _bad(number: int, exc: ValueError | RecursionError) -> ValueError:
    kind = "deep" if isinstance(exc, RecursionError) else "json"
    return ValueError(f"{kind} line {number}")


def test_lines_keep_their_number_and_text_and_blank_lines_are_skipped() -> None:
    text = '{"a": 1}\n\n   \n[2, 3]\n'
    assert read_jsonl(text, _bad) == [JsonLine(1, '{"a": 1}', {"a": 1}), JsonLine(4, "[2, 3]", [2, 3])]


def test_the_first_bad_line_is_reported_by_number_or_skipped_when_asked() -> None:
    text = '{"a": 1}\n{"a": \n{"b": 2}\n'
    with pytest.raises(ValueError, match="^json line 2$") as info:
        read_jsonl(text, _bad)
    assert isinstance(info.value.__cause__, json.JSONDecodeError)
    assert [line.number for line in read_jsonl(text, None)] == [1, 3]


def test_deep_nesting_is_a_bad_line_not_a_crash() -> None:
    with pytest.raises(ValueError, match="^deep line 2$"):
        read_jsonl("1\n" + "[" * 100_000 + "]" * 100_000 + "\n", _bad)
