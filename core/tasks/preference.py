"""Preference pairs in TRL's shape, read without torch: a prompt (a conversation up to the answer) and
two assistant answers, the chosen (preferred) and the rejected one.

A side may be a plain string or a list of chat turns (TRL's conversational shape: the assistant
turn(s), or the whole conversation, whose earlier turns are then the implicit prompt). These helpers
turn a cell into the canonical values a saved preference dataset holds: the prompt as a list of
``{"role", "content"}`` turns whose last is the user's, each side as the assistant's text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.tasks.chat import cell_text, normalize_turns

PREFERENCE_FORMAT = "preference"  # mapping["format"] of a causal-LM dataset of preference pairs


def _turns(value: Any) -> list[dict[str, Any]] | None:
    """The cell as chat turns when it is a list of turns (or its JSON), else None."""
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith(("[", "{")):
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
    if isinstance(value, str | int | float | bool) or value is None:
        return None
    return normalize_turns(value)


def _answer_start(turns: Sequence[dict[str, Any]]) -> int:
    """Where the trailing assistant turns begin (len(turns) when the last turn is not the assistant's)."""
    start = len(turns)
    while start > 0 and turns[start - 1].get("role") == "assistant":
        start -= 1
    return start


def answer_text(value: Any) -> str | None:
    """One side as the assistant's text: a string as written, a conversation's trailing assistant
    turn(s) joined by a blank line; None for a conversation that ends without an assistant answer."""
    turns = _turns(value)
    if turns is None:
        return cell_text(value)
    answers = turns[_answer_start(turns):]
    if not answers:
        return None
    return "\n\n".join(str(t.get("content", "")) for t in answers)


def prompt_turns(value: Any, *, implicit: bool = False) -> list[dict[str, str]] | None:
    """The prompt as ``{"role", "content"}`` turns ending with the user's; None when there is none.

    ``implicit``: ``value`` is a whole conversation (the chosen side without a prompt column) and the
    prompt is everything before its answer.
    """
    turns = _turns(value)
    if turns is None:
        if implicit:
            return None
        text = cell_text(value)
        return [{"role": "user", "content": text}] if text.strip() else None
    if implicit:
        turns = turns[:_answer_start(turns)]
    turns = [{"role": str(t["role"]), "content": str(t.get("content", ""))} for t in turns]
    if not turns or turns[-1]["role"] != "user" or not turns[-1]["content"].strip():
        return None
    return turns


def prompt_text(turns: Sequence[dict[str, Any]]) -> str:
    """The user's last message: how a prompt is shown in one line and compared across datasets."""
    users = [t for t in turns if t.get("role") == "user"]
    return str(users[-1].get("content", "")) if users else ""
