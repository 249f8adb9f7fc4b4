"""Quality checks for causal-LM datasets: the table's shape, broken rows, and token lengths against the
limits of the model that will train on it (the hook the dataset service calls for this task)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.entities import Finding
from core.errors import DatasetError
from core.models import catalog
from core.tasks.chat import (
    CHARS_PER_TOKEN,
    DEFAULT_MAX_LENGTH,
    RowProblem,
    cell_text,
    detect_format,
    last_target,
    row_numbers,
    row_to_messages,
    validate_rows,
)
from core.text.jsonl import read_json_object


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
    template_problem: str | None = None  # one sentence when the model's chat template could not be used


class _Counter:
    """Counts tokens with whatever is at hand: an HF tokenizer, a model folder, or a character estimate."""

    def __init__(self, tokenizer: Any) -> None:
        self.hf = tokenizer if hasattr(tokenizer, "apply_chat_template") else None
        self.raw: Any = None
        self.template: str | None = None
        self.special: dict[str, str] = {}
        self.context: int | None = None
        self.problem: str | None = None
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
        config = read_json_object(folder / "tokenizer_config.json")
        self.special = {k: v for k in ("bos_token", "eos_token") if isinstance(v := config.get(k), str)}
        template = folder / "chat_template.jinja"
        self.template = (template.read_text(encoding="utf-8") if template.is_file()
                         else config.get("chat_template"))
        self.context = _context_of(folder)

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = False) -> str:
        # the template runs under a time and size budget; a runaway one falls back to ChatML with a sentence
        from core.tasks.chat_template import chatml, render_chat, render_with

        if self.hf is not None and getattr(self.hf, "chat_template", None):
            rendered = render_chat(self.hf, messages, add_generation_prompt=add_generation_prompt)
        elif self.template:
            rendered = render_with(self.template, messages, add_generation_prompt=add_generation_prompt,
                                   **self.special)
        else:
            return chatml(messages, add_generation_prompt)
        self.problem = self.problem or rendered.problem
        return rendered.text

    def count(self, texts: list[str]) -> list[int]:
        if self.hf is not None:
            return [len(ids) for ids in self.hf(texts, add_special_tokens=False)["input_ids"]]
        if self.raw is not None:
            return [len(e.ids) for e in self.raw.encode_batch(texts, add_special_tokens=False)]
        return [max(1, math.ceil(len(t) / CHARS_PER_TOKEN)) for t in texts]


def _context_of(folder: Path) -> int | None:
    model = read_json_object(folder / "config.json")
    return next((v for k in ("max_position_embeddings", "n_positions")
                 if isinstance(v := model.get(k), int)), None)


def example_lengths(records: Sequence[Mapping[str, Any]], fmt: str, columns: Mapping[str, str],
                    tokenizer: Any = None) -> Lengths:
    """Token lengths of each example as the trainer will see it (chat template applied, end token added)."""
    counter = _Counter(tokenizer)
    if fmt == "text":
        totals = counter.count([cell_text(r[columns["text"]]) for r in records])
        return Lengths([n + 1 for n in totals], None, counter.estimated, counter.context)
    full, prompts = [], []
    for i, record in enumerate(records, start=1):
        messages = row_to_messages(record, fmt, columns, i) or []
        last = last_target(messages)
        full.append(counter.render(messages))
        prompts.append(counter.render(messages[:last], add_generation_prompt=True))
    return Lengths(counter.count(full), counter.count(prompts), counter.estimated, counter.context,
                   counter.problem)


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
    if lengths.template_problem:
        findings.append(Finding("warning", "chat_template_fallback", lengths.template_problem))
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
