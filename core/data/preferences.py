"""Preference datasets: pairs of answers to one prompt, the chosen (preferred) and the rejected one.

A preference dataset is a causal-LM dataset version whose ``mapping["format"]`` is ``"preference"``.
Its Parquet file has the columns ``split``, ``prompt`` (a JSON list of ``{role, content}`` turns whose
last is the user's), ``chosen`` and ``rejected`` (the assistant's text) and ``meta`` (a JSON object per
pair: who voted and when, the run that wrote the rejected answer; never trained on). The validation and
test splits are the held-out pairs. Uploads in TRL's shape and every builder (review votes, judge
verdicts, corrections, references against a run's answers) end in :func:`save_pairs`, which records
where the pairs came from in ``info["preference"]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pandas as pd

from core.data.datasets import (
    Prepared,
    frame_to_parsed,
    get_dataset,
    load_dataset_frame,
    prepare_dataset,
    save_dataset,
)
from core.data.preference_checks import parent_test_findings
from core.data.splits import SplitConfig
from core.entities import DatasetInfo, QualityReport
from core.errors import DatasetError
from core.models import catalog
from core.tasks.chat import DEFAULT_MAX_LENGTH, last_target, row_to_messages
from core.tasks.preference import PREFERENCE_FORMAT, prompt_text

__all__ = ["PREFERENCE_FORMAT", "SOURCES", "PreferencePair", "is_preference", "load_pairs", "save_pairs",
           "pairs_frame", "preference_facts", "prompt_text", "dataset_prompts", "source_sentence"]

SOURCES = ("review", "judge", "corrections", "references", "upload")
PAIRS_MAPPING = {"format": PREFERENCE_FORMAT, "prompt": "prompt", "chosen": "chosen", "rejected": "rejected",
                 "meta": "meta"}
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class PreferencePair:
    """One prompt (the conversation up to the answer; its last turn is the user's) and two answers."""

    prompt: tuple[dict[str, str], ...]
    chosen: str
    rejected: str
    meta: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)  # source, voters, times (not trained on)

    @classmethod
    def of(cls, prompt: str | Sequence[Mapping[str, Any]], chosen: str, rejected: str,
           **meta: Any) -> PreferencePair:
        """A pair from a plain user prompt (or turns), the two answers, and facts about it."""
        turns = ([{"role": "user", "content": prompt}] if isinstance(prompt, str)
                 else [{"role": str(t["role"]), "content": str(t["content"])} for t in prompt])
        return cls(tuple(turns), str(chosen), str(rejected), MappingProxyType(dict(meta)))

    @property
    def prompt_text(self) -> str:
        """The user's last message, for a one-line view."""
        return prompt_text(self.prompt)


def is_preference(info: DatasetInfo) -> bool:
    """Whether a dataset version holds preference pairs (a causal-LM dataset in the preference shape)."""
    return info.task == "causal-lm" and (info.mapping or {}).get("format") == PREFERENCE_FORMAT


def _require(info: DatasetInfo) -> None:
    if not is_preference(info):
        raise DatasetError(f"The dataset '{info.label}' holds no preference pairs (prompt, chosen, "
                           "rejected); choose a preference dataset.")


def load_pairs(dataset_id: int, split: str | None = None) -> list[PreferencePair]:
    """The pairs of a preference dataset version (one split, or all), in the file's order."""
    _require(get_dataset(dataset_id))
    return [PreferencePair(tuple(json.loads(row["prompt"])), str(row["chosen"]), str(row["rejected"]),
                           MappingProxyType(_meta(row.get("meta"))))
            for row in load_dataset_frame(dataset_id, split).to_dict("records")]


def _meta(value: Any) -> dict[str, Any]:
    if not isinstance(value, str) or not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def pairs_frame(pairs: Sequence[PreferencePair]) -> pd.DataFrame:
    """Pairs as the columns a preference dataset saves (the prompt as JSON turns, meta as an object)."""
    return pd.DataFrame({
        "prompt": [json.dumps(list(p.prompt), ensure_ascii=False) for p in pairs],
        "chosen": [p.chosen for p in pairs], "rejected": [p.rejected for p in pairs],
        "meta": [dict(p.meta) for p in pairs]})


def save_pairs(pairs: Sequence[PreferencePair], *, name: str, source: Mapping[str, Any],
               created_by: str = "", split: SplitConfig | None = None,
               max_length: int = DEFAULT_MAX_LENGTH) -> DatasetInfo:
    """Save pairs as a new preference dataset version (the same pairs, mapping and split return the
    existing version). ``source``: where they came from (``source``: one of ``SOURCES``, ids, counts);
    with a ``parent_dataset_id``, the report says which prompts are also in that dataset's test split."""
    if not pairs:
        raise DatasetError("There are no preference pairs to save: nothing was decided between two answers.")
    kind = str(source.get("source", ""))
    if kind not in SOURCES:
        raise DatasetError(f"Unknown preference source '{kind}'; choose one of {', '.join(SOURCES)}.")
    split = split or SplitConfig()
    parsed = frame_to_parsed(pairs_frame(pairs), f"{kind}-pairs")
    model_key = catalog.SMOLLM2_KEY
    prepared = prepare_dataset(parsed, dict(PAIRS_MAPPING), task="causal-lm", split=split,
                               model_key=model_key, max_length=max_length)
    parent = source.get("parent_dataset_id")
    if parent is not None:
        prepared = _with_parent_findings(prepared, int(parent))
    facts = {**dict(source), "pairs": int(len(prepared.frame))}
    return save_dataset(parsed, dict(PAIRS_MAPPING), name=name, task="causal-lm", split=split,
                        model_key=model_key, max_length=max_length, extra_info={"preference": facts},
                        created_by=created_by, prepared=prepared)


def _with_parent_findings(prepared: Prepared, parent_id: int) -> Prepared:
    parent = get_dataset(parent_id)
    extra = parent_test_findings(prepared.frame, dataset_prompts(parent_id, "test"), f"'{parent.label}'")
    if not extra:
        return prepared
    report = QualityReport((*prepared.report.findings, *extra), prepared.report.stats)
    return Prepared(prepared.frame, prepared.mapping, report)


def dataset_prompts(dataset_id: int, split: str) -> list[str]:
    """The user prompts of one split of a causal-LM dataset (the last user turn before each answer)."""
    info = get_dataset(dataset_id)
    frame = load_dataset_frame(dataset_id, split)
    fmt = (info.mapping or {}).get("format") or "text"
    if fmt == PREFERENCE_FORMAT:
        return [prompt_text(json.loads(p)) for p in frame["prompt"]]
    if fmt == "text" or info.task != "causal-lm":
        return []
    prompts = []
    for number, record in enumerate(frame.to_dict("records"), start=1):
        try:
            turns = row_to_messages(record, fmt, None, number) or []
            prompts.append(prompt_text(turns[:last_target(turns)]))
        except (DatasetError, ValueError):
            continue
    return prompts


def preference_facts(info: DatasetInfo) -> dict[str, Any]:
    """Where a preference dataset's pairs came from, and their counts (``info["preference"]``)."""
    facts = dict((info.info or {}).get("preference") or {})
    facts.setdefault("source", "upload")
    facts.setdefault("pairs", info.row_count)
    return facts


def _n(facts: Mapping[str, Any], key: str) -> int:
    try:
        return int(facts.get(key) or 0)
    except (TypeError, ValueError):
        return 0


def counts_sentence(facts: Mapping[str, Any]) -> str:
    """How the pairs were counted, in words a reader can add up: what was looked at, what was left out
    and why, and the pairs saved (``pairs``, after the quality report's own exclusions)."""
    source, pairs = str(facts.get("source", "upload")), _n(facts, "pairs")
    parts: list[str] = []
    if source == "references":
        answered = _n(facts, "answered")
        parts.append(f"Run {facts.get('run_id')} answered {answered:,} {facts.get('split', 'train')} prompts")
        right, empty = _n(facts, "right_left_out"), _n(facts, "empty_left_out")
        if right:
            parts.append(f"{right:,} answers scored ROUGE-L of {facts.get('threshold')} or more and are "
                         "left out")
        if empty:
            parts.append(f"{empty:,} empty answers are left out")
        made = answered - right - empty
    elif source in ("review", "judge"):
        judged = f" and {_n(facts, 'votes'):,} votes" if source == "review" else " judged"
        parts.append(f"{_n(facts, 'items'):,} items{judged}")
        for key, words in (("ties_left_out", "tied"), ("split_decisions_left_out", "split"),
                           ("unreadable_left_out", "with an unreadable verdict"),
                           ("items_without_votes", "without a vote")):
            if _n(facts, key):
                parts.append(f"{_n(facts, key):,} {words} (left out)")
        made = None
    elif source == "corrections":
        parts.append(f"{_n(facts, 'corrections'):,} corrections ({_n(facts, 'rewrites'):,} rewritten "
                     f"answers, {_n(facts, 'thumbs'):,} thumbs)")
        made = None
    else:
        made = None
    if made is not None and made > pairs:
        parts.append(f"{made - pairs:,} of the {made:,} pairs made were left out when saving (see the "
                     "quality report)")
    parts.append(f"{pairs:,} pairs saved")
    return "; ".join(parts) + "."


def source_sentence(facts: Mapping[str, Any]) -> str:
    """Where a preference dataset's pairs came from, in one sentence."""
    source = str(facts.get("source", "upload"))
    review = f"review #{facts.get('review_id')}"
    run = f" of run {facts['run_id']}" if facts.get("run_id") else ""
    words = {"review": f"the people's votes in {review}",
             "judge": f"the judge's verdicts ({facts.get('judge_model', '')}) on {review}, apart from "
                      "the votes",
             "corrections": f"people's corrections{run}",
             "references": f"the reference answers against run {facts.get('run_id')}'s own wrong answers",
             "upload": "an uploaded file"}
    return f"Pairs from {words.get(source, source)}."
