"""Which column plays which role (text, label, tokens, …): suggestions and validation."""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.data.splits import SPLIT_NAMES
from core.entities import TASKS
from core.errors import DatasetError
from core.text.textfile import infer_type

HINTS = {
    "text": ("text", "review", "sentence", "content", "body", "message", "tweet", "comment",
             "description", "document", "utterance", "query", "title"),
    "label": ("label", "labels", "category", "class", "sentiment", "target", "intent", "topic",
              "y", "rating", "stars", "score", "emotion", "polarity", "tag"),
    "tokens": ("tokens", "words", "token"),
    "tags": ("tags", "ner_tags", "labels", "ner", "iob", "bio", "tag"),
    "prompt": ("prompt", "instruction", "input", "question", "query", "user"),
    "completion": ("completion", "response", "output", "answer", "reply", "assistant"),
    "messages": ("messages", "conversation", "conversations", "chat", "dialog", "dialogue"),
    "split_column": ("split", "fold", "set", "subset", "partition"),
    "chosen": ("chosen", "preferred", "better", "winner", "accepted"),
    "rejected": ("rejected", "dispreferred", "worse", "loser"),
}
ROLE_KEYS = ("text", "label", "tokens", "tags", "prompt", "completion", "input", "messages", "chosen",
             "rejected", "meta", "group", "split_column")
FORMATS = ("text", "prompt_completion", "messages", "preference")
RESERVED = {"split", "group", "label", "_row"}


def _named(columns: list[str], role: str, among: list[str] | None = None) -> str | None:
    pool = among if among is not None else columns
    lower = {c.lower().strip(): c for c in pool}
    for hint in HINTS[role]:
        if hint in lower:
            return lower[hint]
    return None


def _is_split_column(series: pd.Series) -> bool:
    values = series.dropna().astype(str).str.strip().str.lower().unique()[:20]
    return 0 < len(values) <= 3 and all(v in SPLIT_NAMES for v in values)


def suggest_mapping(frame: pd.DataFrame, task: str | None = None) -> dict[str, Any]:
    """Guess which column is the text, the label, the tokens/tags…, and the task if not given."""
    head = frame.head(2000)
    columns = [str(c) for c in frame.columns]
    kinds = {c: infer_type(head[c]) for c in columns}
    lists = [c for c in columns if kinds[c] == "list"]
    texts = [c for c in columns if kinds[c] == "text"]
    m: dict[str, Any] = {k: None for k in ROLE_KEYS} | {"features": [], "format": None}
    split_col = _named(columns, "split_column")
    if split_col and _is_split_column(head[split_col]):
        m["split_column"] = split_col
    free = [c for c in columns if c != m["split_column"]]
    if task in (None, "causal-lm") and _preference_columns(free, m):
        return m
    if len(lists) >= 2:
        m["tokens"] = _named(free, "tokens", lists) or lists[0]
        rest = [c for c in lists if c != m["tokens"]]
        m["tags"] = _named(free, "tags", rest) or rest[0]
    else:  # token lists written as text ("[...]" or space-separated) need exact names
        lower = {c.lower(): c for c in free}
        m["tokens"] = next((lower[n] for n in ("tokens", "words") if n in lower), None)
        m["tags"] = next((lower[n] for n in ("tags", "ner_tags") if n in lower), None)
        if not (m["tokens"] and m["tags"]):
            m["tokens"] = m["tags"] = None
    m["messages"] = _named(free, "messages")
    m["prompt"] = _named(free, "prompt")
    m["completion"] = _named([c for c in free if c != m["prompt"]], "completion")
    m["text"] = _named(free, "text", texts) or _longest(head, texts) or _named(free, "text")
    if not (m["prompt"] and m["completion"]):
        m["prompt"] = m["completion"] = None
    elif m["prompt"].lower() == "instruction":  # Alpaca: instruction + input + output
        m["input"] = next((c for c in free if c.lower().strip() == "input"), None)
    if m["text"] in (m["tokens"], m["tags"], m["prompt"], m["completion"], m["input"], m["messages"]):
        m["text"] = None
    others = [c for c in free if c not in (m["text"], m["tokens"], m["tags"], m["prompt"],
                                           m["completion"], m["input"], m["messages"])]
    m["label"] = _named(others, "label") or _category(head, others, kinds)
    m["task"] = task if task in TASKS else _guess_task(head, m, kinds, columns)
    if m["task"] == "causal-lm":
        m["format"] = ("messages" if m["messages"] else
                       "prompt_completion" if m["prompt"] and m["completion"] else "text")
    if m["task"] == "tabular":
        m["text"] = None
        if m["label"] is None:
            m["label"] = columns[-1]
        m["features"] = [c for c in free if c != m["label"]]
    return m


def _preference_columns(free: list[str], m: dict[str, Any]) -> bool:
    """TRL's preference shape (``prompt`` / ``chosen`` / ``rejected``): fill ``m`` and say so."""
    chosen, rejected = _named(free, "chosen"), _named(free, "rejected")
    if not (chosen and rejected) or chosen == rejected:
        return False
    m.update(task="causal-lm", format="preference", chosen=chosen, rejected=rejected,
             prompt=_named([c for c in free if c not in (chosen, rejected)], "prompt"))
    return True


def _longest(head: pd.DataFrame, candidates: list[str]) -> str | None:
    if not candidates:
        return None
    return max(candidates, key=lambda c: head[c].dropna().astype(str).str.len().mean())


def _category(head: pd.DataFrame, candidates: list[str], kinds: dict[str, str]) -> str | None:
    pool = [c for c in candidates if kinds[c] in ("category", "integer", "boolean")
            and 1 < head[c].nunique() <= max(2, min(100, len(head) // 2))]
    return min(pool, key=lambda c: head[c].nunique()) if pool else None


def _guess_task(head: pd.DataFrame, m: dict[str, Any], kinds: dict[str, str],
                columns: list[str]) -> str:
    if m["tokens"] and m["tags"]:
        return "token-classification"
    if m["messages"] or (m["prompt"] and m["completion"]):
        return "causal-lm"
    if m["text"] and m["label"]:
        label = head[m["label"]].dropna()
        if kinds[m["label"]] == "number" and label.nunique() > 20:
            return "regression"
        return "classification"
    if m["text"]:
        return "causal-lm"
    return "tabular"


def _check_column(columns: list[str], col: Any, what: str) -> str:
    if col is None or (isinstance(col, str) and not col.strip()):
        raise DatasetError(f"Choose the column that holds {what}.")
    if col not in columns:
        shown = ", ".join(columns[:20]) + (", …" if len(columns) > 20 else "")
        raise DatasetError(f"The file has no column '{col}'. Columns found: {shown}.")
    return str(col)


def resolve_mapping(frame: pd.DataFrame, mapping: dict[str, Any], task: str) -> dict[str, Any]:
    """Check a mapping against the file and fill in what the task implies; raise DatasetError."""
    if task not in TASKS:
        raise DatasetError(f"Unknown task '{task}'; choose one of {', '.join(TASKS)}.")
    columns = [str(c) for c in frame.columns]
    m: dict[str, Any] = {k: None for k in ROLE_KEYS} | {"task": task, "features": [], "format": None}
    required: dict[str, str] = {}
    if task in ("classification", "regression"):
        required = {"text": "the text", "label": "the label"}
    elif task == "token-classification":
        required = {"tokens": "the tokens (words)", "tags": "the tags (one per token)"}
    elif task == "tabular":
        required = {"label": "the value to predict (the label)"}
    else:
        fmt = mapping.get("format") or ("messages" if mapping.get("messages") else
                                        "preference" if mapping.get("chosen") else
                                        "prompt_completion" if mapping.get("prompt") else "text")
        fmt = str(fmt).replace("-", "_")
        if fmt not in FORMATS:
            raise DatasetError(f"Unknown causal-lm format '{fmt}'; choose one of {', '.join(FORMATS)}.")
        m["format"] = fmt
        required = {"text": {"text": "the text"}, "messages": {"messages": "the chat messages"},
                    "prompt_completion": {"prompt": "the prompt",
                                          "completion": "the completion (the answer)"},
                    "preference": {"chosen": "the chosen (preferred) answer",
                                   "rejected": "the rejected answer"}}[fmt]
    for key, what in required.items():
        m[key] = _check_column(columns, mapping.get(key), what)
    optional = [("group", "the groups"), ("split_column", "the split")]
    if m["format"] == "prompt_completion":
        optional.append(("input", "the extra input (Alpaca)"))
    if m["format"] == "preference":  # without it, the prompt is the conversation before the answers
        optional += [("prompt", "the prompt"), ("meta", "facts about each pair")]
    for key, what in optional:
        if mapping.get(key):
            m[key] = _check_column(columns, mapping[key], what)
    used = [m[k] for k in ROLE_KEYS if m[k]]
    if len(used) != len(set(used)):
        twice = next(c for c in used if used.count(c) > 1)
        raise DatasetError(f"The column '{twice}' was chosen for two roles; pick a different "
                           "column for each role.")
    if task == "tabular":
        features = mapping.get("features") or [c for c in columns if c not in used]
        features = [_check_column(columns, f, "a feature") for f in features]
        features = [f for f in features if f not in used]
        if not features:
            raise DatasetError("Choose at least one feature column besides the label.")
        clash = [f for f in features if f in RESERVED]
        if clash:
            raise DatasetError(f"A feature column cannot be called '{clash[0]}'; rename it in "
                               "the file and upload it again.")
        m["features"] = features
        m["target_kind"] = mapping.get("target_kind") or _target_kind(frame[m["label"]])
    m["drop_duplicates"] = bool(mapping.get("drop_duplicates", True))
    return m


def _target_kind(label: pd.Series) -> str:
    """'regression' for a numeric target with many values, else 'classification'."""
    values = pd.to_numeric(label.dropna(), errors="coerce")
    if values.isna().any() or len(values) == 0:
        return "classification"
    integral = bool((values == values.round()).all())
    return "classification" if integral and values.nunique() <= 20 else "regression"
