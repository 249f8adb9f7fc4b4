"""Quality checks of preference pairs (prompt / chosen / rejected), in plain sentences.

Duplicates and empty sides are the general checks' (``core.data.quality.clean_rows``: the content
columns are the prompt and both sides); a prompt in two splits is the leakage check's (the prompt
is the input a pair is about, and the split keeps each prompt in one split). Here: pairs whose two
sides are the same, sides longer than the max length, and prompts that are in the test split of the
dataset the pairs were made from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from core.data import chat_checks
from core.data.canonical import counted, short
from core.entities import Finding
from core.tasks.chat import DEFAULT_MAX_LENGTH
from core.tasks.preference import PREFERENCE_FORMAT, prompt_text


def is_pairs_mapping(mapping: Mapping[str, Any] | None) -> bool:
    """Whether a (causal-LM) mapping is the preference shape."""
    return (mapping or {}).get("format") == PREFERENCE_FORMAT


def drop_identical(kept: pd.DataFrame) -> tuple[pd.DataFrame, list[Finding]]:
    """Leave out pairs whose chosen and rejected answers are the same text (whitespace aside)."""
    if kept.empty:
        return kept, []
    same = (kept["chosen"].astype(str).str.split().str.join(" ")
            == kept["rejected"].astype(str).str.split().str.join(" ")).to_numpy()
    if not same.any():
        return kept, []
    first = kept[same].iloc[0]
    row = int(first["_row"]) if "_row" in kept else 1
    n = int(same.sum())
    return kept[~same], [Finding(
        "warning", "chosen_equals_rejected",
        f"{counted(n, 'pair', 'has')} the same chosen and rejected answer (e.g. row {row}: "
        f"'{short(first['chosen'], 60)}'), so there is nothing to prefer; those pairs are left out.",
        n, {"row": row, "chosen": short(first["chosen"])})]


def check_causal_frame(frame: Any, mapping: Mapping[str, Any] | None, tokenizer: Any = None,
                       max_length: int | None = None, context_length: int | None = None,
                       model_key: str | None = None) -> list[Finding]:
    """The causal-LM hook of the dataset service: pairs get the checks below, the rest the chat checks."""
    if not is_pairs_mapping(mapping):
        return chat_checks.check_causal_frame(frame, mapping, tokenizer=tokenizer, max_length=max_length,
                                              context_length=context_length, model_key=model_key)
    return check_pairs_frame(frame, tokenizer=tokenizer, max_length=max_length,
                             context_length=context_length, model_key=model_key)


def check_pairs_frame(frame: pd.DataFrame, tokenizer: Any = None, max_length: int | None = None,
                      context_length: int | None = None, model_key: str | None = None) -> list[Finding]:
    """How many pairs, and how long prompt + answer is on each side against the max length."""
    n = len(frame)
    findings = [Finding("info", "preference_pairs",
                        f"{counted(n, 'preference pair')}: each prompt with a chosen (preferred) and a "
                        "rejected answer; preference training (DPO) learns to prefer the chosen one.",
                        count=n, example={"format": PREFERENCE_FORMAT})]
    if not n:
        return findings
    if tokenizer is None:
        tokenizer, context_length = chat_checks._catalogue_tokenizer(model_key, context_length)
    limit = int(max_length or DEFAULT_MAX_LENGTH)
    columns = {"messages": "messages"}
    longest: list[int] = [0] * n
    lengths = None
    for side in ("chosen", "rejected"):
        records = [{"messages": json.loads(p) + [{"role": "assistant", "content": str(a)}]}
                   for p, a in zip(frame["prompt"], frame[side], strict=True)]
        lengths = chat_checks.example_lengths(records, "messages", columns, tokenizer)
        longest = [max(a, b) for a, b in zip(longest, lengths.total, strict=True)]
    assert lengths is not None
    longer = chat_checks.Lengths(longest, lengths.prompt, lengths.estimated, lengths.context,
                                 lengths.template_problem)
    for finding in chat_checks.length_findings(longer, limit, context_length):
        if finding.code == "examples_cut":  # say it of pairs: the longer side decides
            finding = Finding("warning", "pairs_cut", finding.message.replace(
                "examples", "pairs").replace("are longer", "have a side (prompt and answer) longer")
                .replace("would be cut at the end", "would lose the end of that answer"), finding.count)
        findings.append(finding)
    return findings


def parent_test_findings(frame: pd.DataFrame, test_prompts: Iterable[str], parent: str) -> list[Finding]:
    """Pairs whose prompt is also a prompt of the test split of the dataset they were made from: trained
    on, they flatter that dataset's test score."""
    held = {" ".join(str(p).split()) for p in test_prompts if str(p).strip()}
    if frame.empty or not held:
        return []
    texts = frame["prompt"].map(lambda p: " ".join(prompt_text(json.loads(p)).split()))
    hit = texts.isin(held).to_numpy()
    if not hit.any():
        return []
    n, first = int(hit.sum()), str(texts[hit].iloc[0])
    return [Finding("warning", "prompt_in_parent_test",
                    f"{counted(n, 'pair', 'has')} a prompt that is also in the test split of {parent} (e.g. "
                    f"'{short(first, 60)}'); training on them flatters that test score, so compare runs on "
                    "other prompts or leave these pairs out.", n, {"prompt": short(first)})]
