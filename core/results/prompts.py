"""The prompts of an answer evaluation: held-out examples as the model sees them, zero- or few-shot.

A causal-LM example is its conversation up to the last answer (the prompt) and that answer
(the reference), exactly what fine-tuning trained on; plain text is split after its first
words. Few-shot puts ``k`` training conversations, drawn once with the seed, before every
prompt as earlier chat turns. A classification example asks an instruct model to answer with
one of the labels; few-shot shows ``k`` labelled training texts (the labels taken in turn) as
earlier turns. An evaluation of N examples takes the first N usable rows of the split in a
seeded random order (listed by position), so the run and its baselines see the same rows.
Pure functions over DataFrames: no model, no database.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.tasks import chat

MAX_TEXT_CHARS = 1500
TEXT_HEAD_WORDS = 12


@dataclass(frozen=True)
class Example:
    """One held-out example: its position in the split, the text shown, the model input, the reference."""

    position: int
    shown: str
    prompt: dict[str, Any]
    reference: str


def _split_text(text: str) -> tuple[str, str]:
    words = str(text).split()
    head = " ".join(words[:max(1, min(TEXT_HEAD_WORDS, len(words) // 2))])
    return head, " ".join(words[len(head.split()):])


def _shot_positions(n_train: int, k: int, seed: int) -> list[int]:
    return random.Random(seed).sample(range(n_train), min(max(0, k), n_train)) if n_train else []


def sample_positions(n: int, seed: int) -> list[int]:
    """Every position of a split in a seeded random order (evaluations take the first usable N)."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


def causal_examples(split: pd.DataFrame, train: pd.DataFrame, mapping: dict[str, Any], *, limit: int,
                    shots: int = 0, seed: int = 0) -> list[Example]:
    """The first ``limit`` examples of a split with a reference answer, with ``shots`` training examples."""
    fmt, columns = chat.detect_format(split.columns, {"format": mapping.get("format")})
    context: list[dict[str, str]] = []
    prefix = ""
    train_records = train.to_dict("records")
    for i in _shot_positions(len(train_records), shots, seed):
        messages = chat.row_to_messages(train_records[i], fmt, columns, i + 1)
        if messages is None:
            prefix += str(train_records[i][columns["text"]]).strip() + "\n\n"
        else:
            context += [m for m in messages if m["role"] != "system"]
    out: list[Example] = []
    records = split.to_dict("records")
    for position in sample_positions(len(records), seed):
        if len(out) >= limit:
            break
        record = records[position]
        messages = chat.row_to_messages(record, fmt, columns, position + 1)
        if messages is None:
            head, rest = _split_text(record[columns["text"]])
            if rest:
                out.append(Example(position, head, {"text": prefix + head}, rest))
            continue
        answers = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
        if not answers or not messages[answers[-1]]["content"].strip():
            continue
        last = answers[-1]
        turns = messages[:last]
        system = [m for m in turns if m["role"] == "system"]
        turns = system + context + [m for m in turns if m["role"] != "system"]
        if not turns or turns[-1]["role"] != "user":
            continue
        shown = next((m["content"] for m in reversed(messages[:last]) if m["role"] == "user"), "")
        out.append(Example(position, shown, {"messages": turns}, messages[last]["content"]))
    return sorted(out, key=lambda e: e.position)


def instruction(labels: list[str]) -> str:
    """The classification instruction shown before every text."""
    return ("Classify the text into exactly one of these labels: " + ", ".join(labels)
            + ". Answer with the label only.")


def _ask(labels: list[str], text: Any) -> str:
    return f"{instruction(labels)}\n\nText: {str(text)[:MAX_TEXT_CHARS]}"


def classification_examples(split: pd.DataFrame, train: pd.DataFrame, labels: list[str], *, limit: int,
                            shots: int = 0, seed: int = 0) -> list[Example]:
    """The first ``limit`` labelled texts of a split as chat prompts, after ``shots`` labelled examples."""
    train = train.dropna(subset=["text", "label"]).reset_index(drop=True)
    rng = random.Random(seed)
    groups = train.groupby(train["label"].astype(str))
    by_label = {lab: rng.sample(list(g.index), len(g)) for lab, g in groups}
    picks: list[int] = []
    while len(picks) < shots and any(by_label.values()):
        for lab in labels:  # the labels in turn, so every label is shown when k allows
            if by_label.get(lab) and len(picks) < shots:
                picks.append(by_label[lab].pop())
    context: list[dict[str, str]] = []
    for i in picks:
        context += [{"role": "user", "content": _ask(labels, train.at[i, "text"])},
                    {"role": "assistant", "content": str(train.at[i, "label"])}]
    out = []
    records = split.to_dict("records")
    for position in sample_positions(len(records), seed):
        if len(out) >= limit:
            break
        record = records[position]
        if record.get("text") is None or record.get("label") is None:
            continue
        out.append(Example(position, str(record["text"]), label_prompt(context, labels, record["text"]),
                           str(record["label"])))
    return sorted(out, key=lambda e: e.position)


def label_prompt(context: list[dict[str, str]], labels: list[str], text: Any) -> dict[str, Any]:
    """The chat prompt that asks for the label of one text after the few-shot turns."""
    return {"messages": context + [{"role": "user", "content": _ask(labels, text)}]}


def content_free_prompt(example: Example, labels: list[str]) -> dict[str, Any]:
    """The same prompt with the text replaced by 'N/A': it measures the model's bias towards each label."""
    return label_prompt(example.prompt["messages"][:-1], labels, "N/A")
