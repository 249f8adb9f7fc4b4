"""The evidence of a preference (DPO) run, read back for the Evaluation page, the CLI and the report.

What the worker stored (``core.training.evidence.preference_evidence``): both answers of each held-out
pair scored by the run and by its parent (``core.tasks.preference_metrics``: preference accuracy of
each, their paired difference, DPO's reward accuracy and margin, all with 95 % intervals), and the
run's answers to the parent's test examples scored like the parent's, so answer quality is compared
example by example (did the preferences cost accuracy?). TRL's own reward accuracy on the validation
pairs during training is in the run's curves. One call sets up a blind review of the parent against
the run on the same prompts, so the team can confirm the gain by voting.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from core.entities import RunInfo
from core.errors import ConfigError, NotFoundError
from core.results import answer_metrics as am
from core.results import evaluation, review
from core.run_config import PREFERENCE
from core.store import answers as answer_store
from core.store import runs

REVIEW_PROMPTS = 20  # prompts of a "parent vs run" review: enough to see a clear preference, quick to vote
CURVE_NAMES = ("reward_accuracy", "reward_margin", "loss")


def is_preference_run(run: RunInfo) -> bool:
    """Whether a run was trained on preference pairs (DPO)."""
    return (run.config or {}).get("training_kind") == PREFERENCE


def parent_label(run: RunInfo) -> str:
    """What the run started from: 'run 3' or the catalogue model's key."""
    parent = (run.config or {}).get("parent_run_id")
    return f"run {parent}" if parent is not None else run.model_key


@dataclass(frozen=True)
class PreferenceEvaluation:
    """A preference run's numbers: pairs on one held-out split, TRL's curves' last values, answers."""

    run_id: int
    parent_run_id: int | None
    parent: str
    split: str
    pairs: dict[str, Any]                      # core.tasks.preference_metrics.preference_metrics
    training: dict[str, float] = field(default_factory=dict)   # last validation reward accuracy/margin/loss
    answers: list[dict[str, Any]] = field(default_factory=list)  # per metric: parent, run, paired gain
    answers_dataset_id: int | None = None
    answers_examples: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def pairs_frame(self) -> pd.DataFrame:
        """Preference accuracy of the parent and the run, the gain, reward accuracy and margin, each with
        its 95 % interval (one row each)."""
        iv = self.pairs.get("intervals") or {}
        titles = {"parent_preference_accuracy": f"Preference accuracy, parent ({self.parent})",
                  "preference_accuracy": "Preference accuracy, this run",
                  "preference_accuracy_gain": "Gain over the parent (paired)",
                  "reward_accuracy": "Reward accuracy (DPO)", "reward_margin": "Reward margin (DPO)"}
        found = {k: iv.get(k) or {} for k in titles}
        rows = [{"measure": title, "value": found[k].get("mean"), "low": found[k].get("low"),
                 "high": found[k].get("high"), "pairs": found[k].get("n")}
                for k, title in titles.items() if found[k].get("mean") is not None]
        return pd.DataFrame(rows, columns=["measure", "value", "low", "high", "pairs"])

    def answers_frame(self) -> pd.DataFrame:
        columns = ["metric", "parent", "run", "gain", "low", "high", "examples"]
        return pd.DataFrame(self.answers, columns=columns)


def _last_validation(run_id: int) -> dict[str, float]:
    frame = runs.metrics_frame(run_id)
    if frame.empty:
        return {}
    val = frame[(frame["split"] == "validation") & frame["name"].isin(CURVE_NAMES)].sort_values("step")
    return {name: float(group["value"].iloc[-1]) for name, group in val.groupby("name")}


def _answer_rows(run_id: int) -> tuple[Any, Any] | None:
    """The run's scored answers on the parent's test split and the parent's own (same dataset)."""
    run = runs.get_run(run_id)
    parent_id = (run.config or {}).get("parent_run_id")
    if parent_id is None:
        return None
    mine = answer_store.find_answer_evaluations(run_id=run_id, split="test", kinds=("run",))
    theirs = answer_store.find_answer_evaluations(run_id=int(parent_id), split="test", kinds=("run",))
    if not mine or not theirs:
        return None
    return answer_store.get_answer_evaluation(mine[0].id), answer_store.get_answer_evaluation(theirs[0].id)


def compare_answers(run_id: int) -> tuple[list[dict[str, Any]], int | None, int]:
    """Per answer metric: the parent's mean, the run's, and the paired gain over the examples both
    answered."""
    found = _answer_rows(run_id)
    if found is None:
        return [], None, 0
    mine, theirs = found
    a, b = mine.examples_frame, theirs.examples_frame
    if a.empty or b.empty:
        return [], mine.dataset_id, 0
    joined = a.merge(b, on="position", suffixes=("", "_parent"))
    out = []
    for name in (mine.metrics.get("metrics") or {}):
        if name not in joined or f"{name}_parent" not in joined:
            continue
        gain = am.paired_gain(joined[name].tolist(), joined[f"{name}_parent"].tolist(), mine.seed)
        out.append({"metric": name, "parent": float(joined[f"{name}_parent"].mean()),
                    "run": float(joined[name].mean()), "gain": gain["mean"], "low": gain["low"],
                    "high": gain["high"], "examples": gain["n"]})
    return out, mine.dataset_id, len(joined)


def get_preference_evaluation(run_id: int, split: str | None = None) -> PreferenceEvaluation:
    """The stored evidence of a preference run (NotFoundError before it has any, ConfigError for another
    run)."""
    run = runs.get_run(run_id)
    if not is_preference_run(run):
        raise ConfigError(f"Run {run_id} was not trained on preference pairs; its evaluation is the usual "
                          "one.")
    splits = evaluation.evaluation_splits(run_id)
    split = split or evaluation.evidence_split(splits)
    if split is None or split not in splits:
        raise NotFoundError(f"Run {run_id} has no scored held-out pairs yet; they are scored when it "
                            "finishes.")
    pairs = dict(evaluation.get_evaluation(run_id, split).metrics)
    answers, dataset_id, examples = compare_answers(run_id)
    parent = (run.config or {}).get("parent_run_id")
    return PreferenceEvaluation(run_id, int(parent) if parent is not None else None, parent_label(run), split,
                                pairs, _last_validation(run_id), answers, dataset_id, examples)


def start_parent_review(run_id: int, *, created_by: str = "", prompts: int = REVIEW_PROMPTS) -> int:
    """A blind review "parent vs this run" on the same prompts; its id.

    With a parent run, the prompts are the parent's scored test examples and both sides' answers are
    the ones already scored (nothing is generated again); with a catalogue parent, the held-out pairs'
    prompts, answered by both models now.
    """
    run = runs.get_run(run_id)
    if not is_preference_run(run):
        raise ConfigError(f"Run {run_id} was not trained on preference pairs; compare it with another run on "
                          "the Review page.")
    if run.status != "succeeded":
        raise ConfigError(f"Run {run_id} is {run.status}; a review needs its finished model.")
    name = f"{parent_label(run)} vs run {run_id} (after the team's preferences)"
    parent_ref = f"run:{run.config['parent_run_id']}" if run.config.get("parent_run_id") is not None \
        else run.model_key
    found = _answer_rows(run_id)
    if found is not None:
        mine, theirs = (f.examples_frame for f in found)
        joined = mine.merge(theirs, on="position", suffixes=("", "_parent")).head(prompts)
        if not joined.empty:
            return review.create_review(name, parent_ref, f"run:{run_id}", joined["prompt"].tolist(),
                                        outputs_a=joined["answer_parent"].tolist(),
                                        outputs_b=joined["answer"].tolist(), seed=run_id,
                                        created_by=created_by)
    split = evaluation.evidence_split(evaluation.evaluation_splits(run_id))
    if split is None:
        raise NotFoundError(f"Run {run_id} has no held-out pairs to take prompts from.")
    texts = evaluation.read_predictions(run_id, split)["prompt"].astype(str).drop_duplicates().head(prompts)
    return review.create_review(name, parent_ref, f"run:{run_id}", texts.tolist(), seed=run_id,
                                created_by=created_by)
