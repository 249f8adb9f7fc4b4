"""Causal-LM data: three shapes (plain text, prompt + completion, chat `messages`), checked in plain words.

Chat files come in the shapes people use: OpenAI ``messages`` (``role``/``content``, with
``tool`` turns and assistant ``tool_calls``), ShareGPT ``conversations`` (``from``/``value`` with
``human``/``gpt``/``system``) and Alpaca (``instruction`` + optional ``input`` + ``output``, read
as prompt and completion). Turns are normalised to ``{"role", "content"}``; tool results and
tool calls are context the model reads, never targets (``"train": False``).

Pure Python (no torch): the quality checks (``core.data.chat_checks``) validate rows with
:func:`validate_rows`, and the training adapter turns each row into chat turns with
:func:`row_to_messages`. Row numbers in messages are 1-based positions in the file (for JSONL,
the line number of the conversation).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import DatasetError
from core.text.jsonl import read_jsonl

FORMATS = ("text", "prompt_completion", "messages")  # as in mapping["format"]
ROLES = ("system", "user", "assistant", "tool")
# ShareGPT speakers -> roles ("function_call" is an assistant's tool call: context, not a target).
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "chatgpt": "assistant", "model": "assistant", "bard": "assistant",
                  "bing": "assistant", "system": "system", "tool": "tool", "function": "tool",
                  "observation": "tool", "function_call": "assistant"}
DEFAULT_MAX_LENGTH = 256
CHARS_PER_TOKEN = 4.0  # rough English average, used only when no tokenizer is at hand
_ALIASES = {
    "messages": ("messages", "conversation", "conversations", "chat"),
    "prompt": ("prompt", "instruction", "question", "input"),
    "completion": ("completion", "response", "answer", "output"),
    "text": ("text", "content", "document"),
}


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with one conversation, as a sentence that names its row."""

    row: int
    code: str
    message: str


def detect_format(columns: Iterable[str],
                  mapping: Mapping[str, Any] | None = None) -> tuple[str, dict[str, str]]:
    """The causal-LM shape of a table and the columns it uses, from the mapping or the column names."""
    cols = [str(c) for c in columns]
    mapping = dict(mapping or {})
    lower = {c.lower().strip(): c for c in cols}
    explicit = {role: mapping.get(f"{role}_column") for role in _ALIASES}
    # the dataset services' mapping names the column under the role itself ("prompt": "question")
    named = {role: v for role in _ALIASES if isinstance(v := mapping.get(role), str) and v in cols}
    fmt = mapping.get("format")

    def pick(role: str) -> str | None:
        chosen = explicit.get(role)
        if chosen:
            if chosen not in cols:
                raise DatasetError(f"The file has no column '{chosen}'. Columns found: {', '.join(cols)}.")
            return chosen
        return named.get(role) or next((lower[a] for a in _ALIASES[role] if a in lower), None)

    if fmt == "preference":
        raise DatasetError("This dataset holds preference pairs (prompt, chosen, rejected), not examples to "
                           "imitate; train on it with the preference (DPO) kind, or choose a chat dataset "
                           "for ordinary fine-tuning.")
    found = {role: pick(role) for role in _ALIASES}
    if fmt in (None, "messages") and found["messages"]:
        return "messages", {"messages": found["messages"]}
    if fmt in (None, "prompt_completion", "prompt-completion") and found["prompt"] and found["completion"]:
        return "prompt_completion", {"prompt": found["prompt"], "completion": found["completion"]}
    if fmt in (None, "text") and found["text"]:
        return "text", {"text": found["text"]}
    raise DatasetError(
        "A causal-LM dataset needs a 'text' column, 'prompt' and 'completion' columns, or a 'messages' "
        f"column of chat turns; columns found: {', '.join(cols) or 'none'}. Rename a column or choose it "
        "in the column mapping.")


def normalize_turns(value: Any) -> list[dict[str, Any]] | None:
    """OpenAI or ShareGPT turns as ``{"role", "content"}`` dicts; None when not a list of turns.

    Roles are left as written when they are not ShareGPT speakers, so that the check can name
    an unknown one. Content given as parts (``[{"type": "text", "text": ...}]``) is joined.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    if hasattr(value, "tolist") and not isinstance(value, list | dict):
        value = value.tolist()  # pyarrow/numpy arrays read back from Parquet
    if isinstance(value, Mapping):
        value = value.get("messages", value.get("conversations"))
    if not isinstance(value, list) or not value:
        return None
    turns = []
    for turn in value:
        normal = _normal_turn(turn)
        if normal is None:
            return None
        turns.append(normal)
    return turns


def _normal_turn(turn: Any) -> dict[str, Any] | None:
    if not isinstance(turn, Mapping):
        return None
    if "from" in turn and "value" in turn and "role" not in turn:  # ShareGPT
        speaker = str(turn["from"]).strip().lower()
        out = {"role": SHAREGPT_ROLES.get(speaker, str(turn["from"])), "content": _content(turn["value"])}
        if speaker == "function_call":
            out["train"] = False
        return out
    if "role" not in turn or ("content" not in turn and "tool_calls" not in turn):
        return None
    out = {"role": str(turn["role"]), "content": _content(turn.get("content"))}
    calls = turn.get("tool_calls") or turn.get("function_call")
    if calls:
        if hasattr(calls, "tolist"):
            calls = calls.tolist()
        shown = json.dumps(calls, ensure_ascii=False, default=str)
        out["content"] = f"{out['content']}\n{shown}".strip() if out["content"] else shown
        out["train"] = False  # a tool call: context, not a target
    if turn.get("train") is False or turn.get("weight") == 0:
        out["train"] = False
    return out


def _content(value: Any) -> str:
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, list):  # content parts
        return "\n".join(str(p.get("text", "")) if isinstance(p, Mapping) else str(p) for p in value)
    return "" if value is None else str(value)


def is_target(turn: Mapping[str, Any]) -> bool:
    """Whether the model learns to write this turn (assistant text, not tool calls or results)."""
    return turn.get("role") == "assistant" and turn.get("train", True) is not False


def last_target(turns: Sequence[Mapping[str, Any]]) -> int:
    """Position of the last turn the model learns to write."""
    return max(i for i, t in enumerate(turns) if is_target(t))


def parse_messages(value: Any, row: int) -> list[dict[str, Any]] | RowProblem:
    """A conversation from a JSON string or a list of turns, or the problem that stops it."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except json.JSONDecodeError as exc:
            return RowProblem(row, "messages_not_json", f"Row {row}: the messages are not valid JSON "
                              f"({exc.msg} at character {exc.pos}); write them as a JSON list of turns.")
    raw = value
    if hasattr(raw, "tolist") and not isinstance(raw, list | dict | str):
        raw = raw.tolist()
    if isinstance(raw, str):
        raw = json.loads(raw)
    if isinstance(raw, Mapping):
        raw = raw.get("messages", raw.get("conversations"))
    if not isinstance(raw, list) or not raw:
        return RowProblem(row, "messages_not_list", f"Row {row} has no list of turns; write 'messages' as "
                          '[{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}].')
    turns: list[dict[str, Any]] = []
    for number, item in enumerate(raw, start=1):
        turn = _normal_turn(item)
        if turn is None:
            return RowProblem(row, "messages_bad_turn", f"Row {row}, turn {number} is not an object with "
                              "'role' and 'content' (OpenAI) or 'from' and 'value' (ShareGPT); write "
                              "each turn as {\"role\": ..., \"content\": ...}.")
        role, content = turn["role"], turn["content"]
        if role not in ROLES:
            return RowProblem(row, "messages_unknown_role", f"Row {row}, turn {number} has the unknown role "
                              f"'{role}'; use system, user, assistant or tool (ShareGPT: human, gpt, "
                              "system).")
        if not content.strip():
            return RowProblem(row, "messages_empty_turn", f"Row {row}, turn {number} ({role}) is empty; "
                              "write its text or remove the turn.")
        turns.append(turn)
    if not any(is_target(t) for t in turns):
        return RowProblem(row, "messages_no_assistant", f"Row {row} has no assistant turn, so there is "
                          "nothing to learn from it; add the assistant's reply or remove the row.")
    return turns


def alpaca_prompt(instruction: Any, extra: Any) -> str:
    """Alpaca's instruction with its optional input below it, as one user turn."""
    first, second = cell_text(instruction).strip(), cell_text(extra).strip()
    return f"{first}\n\n{second}" if second else first


def preview_conversations(frame: Any, mapping: Mapping[str, Any], n: int = 2) -> list[list[dict[str, Any]]]:
    """The first ``n`` usable rows of an uploaded table as chat turns, for the preview."""
    try:
        fmt, columns = detect_format(frame.columns, mapping)
    except DatasetError:
        return []
    if fmt == "text":
        return []
    extra = mapping.get("input")
    out = []
    for number, record in enumerate(frame.head(50).to_dict("records"), start=1):
        if fmt == "prompt_completion" and extra in record:
            record = {**record, columns["prompt"]: alpaca_prompt(record[columns["prompt"]], record[extra])}
        try:
            turns = row_to_messages(record, fmt, columns, number)
        except DatasetError:
            continue
        if turns:
            out.append(turns)
        if len(out) >= n:
            break
    return out


def read_messages_jsonl(source: str | bytes | Path) -> list[list[dict[str, str]]]:
    """Conversations from an OpenAI-style JSONL file; DatasetError naming the first bad line."""
    text = source.read_text(encoding="utf-8-sig") if isinstance(source, Path) else source
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig")

    def bad_line(line_no: int, exc: ValueError | RecursionError) -> DatasetError:
        why = (exc.msg if isinstance(exc, json.JSONDecodeError)
               else "nested too deeply" if isinstance(exc, RecursionError) else str(exc))
        return DatasetError(f"Line {line_no} of the JSONL file is not valid JSON ({why}); "
                            "each line must be one object like {\"messages\": [...]}.")

    conversations: list[list[dict[str, str]]] = []
    for line_no, _, record in read_jsonl(text, bad_line):
        parsed = parse_messages(record, line_no)
        if isinstance(parsed, RowProblem):
            raise DatasetError(parsed.message)
        conversations.append(parsed)
    if not conversations:
        raise DatasetError("The JSONL file has no conversations; add one {\"messages\": [...]} object "
                           "per line.")
    return conversations


def row_to_messages(row: Mapping[str, Any], fmt: str, columns: Mapping[str, str] | None = None,
                    row_number: int = 0) -> list[dict[str, str]] | None:
    """The chat turns of one example (None for plain text, which is trained on as raw text)."""
    cols = dict(columns or {k: k for k in ("messages", "prompt", "completion", "text")})
    if fmt == "text":
        return None
    if fmt in ("prompt_completion", "prompt-completion"):
        return [{"role": "user", "content": cell_text(row.get(cols["prompt"]))},
                {"role": "assistant", "content": cell_text(row.get(cols["completion"]))}]
    parsed = parse_messages(row.get(cols["messages"]), row_number)
    if isinstance(parsed, RowProblem):
        raise DatasetError(parsed.message)
    return parsed


def row_numbers(frame: Any) -> list[int]:
    """1-based row numbers in the original file (the ``_row`` column when present, else positions)."""
    if "_row" in frame.columns:
        return [int(r) for r in frame["_row"]]
    return list(range(1, len(frame) + 1))


def validate_rows(frame: Any, fmt: str, columns: Mapping[str, str]) -> list[RowProblem]:
    """Every problem of every row (empty text, empty prompt or completion, malformed conversation)."""
    problems: list[RowProblem] = []
    records = frame[list(columns.values())].to_dict("records")
    for row, record in zip(row_numbers(frame), records, strict=True):
        if fmt == "messages":
            parsed = parse_messages(record[columns["messages"]], row)
            if isinstance(parsed, RowProblem):
                problems.append(parsed)
            continue
        for role, column in columns.items():
            if not cell_text(record[column]).strip():
                problems.append(RowProblem(row, f"{role}_empty", f"Row {row} has an empty {role}; write it "
                                           "or remove the row."))
    return problems


def cell_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)
