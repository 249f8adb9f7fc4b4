"""Preference pairs from the places where people judge answers, saved as preference dataset versions.

- A blind review's votes: each item is one prompt with two answers. Its votes are combined by
  majority (the most frequent of A, B and tie): A or B makes a pair (chosen = the winner's answer),
  tie leaves the item out (counted as a tie), and a split decision (two choices with the same top
  count, e.g. one vote for A and one for B) leaves it out too (counted as split). Each pair keeps who
  voted what and when. Which answer came from which model is the review's ``output_a``/``output_b``
  (``a_first`` only hides the order on screen).
- The judge's A/B verdicts on the same items: a separate dataset (source ``judge``), never mixed with
  the votes, with the judge's agreement with the people on the items both decided.
- Corrections: "write a better answer" (the model's answer is the rejected side, the person's text
  the chosen side) and thumbs up/down on two answers to one prompt.
- References: a finished causal-LM run answers the prompts of its dataset's TRAIN split (the answer
  evaluation's engine path), and every answer whose ROUGE-L against the reference is below a
  threshold (0.5) makes a pair: chosen = the reference answer, rejected = the run's own answer.

Every builder ends in ``core.data.preferences.save_pairs`` with its source facts and counts.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.data.preferences import PreferencePair, dataset_prompts, save_pairs
from core.entities import DatasetInfo, RunStatus
from core.errors import NotFoundError, UserError
from core.results import judge
from core.store import corrections as correction_store
from core.store import reviews
from core.store.runs import get_run
from core.task_specs import generates_text

REFERENCE_THRESHOLD = 0.5
REFERENCE_RULE = ("A pair is made for each train prompt whose answer by the run scores ROUGE-L below "
                  "{threshold} against the reference: chosen = the reference answer, rejected = the run's "
                  "own answer.")
MAJORITY_RULE = ("Votes on one item are combined by majority (the most frequent of A, B and tie); an item "
                 "whose majority is a tie, or with no single majority, is left out.")
CORRECTION_KINDS = ("rewrite", "thumbs")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PairsBuild:
    """Pairs made from one source, and the facts about them (counts, ids, what was left out and why)."""

    pairs: tuple[PreferencePair, ...]
    facts: dict[str, Any] = field(default_factory=dict)


def _run_of(model_ref: str) -> int | None:
    if not str(model_ref).startswith("run:"):
        return None
    try:
        return int(str(model_ref).split(":", 1)[1])
    except ValueError:
        return None


def _parent_dataset(*model_refs: str) -> int | None:
    """The dataset of the first run among the references (where the prompts most likely came from)."""
    for ref in model_refs:
        run_id = _run_of(ref)
        if run_id is None:
            continue
        try:
            return get_run(run_id).dataset_id
        except NotFoundError:
            continue
    return None


def majority(choices: Sequence[str]) -> str:
    """'a', 'b', 'tie', or 'split' when two choices share the top count."""
    top = Counter(choices).most_common()
    if not top:
        return "split"
    if len(top) > 1 and top[0][1] == top[1][1]:
        return "split"
    return top[0][0]


# ---- blind review votes -----------------------------------------------------------------------------

def review_pairs(review_id: int) -> PairsBuild:
    """The pairs a review's votes decide, with the counts of votes, ties and split decisions."""
    review = reviews.get_review(review_id)
    by_item: dict[int, list[reviews.VoteRow]] = {}
    for vote in reviews.votes(review_id):
        by_item.setdefault(vote.item_id, []).append(vote)
    pairs: list[PreferencePair] = []
    counts = Counter()
    for item in reviews.items(review_id):
        votes = by_item.get(item.id, [])
        if not votes:
            counts["items_without_votes"] += 1
            continue
        decision = majority([v.choice for v in votes])
        if decision in ("tie", "split"):
            counts[f"{'ties' if decision == 'tie' else 'split_decisions'}_left_out"] += 1
            continue
        winner, loser = ((item.output_a, item.output_b) if decision == "a"
                         else (item.output_b, item.output_a))
        models = {"a": review.model_a, "b": review.model_b}
        pairs.append(PreferencePair.of(
            item.prompt, winner, loser, source="review", review_id=review.id, item_id=item.id,
            chosen_model=models[decision], rejected_model=models["b" if decision == "a" else "a"],
            votes=[{"reviewer": v.reviewer, "choice": v.choice,
                    "at": v.created_at.isoformat(timespec="seconds")} for v in votes],
            voters=sorted({v.reviewer for v in votes})))
    facts = {"source": "review", "review_id": review.id, "review": review.name, "model_a": review.model_a,
             "model_b": review.model_b, "items": review.items, "votes": review.votes,
             "ties_left_out": counts["ties_left_out"],
             "split_decisions_left_out": counts["split_decisions_left_out"],
             "items_without_votes": counts["items_without_votes"], "rule": MAJORITY_RULE,
             "parent_dataset_id": _parent_dataset(review.model_a, review.model_b)}
    return PairsBuild(tuple(pairs), facts)


def _save(build: PairsBuild, name: str, created_by: str, nothing: str) -> DatasetInfo:
    if not build.pairs:
        raise UserError(nothing)
    facts = {k: v for k, v in build.facts.items() if v is not None}
    return save_pairs(build.pairs, name=name, source=facts, created_by=created_by)


def build_from_review(review_id: int, *, name: str | None = None, created_by: str = "") -> DatasetInfo:
    """A preference dataset version from a blind review's votes (see ``review_pairs``)."""
    build = review_pairs(review_id)
    left = build.facts["ties_left_out"] + build.facts["split_decisions_left_out"]
    return _save(build, name or f"{build.facts['review']} (votes)", created_by,
                 f"The review '{build.facts['review']}' has no item that the votes decide for A or B "
                 f"({build.facts['votes']} votes; {left} items tied or split); collect more votes first.")


# ---- the judge's verdicts --------------------------------------------------------------------------

def judge_pairs(review_id: int, verdict: Callable[[str, str, str], str | None] | None = None,
                progress: Progress | None = None) -> PairsBuild:
    """The judge's A/B verdict on every item of a review as pairs (source ``judge``), and its agreement
    with the people's majority on the items where both decided for A or B."""
    settings = judge.JudgeSettings.from_env() if verdict is None else None
    if verdict is None:
        if settings is None:
            raise UserError(judge.judge_status() or "No judge is set.")
        verdict = lambda p, a, b: judge.pairwise_verdict(p, a, b, settings)  # noqa: E731
    review = reviews.get_review(review_id)
    people: dict[int, str] = {}
    by_item: dict[int, list[str]] = {}
    for vote in reviews.votes(review_id):
        by_item.setdefault(vote.item_id, []).append(vote.choice)
    people = {item: majority(choices) for item, choices in by_item.items()}
    items = reviews.items(review_id)
    pairs: list[PreferencePair] = []
    counts = Counter()
    both = agree = 0
    models = {"a": review.model_a, "b": review.model_b}
    for n, item in enumerate(items, start=1):
        said = verdict(item.prompt, item.output_a, item.output_b)  # the judge sees model A's answer first
        if progress is not None:
            progress(n, len(items))
        if said not in ("a", "b"):
            counts["ties_left_out" if said == "tie" else "unreadable_left_out"] += 1
            continue
        human = people.get(item.id)
        if human in ("a", "b"):
            both += 1
            agree += int(human == said)
        winner, loser = (item.output_a, item.output_b) if said == "a" else (item.output_b, item.output_a)
        pairs.append(PreferencePair.of(item.prompt, winner, loser, source="judge", review_id=review.id,
                                       item_id=item.id, chosen_model=models[said],
                                       rejected_model=models["b" if said == "a" else "a"],
                                       judge_model=settings.model if settings else "test"))
    facts = {"source": "judge", "review_id": review.id, "review": review.name, "items": len(items),
             "judge_model": settings.model if settings else "test",
             "ties_left_out": counts["ties_left_out"], "unreadable_left_out": counts["unreadable_left_out"],
             "agreement": {"both_decided": both, "agree": agree, "share": agree / both if both else None},
             "parent_dataset_id": _parent_dataset(review.model_a, review.model_b)}
    return PairsBuild(tuple(pairs), facts)


def agreement_sentence(agreement: dict[str, Any]) -> str:
    """The judge's agreement with the people, in one sentence with its counts."""
    both, agree = int(agreement.get("both_decided") or 0), int(agreement.get("agree") or 0)
    if not both:
        return ("No item was decided for A or B by both the judge and the people, so their agreement is "
                "unknown.")
    return (f"The judge agreed with the people's majority on {agree} of {both} items where both chose A or B "
            f"({agree / both:.0%}).")


def build_from_judge(review_id: int, *, name: str | None = None, created_by: str = "",
                     verdict: Callable[[str, str, str], str | None] | None = None,
                     progress: Progress | None = None) -> DatasetInfo:
    """A preference dataset version from the judge's verdicts on a review, apart from the people's votes."""
    build = judge_pairs(review_id, verdict, progress)
    return _save(build, name or f"{build.facts['review']} (judge)", created_by,
                 f"The judge decided no item of the review '{build.facts['review']}' for A or B.")


# ---- corrections -----------------------------------------------------------------------------------

def _turns(prompt: str | Sequence[dict[str, Any]]) -> str:
    turns = ([{"role": "user", "content": str(prompt)}] if isinstance(prompt, str)
             else [{"role": str(t["role"]), "content": str(t["content"])} for t in prompt])
    if not turns or turns[-1]["role"] != "user" or not turns[-1]["content"].strip():
        raise UserError("A correction needs the prompt the model answered; it is empty.")
    return json.dumps(turns, ensure_ascii=False)


def record_correction(prompt: str | Sequence[dict[str, Any]], answer: str, better: str, *,
                      run_id: int | None = None, model_ref: str = "", place: str = "playground",
                      created_by: str = "") -> int:
    """Store "write a better answer": the model's ``answer`` is the rejected side, ``better`` the chosen."""
    better, answer = str(better or ""), str(answer or "")
    if not better.strip():
        raise UserError("Write the better answer first; it is empty.")
    if " ".join(better.split()) == " ".join(answer.split()):
        raise UserError("The better answer is the same as the model's; change it, or leave this answer be.")
    return correction_store.add_correction(kind="rewrite", prompt=_turns(prompt), chosen=better,
                                           rejected=answer, run_id=run_id,
                                           model_ref=model_ref or (f"run:{run_id}" if run_id else ""),
                                           place=place, created_by=created_by)


def record_thumbs(prompt: str | Sequence[dict[str, Any]], up: str, down: str, *, run_id: int | None = None,
                  model_ref: str = "", place: str = "playground", created_by: str = "") -> int:
    """Store thumbs up on one answer and down on another answer to the same prompt as one pair."""
    if not str(up).strip() or not str(down).strip():
        raise UserError("Both answers need text to be compared.")
    if " ".join(str(up).split()) == " ".join(str(down).split()):
        raise UserError("The two answers are the same, so there is nothing to prefer; sample again.")
    return correction_store.add_correction(kind="thumbs", prompt=_turns(prompt), chosen=str(up),
                                           rejected=str(down), run_id=run_id,
                                           model_ref=model_ref or (f"run:{run_id}" if run_id else ""),
                                           place=place, created_by=created_by)


def correction_pairs(run_id: int | None = None, model_ref: str | None = None) -> PairsBuild:
    """Every stored correction (of one run or model, or all) as a pair."""
    rows = correction_store.list_corrections(run_id, model_ref)
    pairs = tuple(PreferencePair(tuple(json.loads(r.prompt)), r.chosen, r.rejected,
                                 {"source": "corrections", "kind": r.kind, "correction_id": r.id,
                                  "run_id": r.run_id, "model": r.model_ref, "place": r.place,
                                  "by": r.created_by, "at": r.created_at.isoformat(timespec="seconds")})
                  for r in rows)
    kinds = Counter(r.kind for r in rows)
    parent = None
    if run_id is not None:
        parent = get_run(run_id).dataset_id
    facts = {"source": "corrections", "run_id": run_id, "corrections": len(rows),
             "rewrites": kinds["rewrite"], "thumbs": kinds["thumbs"],
             "people": sorted({r.created_by for r in rows if r.created_by}), "parent_dataset_id": parent}
    return PairsBuild(pairs, facts)


def build_from_corrections(run_id: int | None = None, *, model_ref: str | None = None,
                           name: str | None = None, created_by: str = "") -> DatasetInfo:
    """A preference dataset version from the stored corrections (of one run or model, or all)."""
    build = correction_pairs(run_id, model_ref)
    return _save(build, name or (f"Corrections of run {run_id}" if run_id else "Corrections"), created_by,
                 "No correction is stored" + (f" for run {run_id}" if run_id else "")
                 + "; write a better answer in the Playground or on the Evaluation page first.")


# ---- references against the run's own answers -------------------------------------------------------

def reference_pairs(run_id: int, *, limit: int = 200, threshold: float = REFERENCE_THRESHOLD,
                    progress: Progress | None = None, batch_size: int = 8) -> PairsBuild:
    """The run answers up to ``limit`` prompts of its dataset's train split (greedy, the engine path of
    the answer evaluation, stored as an evaluation of the train split); each answer scoring ROUGE-L
    below ``threshold`` against the reference makes a pair (reference chosen, the run's answer rejected)."""
    from core.data.datasets import get_dataset, load_dataset_frame
    from core.results import answer_quality
    from core.results.prompts import causal_examples

    run = get_run(run_id)
    if not generates_text(run.task):
        raise UserError(f"Run {run_id} does not write answers ({run.task}); pick a text generation run.")
    if run.status != RunStatus.SUCCEEDED:
        raise UserError(f"Run {run_id} has not finished ({run.status}); pairs need its trained model.")
    if not 0 < threshold <= 1:
        raise UserError("The ROUGE-L threshold must be between 0 and 1 (for example 0.5).")
    frame = load_dataset_frame(run.dataset_id)
    train = frame[frame["split"] == "train"].reset_index(drop=True)
    mapping = dict(get_dataset(run.dataset_id).mapping or {})
    ev = answer_quality.evaluate_answers(f"run:{run_id}", run.dataset_id, "train", examples=int(limit),
                                         run_id=run_id, frames=(train, train.iloc[0:0]),
                                         batch_size=batch_size, progress=progress)
    turns = {e.position: e.prompt.get("messages") for e in causal_examples(
        train, train.iloc[0:0], mapping, limit=int(limit), seed=ev.seed)}
    pairs: list[PreferencePair] = []
    scored = empty = 0
    for row in ev.examples_frame.to_dict("records"):
        score = row.get("rouge_l")
        prompt = turns.get(int(row["position"]))
        if score is None or not prompt:
            continue
        scored += 1
        if not str(row["answer"]).strip():  # no answer at all: nothing to prefer the reference over
            empty += 1
        elif float(score) < threshold and str(row["answer"]).strip() != str(row["reference"]).strip():
            pairs.append(PreferencePair.of(prompt, str(row["reference"]), str(row["answer"]),
                                           source="references", run_id=run_id, position=int(row["position"]),
                                           rouge_l=round(float(score), 4)))
    facts = {"source": "references", "run_id": run_id, "parent_dataset_id": run.dataset_id, "split": "train",
             "answered": scored, "right_left_out": scored - len(pairs) - empty, "empty_left_out": empty,
             "threshold": threshold,
             "metric": "rouge_l", "answer_evaluation_id": ev.id,
             "rule": REFERENCE_RULE.format(threshold=threshold)}
    return PairsBuild(tuple(pairs), facts)


def build_from_references(run_id: int, *, limit: int = 200, threshold: float = REFERENCE_THRESHOLD,
                          name: str | None = None, created_by: str = "", progress: Progress | None = None,
                          batch_size: int = 8) -> DatasetInfo:
    """A preference dataset version: the references against the run's own wrong answers on train prompts."""
    build = reference_pairs(run_id, limit=limit, threshold=threshold, progress=progress,
                            batch_size=batch_size)
    return _save(build, name or f"Run {run_id} vs references", created_by,
                 f"Run {run_id} answered all {build.facts['answered']} train prompts with ROUGE-L at or "
                 f"above {threshold} against the reference, so there is no wrong answer to pair.")


def parent_test_prompts(dataset_id: int) -> list[str]:
    """The user prompts of a dataset's test split (what the pairs should not train on)."""
    return dataset_prompts(dataset_id, "test")


# ---- corrections of a stored playground generation ---------------------------------------------------

def _generation_prompt(record: Any) -> list[dict[str, str]] | str:
    messages = record.prompt.get("messages")
    if messages:
        return [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
    return str(record.prompt.get("text") or "")


def correct_generation(generation_id: int, better: str, *, output: int = 0, created_by: str = "") -> int:
    """"Write a better answer" under a playground answer: its prompt, the model's answer (rejected) and
    the person's text (chosen), with the run or model that answered."""
    from core.inference.generation import get_generation

    record = get_generation(generation_id)
    if not 0 <= output < len(record.outputs):
        raise UserError(f"Generation {generation_id} has no answer number {output + 1}.")
    return record_correction(_generation_prompt(record), record.outputs[output], better, run_id=record.run_id,
                             model_ref=record.model_ref, place="playground", created_by=created_by)


def thumbs_on_generation(generation_id: int, up: int, down: int, *, created_by: str = "") -> int:
    """Thumbs up on one sampled answer and down on another answer of the same playground generation."""
    from core.inference.generation import get_generation

    record = get_generation(generation_id)
    if up == down or not (0 <= up < len(record.outputs) and 0 <= down < len(record.outputs)):
        raise UserError("Pick two different answers of this generation: one up, one down.")
    return record_thumbs(_generation_prompt(record), record.outputs[up], record.outputs[down],
                         run_id=record.run_id, model_ref=record.model_ref, place="playground",
                         created_by=created_by)


def judge_agreement_of(review_id: int) -> dict[str, Any] | None:
    """The judge's agreement with the people stored with the newest judge dataset of a review, if any."""
    from core.data.datasets import list_datasets
    from core.data.preferences import is_preference, preference_facts

    for info in list_datasets():
        if is_preference(info):
            facts = preference_facts(info)
            if facts.get("source") == "judge" and facts.get("review_id") == review_id:
                return dict(facts.get("agreement") or {}) | {"dataset": info.label}
    return None
