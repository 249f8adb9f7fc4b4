"""Causal-LM data: three shapes (plain text, prompt + completion, chat `messages`), checked in plain words.

Chat files come in the shapes people use: OpenAI ``messages`` (``role``/``content``, with
``tool`` turns and assistant ``tool_calls``), ShareGPT ``conversations`` (``from``/``value`` with
``human``/``gpt``/``system``) and Alpaca (``instruction`` + optional ``input`` + ``output``, read
as prompt and completion). Turns are normalised to ``{"role", "content"}``; tool results and
tool calls are context the model reads, never targets (``"train": False``).

Pure Python (no torch): the dataset services call :func:`check_causal_frame` while building the
quality report, and the training adapter turns each row into chat turns with
:func:`row_to_messages`. Row numbers in messages are 1-based positions in the file (for JSONL,
the line number of the conversation).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.entities import Finding
from core.errors import DatasetError

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
    first, second = _text(instruction).strip(), _text(extra).strip()
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
    conversations: list[list[dict[str, str]]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"Line {line_no} of the JSONL file is not valid JSON ({exc.msg}); "
                               "each line must be one object like {\"messages\": [...]}.") from exc
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
        return [{"role": "user", "content": _text(row.get(cols["prompt"]))},
                {"role": "assistant", "content": _text(row.get(cols["completion"]))}]
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
            if not _text(record[column]).strip():
                problems.append(RowProblem(row, f"{role}_empty", f"Row {row} has an empty {role}; write it "
                                           "or remove the row."))
    return problems


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _problem_findings(problems: Sequence[RowProblem], fmt: str) -> list[Finding]:
    by_code: dict[str, list[RowProblem]] = {}
    for problem in problems:
        by_code.setdefault(problem.code, []).append(problem)
    findings = []
    for code, items in by_code.items():
        rows = [p.row for p in items]
        # empty plain text only loses that row; a broken conversation or pair must be fixed first
        severity = "warning" if code == "text_empty" else "blocking"
        message = items[0].message
        if len(items) > 1:
            shown = ", ".join(str(r) for r in rows[:8]) + (", ..." if len(rows) > 8 else "")
            message = f"{message[:-1]} (the same problem is in {len(items)} rows: {shown})."
        findings.append(Finding(severity, code, message, count=len(items),
                                example={"row": rows[0], "rows": rows[:20], "format": fmt}))
    return findings


def check_causal_frame(frame: Any, mapping: Mapping[str, Any] | None, tokenizer: Any = None,
                       max_length: int | None = None, context_length: int | None = None,
                       model_key: str | None = None) -> list[Finding]:
    """Quality findings for a causal-LM table: its shape, broken rows, and token lengths vs the limits.

    Without a ``tokenizer``, the tokenizer of ``model_key`` (a causal LM of the catalogue; SmolLM2 by
    default) is used when it can be found, else lengths are estimated from characters.
    """
    try:
        fmt, columns = detect_format(frame.columns, mapping)
    except DatasetError as exc:
        return [Finding("blocking", "causal_format", str(exc))]
    problems = validate_rows(frame, fmt, columns)
    findings = [Finding("info", "causal_format", _format_sentence(fmt, columns), count=len(frame),
                        example={"format": fmt, "columns": dict(columns)})]
    findings.extend(_problem_findings(problems, fmt))
    bad = {p.row for p in problems}
    records = [r for i, r in zip(row_numbers(frame), frame[list(columns.values())].to_dict("records"),
                                 strict=True) if i not in bad]
    limit = max_length or int((mapping or {}).get("max_length") or DEFAULT_MAX_LENGTH)
    if records:
        if tokenizer is None:
            tokenizer, context_length = _catalogue_tokenizer(model_key, context_length)
        lengths = example_lengths(records, fmt, columns, tokenizer)
        findings.extend(length_findings(lengths, limit, context_length))
    return findings


def _format_sentence(fmt: str, columns: Mapping[str, str]) -> str:
    if fmt == "messages":
        return (f"Chat conversations read from the '{columns['messages']}' column; the model learns the "
                "assistant turns (tool calls and tool results are context only).")
    if fmt == "prompt_completion":
        return (f"Prompt and completion pairs read from '{columns['prompt']}' and '{columns['completion']}'; "
                "the model learns to write the completion.")
    return f"Plain text read from the '{columns['text']}' column; the model learns to continue it."


def _catalogue_tokenizer(model_key: str | None, context: int | None) -> tuple[Any, int | None]:
    """A tokenizer folder for the model (SmolLM2 unless `model_key` is a causal LM) and its context."""
    try:
        from core.models import catalog

        key = model_key if model_key and catalog.get_model(model_key).family == "causal-lm" \
            else catalog.SMOLLM2_KEY
        return catalog.tokenizer_path(key), context or catalog.get_model(key).context_length
    except Exception:  # noqa: BLE001 - no tokenizer at hand: the lengths are estimated instead
        return None, context


# ---- token lengths -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Lengths:
    """Token counts of the examples (whole example and, for chat shapes, the part before the answer)."""

    total: list[int]
    prompt: list[int] | None
    estimated: bool
    context: int | None


class _Counter:
    """Counts tokens with whatever is at hand: an HF tokenizer, a model folder, or a character estimate."""

    def __init__(self, tokenizer: Any) -> None:
        self.hf = tokenizer if hasattr(tokenizer, "apply_chat_template") else None
        self.raw: Any = None
        self.template: str | None = None
        self.special: dict[str, str] = {}
        self.context: int | None = None
        if isinstance(tokenizer, str | Path):
            self._load_folder(Path(tokenizer))
        elif self.hf is None and hasattr(tokenizer, "encode_batch"):
            self.raw = tokenizer
        if self.hf is not None:
            limit = getattr(self.hf, "model_max_length", None)
            self.context = limit if isinstance(limit, int) and limit < 1_000_000 else None
            folder = Path(str(getattr(self.hf, "name_or_path", "") or "."))
            if self.context is None and (folder / "config.json").is_file():
                self.context = _context_of(folder)

    @property
    def estimated(self) -> bool:
        return self.hf is None and self.raw is None

    def _load_folder(self, folder: Path) -> None:
        # the `tokenizers` library and a sandboxed Jinja template give exact counts without torch
        try:
            from tokenizers import Tokenizer

            self.raw = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception:  # noqa: BLE001 - fall back to the estimate rather than fail the report
            self.raw = None
        config = _read_json(folder / "tokenizer_config.json")
        self.special = {k: v for k in ("bos_token", "eos_token") if isinstance(v := config.get(k), str)}
        template = folder / "chat_template.jinja"
        self.template = (template.read_text(encoding="utf-8") if template.is_file()
                         else config.get("chat_template"))
        self.context = _context_of(folder)

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = False) -> str:
        if self.hf is not None and getattr(self.hf, "chat_template", None):
            return self.hf.apply_chat_template(messages, tokenize=False,
                                               add_generation_prompt=add_generation_prompt)
        if self.template:
            return _compiled_template(self.template).render(
                messages=messages, add_generation_prompt=add_generation_prompt, **self.special)
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")

    def count(self, texts: list[str]) -> list[int]:
        if self.hf is not None:
            return [len(ids) for ids in self.hf(texts, add_special_tokens=False)["input_ids"]]
        if self.raw is not None:
            return [len(e.ids) for e in self.raw.encode_batch(texts, add_special_tokens=False)]
        return [max(1, math.ceil(len(t) / CHARS_PER_TOKEN)) for t in texts]


@functools.lru_cache(maxsize=8)
def _compiled_template(source: str) -> Any:
    """Compile a chat template once (compiling per row cost ~10 ms, 18 s for the chat-pairs set)."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    # the same environment transformers renders chat templates in
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=["jinja2.ext.loopcontrols"])
    return env.from_string(source)


def _context_of(folder: Path) -> int | None:
    model = _read_json(folder / "config.json")
    return next((v for k in ("max_position_embeddings", "n_positions")
                 if isinstance(v := model.get(k), int)), None)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def example_lengths(records: Sequence[Mapping[str, Any]], fmt: str, columns: Mapping[str, str],
                    tokenizer: Any = None) -> Lengths:
    """Token lengths of each example as the trainer will see it (chat template applied, end token added)."""
    counter = _Counter(tokenizer)
    if fmt == "text":
        totals = counter.count([_text(r[columns["text"]]) for r in records])
        return Lengths([n + 1 for n in totals], None, counter.estimated, counter.context)
    full, prompts = [], []
    for i, record in enumerate(records, start=1):
        messages = row_to_messages(record, fmt, columns, i) or []
        last = last_target(messages)
        full.append(counter.render(messages))
        prompts.append(counter.render(messages[:last], add_generation_prompt=True))
    return Lengths(counter.count(full), counter.count(prompts), counter.estimated, counter.context)


def length_findings(lengths: Lengths, max_length: int, context_length: int | None = None) -> list[Finding]:
    """Sentences about token lengths: the spread, how many examples the max length would cut."""
    total = sorted(lengths.total)
    n = len(total)
    context = context_length or lengths.context
    about = "about " if lengths.estimated else ""
    stats = {"min": total[0], "median": total[n // 2], "p95": total[min(n - 1, int(n * 0.95))],
             "max": total[-1], "max_length": max_length, "context": context, "estimated": lengths.estimated,
             "histogram": _histogram(total)}
    limits = f"the chosen max length is {max_length:,}"
    if context:
        limits = f"the model reads at most {context:,} tokens and {limits}"
    findings = [Finding("info", "token_lengths", f"Examples are {about}{stats['min']:,} to {stats['max']:,} "
                        f"tokens long (median {stats['median']:,}); {limits}.", count=n, example=stats)]
    effective = max_length
    if context and max_length > context:
        effective = context
        findings.append(Finding("warning", "max_length_over_context", f"The chosen max length "
                                f"{max_length:,} is above the model's context of {context:,} tokens; "
                                f"training uses {context:,}."))
    cut = sum(1 for t in total if t > effective)
    if cut:
        findings.append(Finding("warning", "examples_cut", f"{cut:,} of {n:,} examples ({cut / n:.0%}) are "
                                f"longer than the max length of {effective:,} tokens and would be cut at the "
                                "end; raise the max length or shorten them.", count=cut))
    if lengths.prompt is not None:
        empty = sum(1 for p in lengths.prompt if p >= effective)
        if empty:
            findings.append(Finding("warning", "prompt_fills_max_length", f"{empty:,} examples have a prompt "
                                    f"that alone fills the max length of {effective:,} tokens, so they teach "
                                    "nothing; raise the max length or shorten those prompts.", count=empty))
    if lengths.estimated:
        findings.append(Finding("info", "token_lengths_estimated", "Token counts are estimated from the "
                                "number of characters because no tokenizer was available; they are exact "
                                "once a model is chosen."))
    return findings


def _histogram(sorted_lengths: list[int], bins: int = 20) -> dict[str, list[int]]:
    low, high = sorted_lengths[0], sorted_lengths[-1]
    width = max(1, math.ceil((high - low + 1) / bins))
    counts = [0] * bins
    for value in sorted_lengths:
        counts[min(bins - 1, (value - low) // width)] += 1
    edges = [low + i * width for i in range(bins)]
    last = max(i for i, c in enumerate(counts) if c) + 1
    return {"edges": edges[:last], "counts": counts[:last]}
