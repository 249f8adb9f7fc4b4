"""JSON Lines: the one reader for every JSONL text the app takes (uploads, token files, conversations),
and the forgiving reader of a folder's small JSON files.

Callers word their own sentence for a bad line (each knows what a line should hold); the reader
finds the line, keeps its number and text, and never lets a deep nesting escape as a crash.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple


class JsonLine(NamedTuple):
    """One non-blank line: its 1-based number, its text and the value it holds."""

    number: int
    text: str
    value: Any


def read_jsonl(text: str,
               bad_line: Callable[[int, ValueError | RecursionError], Exception] | None) -> list[JsonLine]:
    """Every non-blank line of `text` parsed; ``bad_line(number, error)`` is raised (from the error) for
    the first line that is not valid JSON (a ``json.JSONDecodeError``) or nests too deep to parse.
    ``bad_line=None`` skips such lines instead (a log whose last line a killed writer cut short)."""
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            lines.append(JsonLine(number, line, json.loads(line)))
        except (ValueError, RecursionError) as exc:
            if bad_line is not None:
                raise bad_line(number, exc) from exc
    return lines


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file holding one object (a model folder's config.json, tokenizer_config.json), or {}
    when it is missing, unreadable, not JSON or not an object: what a reader that can do without it
    wants."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}
