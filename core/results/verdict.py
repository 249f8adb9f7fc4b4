"""What to tell a person about a run before any table: which run is best, whether a model has
learned anything, and the one-sentence verdict a manager can repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core import task_specs
from core.entities import RunInfo
from core.errors import NotFoundError
from core.results import answer_quality, evaluation, preference_eval
from core.results.answer_metrics import METRIC_TITLES
from core.store.runs import get_run, list_runs
from core.task_specs import best_of
from core.tasks.baselines import SAVABLE
from core.tasks.intervals import wilson_interval
from core.text import labels

# Runs are compared on test (else validation) metrics the worker stored in the run's summary, by
# the rank metric of their task (core.task_specs).
# A classifier that gives one answer for at least this share of the test rows has not learned.
DEGENERATE_SHARE = 0.95


def headline_metric(task: str, metrics: dict[str, Any]) -> str | None:
    """The metric a sentence about a run speaks of (core.task_specs.headline_metric); runs are
    ranked by core.task_specs.rank_metric."""
    return task_specs.headline_metric(task, metrics)


def _summary_evidence(run: RunInfo) -> tuple[dict[str, Any], str]:
    """The run's test metrics, else its validation metrics, from its summary, and that split."""
    summary = run.summary or {}
    for split in ("test", "validation"):
        if summary.get(split):
            return dict(summary[split]), split
    return {}, ""


def final_metrics(run: RunInfo) -> dict[str, Any]:
    """The run's test metrics, else its validation metrics, from its summary."""
    return _summary_evidence(run)[0]


def best_run(runs: Sequence[RunInfo]) -> RunInfo | None:
    """The succeeded run with the best rank metric (core.task_specs.best_of); the newest run
    (the first listed) when none has one."""
    by_id = {run.id: run for run in runs}
    best = best_of((run.id, run.task, final_metrics(run)) for run in runs if run.status == "succeeded")
    if best is not None:
        return by_id[best]
    return runs[0] if runs else None


@dataclass(frozen=True)
class Degenerate:
    """A classifier that answers (nearly) always the same class."""

    label: str
    share: float
    rows: int
    split: str

    @property
    def sentence(self) -> str:
        how = "only ever answers" if self.share >= 0.995 else "almost only answers"
        return (f"This model {how} '{self.label}' ({labels.percent(self.share)} of the {self.rows:,} "
                f"{self.split} rows) — it has not learned yet; train longer or raise the learning rate.")


def degenerate_answer(confusion: Sequence[Sequence[float]], class_names: Sequence[str],
                      split: str = "test") -> Degenerate | None:
    """Degenerate when one predicted class covers >= 95 % of the rows while over 5 % truly belong
    to other classes (rows of the matrix are true classes, columns predicted ones)."""
    if not confusion or len(class_names) < 2:
        return None
    predicted = [sum(float(row[j]) for row in confusion) for j in range(len(class_names))]
    actual = [sum(float(v) for v in row) for row in confusion]
    total = sum(predicted)
    if total <= 0:
        return None
    top = max(range(len(predicted)), key=predicted.__getitem__)
    share = predicted[top] / total
    others = 1.0 - actual[top] / total
    if share >= DEGENERATE_SHARE and others > 1.0 - DEGENERATE_SHARE:
        return Degenerate(label=str(class_names[top]), share=share, rows=int(total), split=split)
    return None


def degenerate_from_metrics(metrics: dict[str, Any], split: str = "test") -> Degenerate | None:
    """The check above on a stored evaluation's metrics (confusion matrix and labels)."""
    return degenerate_answer(metrics.get("confusion_matrix") or [], list(metrics.get("labels") or []),
                             split)


def _majority_answer(metrics: dict[str, Any]) -> str | None:
    confusion, names = metrics.get("confusion_matrix") or [], list(metrics.get("labels") or [])
    if not confusion or not names:
        return None
    predicted = [sum(float(row[j]) for row in confusion) for j in range(len(names))]
    return str(names[max(range(len(names)), key=predicted.__getitem__)])


def _amount(key: str, diff: float) -> str:
    if labels.is_share(key):
        points = abs(diff) * 100
        if points < 1:
            return "less than a point"
        whole = int(points + 0.5)  # half up, as a person rounds 12.5 points (tables show 12.5)
        return f"{whole} point{'s' if whole != 1 else ''}"
    return labels.number(abs(diff))


def _what(name: str, other: dict[str, Any]) -> str:
    if name == "majority":
        answer = _majority_answer(other)
        return f"always guessing '{answer}'" if answer else labels.baseline_label(name, short=True)
    if "tfidf" in name:  # "a keyword model", or "a character n-gram model" where text is read by characters
        return f"a {labels.baseline_label(name, short=True)}"
    return labels.baseline_label(name, short=True)


def _diff(key: str, value: float, theirs: float) -> float:
    return (theirs - value) if labels.lower_is_better(key) else (value - theirs)


def _versus(key: str, value: float, name: str, other: dict[str, Any]) -> str | None:
    theirs = other.get(key)
    if not isinstance(theirs, int | float):
        return None
    diff, what = _diff(key, value, float(theirs)), _what(name, other)
    if abs(diff) < 1e-12:
        return f"level with {what}"
    return f"{_amount(key, diff)} {'better' if diff > 0 else 'worse'} than {what}"


@dataclass(frozen=True)
class PromptComparison:
    """The run against an instruct model prompted on the same held-out examples (paired)."""

    title: str
    examples: int
    gain: float | None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Verdict:
    """One sentence a stakeholder can repeat, and how it reads: good, weak, bad or none."""

    sentence: str
    tone: str
    below_guessing: bool = False


GOOD, WEAK, BAD, NONE = "good", "weak", "bad", "none"


FEW_PROMPTED_EXAMPLES = 30  # under this, a paired gain of one prompted model moves by 3+ points a row


def _prompt_clause(key: str, comparison: PromptComparison) -> str | None:
    if comparison.gain is None:
        return None
    gain = float(comparison.gain)
    if abs(gain) < 1e-12:
        how = f"level with prompting {comparison.title}"
    else:
        how = f"{_amount(key, gain)} {'better' if gain > 0 else 'worse'} than prompting {comparison.title}"
    few = " (too few examples to be sure)" if comparison.examples < FEW_PROMPTED_EXAMPLES else ""
    return f"{how} on the same {comparison.examples:,} examples{few}"


def judge_metrics(task: str, metrics: dict[str, Any], baselines: dict[str, dict[str, Any]],
                  split: str = "test", prompting: Sequence[PromptComparison] = ()) -> Verdict:
    """The verdict on a run's metrics beside its baselines: its number with its 95 % interval, the
    strongest baseline first, and in words when it is no better than always guessing one answer."""
    key = headline_metric(task, metrics)
    if key is None:
        return Verdict("This run has no evaluation yet, so there is no verdict.", NONE)
    value = float(metrics[key])
    n = int(metrics.get("n") or 0)
    rows = f" on {n:,} {split} rows" if n else f" on the {split} split"
    interval, bounds = "", None
    if labels.is_share(key) and n:
        bounds = wilson_interval(value * n, n, z=1.96)
        interval = f" (95 % interval {bounds[0] * 100:.0f}–{bounds[1] * 100:.0f} %)"
    if key == "accuracy":
        lead = (f"The fine-tuned model gets the answer right {labels.percent(value)} of the time"
                f"{rows}{interval}")
    elif key == "mae":
        lead = f"The fine-tuned model's predictions are off by {labels.number(value)} on average{rows}"
    else:
        shown = labels.metric_value(key, value)
        lead = f"The fine-tuned model reaches {labels.metric_label(key)} {shown}{rows}{interval}"
    # strongest first: the baseline the run gains least over leads, always guessing comes last
    scored = {name: m for name, m in baselines.items() if isinstance(m.get(key), int | float)}
    ordered = sorted(scored.items(), key=lambda item: (item[0] == "majority",
                                                       _diff(key, value, float(item[1][key]))))
    comparisons = [c for c in (_versus(key, value, name, m) for name, m in ordered) if c]
    comparisons += [c for c in (_prompt_clause(key, p) for p in prompting) if c]
    sentence = lead + (" — " + ", ".join(comparisons) if comparisons else "") + "."
    tone = GOOD if ordered and all(_diff(key, value, float(m[key])) > 0 for _, m in ordered) else WEAK
    noise = _within_noise(key, value, bounds, n, ordered)
    if noise:  # "7 points better" on 15 rows is one row: the stakeholder hears that it may be noise
        sentence += " " + noise
        tone = WEAK if tone == GOOD else tone
    if tone == GOOD and any(p.gain is not None and p.gain < 0 for p in prompting):
        tone = WEAK  # never green beside "worse than prompting"
    if not ordered:
        tone = NONE
    below = False
    majority = scored.get("majority")
    if majority is not None and _diff(key, value, float(majority[key])) <= 1e-9:
        below = True
        theirs = labels.metric_value(key, majority[key])
        how = "worse than" if _diff(key, value, float(majority[key])) < -1e-9 else "no better than"
        sentence = (f"This model is {how} {_what('majority', majority)} ({theirs}): it has not learned "
                    "anything useful yet. " + sentence)
        tone = BAD
    found = degenerate_from_metrics(metrics, split)
    if found is not None:
        sentence = found.sentence + " " + sentence
        tone = BAD
    return Verdict(sentence, tone, below)


def _within_noise(key: str, value: float, bounds: tuple[float, float] | None, n: int,
                  ordered: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """A sentence when the strongest baseline the run beats scores inside the run's own 95 % interval;
    '' when every gain stands clear of it (or the metric has no interval)."""
    if bounds is None:
        return ""
    for name, other in ordered:  # strongest first
        theirs = float(other[key])
        if _diff(key, value, theirs) > 1e-9 and bounds[0] <= theirs <= bounds[1]:
            return (f"On {n:,} rows the gain over {_what(name, other)} may be noise: it scores "
                    f"{labels.metric_value(key, theirs)}, inside the fine-tuned model's 95 % interval.")
    return ""


def verdict_sentence(task: str, metrics: dict[str, Any], baselines: dict[str, dict[str, Any]],
                     split: str = "test", prompting: Sequence[PromptComparison] = ()) -> str:
    """The first sentence of every evaluation: the headline number, its interval, its baseline gains."""
    return judge_metrics(task, metrics, baselines, split, prompting).sentence


def judge_answers(quality: Any | None, metrics: dict[str, Any], split: str = "test") -> Verdict:
    """A chat (causal-LM) run: did fine-tuning beat prompting? From its scored answers (an
    ``AnswerQuality``) with their 95 % interval and the paired gain over each prompt baseline."""
    if quality is None:
        base = judge_metrics("causal-lm", metrics, {}, split).sentence.removesuffix(".")
        return Verdict(base + "; whether fine-tuning beat prompting is not known until its answers are "
                       "scored (Evaluation page, 'Score the answers').", NONE)
    head = quality.headline
    stats = quality.metrics.get(head, {})
    mean, low, high = stats.get("mean"), stats.get("low"), stats.get("high")
    title = _answer_title(head)
    n = quality.evaluation.examples
    lead = (f"the fine-tuned model's answers score {title} {_num(mean)} on {n:,} {split} examples "
            f"(95 % interval {_num(low)}–{_num(high)})")
    best = None
    for b in quality.baselines:
        gain = b.gains.get(head) or {}
        if gain.get("mean") is not None and (best is None or gain["mean"] < best[1]["mean"]):
            best = (b, gain)
    if best is None:
        return Verdict("Not yet known whether fine-tuning beat prompting: " + lead
                       + "; no prompt baseline has been scored on these examples yet.", NONE)
    b, gain = best
    paired = int(gain.get("n") or min(n, b.evaluation.examples))
    g, g_low, g_high = float(gain["mean"]), gain.get("low"), gain.get("high")
    span = f"95 % interval of the gain {_signed(g_low)} to {_signed(g_high)}"
    against = f"prompting {b.title} on the same {paired:,} examples"
    if g_low is not None and g_low > 0:
        return Verdict(f"Fine-tuning beat prompting: {lead}, {_num(abs(g))} higher than {against} "
                       f"({span}).", GOOD)
    if g_high is not None and g_high < 0:
        return Verdict(f"Fine-tuning did not beat prompting: {lead}, {_num(abs(g))} lower than {against} "
                       f"({span}).", BAD)
    return Verdict(f"Fine-tuning did not clearly beat prompting: {lead}, {_signed(g)} against {against} "
                   f"({span}, so the difference may be noise).", WEAK)


def _answer_title(key: str) -> str:
    return METRIC_TITLES.get(key, key)


def _num(value: Any) -> str:  # three decimals, as the answer-quality card and table show them
    return labels.MISSING if value is None else f"{float(value):.3f}"


def _signed(value: Any) -> str:
    return labels.MISSING if value is None else f"{float(value):+.3f}"


def _prompt_title(title: str) -> str:
    return title.split(" (")[0]


def run_verdict(run_id: int, split: str | None = None) -> Verdict:
    """The verdict every page and the report open with, for any task: read from the run's stored
    evaluation (test, else validation), its baselines, and for chat runs its scored answers."""
    if preference_eval.is_preference_run(get_run(run_id)):
        try:
            return preference_verdict(preference_eval.get_preference_evaluation(run_id, split))
        except NotFoundError:
            return Verdict(f"Run {run_id} has no scored held-out pairs yet, so there is no verdict.", NONE)
    splits = evaluation.evaluation_splits(run_id)
    split = split or evaluation.evidence_split(splits) or "test"
    try:
        result = evaluation.get_evaluation(run_id, split)
    except NotFoundError:
        return Verdict(f"Run {run_id} has no evaluation on the {split} split yet, so there is no verdict.",
                       NONE)
    if task_specs.generates_text(result.task):
        try:
            quality = answer_quality.get_answer_quality(run_id, split)
        except NotFoundError:
            quality = None
        return judge_answers(quality, result.metrics, split)
    task = task_specs.headline_task(result.task, result.metrics)
    classic = {b.name: b.metrics for b in result.baselines if b.name not in answer_quality.LABEL_KINDS}
    prompting = []
    for b in result.baselines:
        if b.name in answer_quality.LABEL_KINDS:
            stats = (b.metrics.get("metrics") or {}).get("accuracy") or {}
            n = int(stats.get("n") or b.metrics.get("n") or 0)
            prompting.append(PromptComparison(_prompt_title(b.title), n, b.gain.get("accuracy")))
    return judge_metrics(task, result.metrics, classic, split, prompting)


def _evidence(run: RunInfo) -> tuple[dict[str, Any], str]:
    """The metrics a run is judged by and their split: its summary's test (else validation) metrics,
    else its stored test (or validation) evaluation."""
    metrics, split = _summary_evidence(run)
    if metrics:
        return metrics, split
    split = evaluation.evidence_split(evaluation.evaluation_splits(run.id))
    if split is None:
        return {}, ""
    try:
        return dict(evaluation.get_evaluation(run.id, split).metrics), split
    except NotFoundError:
        return {}, ""


def compare_verdict(run_ids: Sequence[int]) -> Verdict:
    """Which of these runs is better, and is it good enough: the best run named, then its verdict."""
    found = [r for r in list_runs(ids=list(run_ids), limit=None) if r.status == "succeeded"]
    if not found:
        return Verdict("None of these runs has finished, so there is no verdict yet.", NONE)
    evidence = {r.id: _evidence(r) for r in found}
    metrics = {run_id: found_metrics for run_id, (found_metrics, _split) in evidence.items()}
    # the one "best run" rule of every screen (core.task_specs.best_of), then the runner-up by it
    winner = best_of((r.id, r.task, metrics[r.id]) for r in found)
    best = next((r for r in found if r.id == winner), max(found, key=lambda r: r.id))
    runner_id = best_of((r.id, r.task, metrics[r.id]) for r in found if r.id != best.id)
    key = task_specs.rank_metric(best.task, metrics[best.id])
    head = f"{labels.run_label(best.id, best.name)} is the best of these {len(run_ids)} runs"
    if key is not None and runner_id is not None and isinstance(metrics[runner_id].get(key), int | float):
        ours, theirs = evidence[best.id][1], evidence[runner_id][1]
        apart = ("" if ours == theirs else
                 f"; not like for like: run {best.id} is scored on its {ours} rows, run {runner_id} on its "
                 f"{theirs} rows")
        head += (f" by {labels.metric_label(key).split(' (')[0]} "
                 f"({labels.metric_value(key, metrics[best.id][key])} against "
                 f"{labels.metric_value(key, metrics[runner_id][key])} for run {runner_id}{apart})")
    found_verdict = run_verdict(best.id)
    return Verdict(f"{head}. {found_verdict.sentence}", found_verdict.tone, found_verdict.below_guessing)


NEAR_CHANCE_POINTS = 0.05  # a classifier within this share of always guessing is near chance


def chance_hint(run_id: int) -> str | None:
    """A sentence for the playground when a classifier is no better, or barely better, than always
    guessing its most common class on its test (else validation) rows; None otherwise."""
    split = evaluation.evidence_split(evaluation.evaluation_splits(run_id))
    if split is None:
        return None
    try:
        result = evaluation.get_evaluation(run_id, split)
    except NotFoundError:
        return None
    majority = next((b.metrics for b in result.baselines if b.name == "majority"), None)
    accuracy = result.metrics.get("accuracy")
    found = degenerate_from_metrics(result.metrics, split)
    if found is not None:
        return found.sentence + " Treat its answers here as guesses."
    if majority is None or not isinstance(accuracy, int | float) or not isinstance(
            majority.get("accuracy"), int | float):
        return None
    gap = float(accuracy) - float(majority["accuracy"])
    if gap > NEAR_CHANCE_POINTS:
        return None
    how = "worse than" if gap < 0 else "barely better than" if gap > 1e-9 else "no better than"
    return (f"This model is {how} {_what('majority', majority)} on the {split} split "
            f"({labels.percent(accuracy, 1)} right against {labels.percent(majority['accuracy'], 1)}): "
            "treat its answers here as guesses.")


# --- When the best model is not a neural one ---------------------------------------------------
# Kept apart from the verdict wording above: a separate fact (which model wins) and its sentence.


@dataclass(frozen=True)
class BaselineWin:
    """A simple baseline that beats the fine-tuned model on the task's headline metric."""

    name: str
    metric: str
    baseline_value: float
    run_value: float

    @property
    def servable(self) -> bool:
        return self.name in SAVABLE

    def sentence(self, run_id: int | None = None) -> str:
        """'The best model here is not a neural one: …', with how to save and serve it."""
        what = labels.baseline_label(self.name)
        shown = labels.metric_label(self.metric)
        shown = shown[:1].lower() + shown[1:]
        text = (f"The best model here is not a neural one: the {what[:1].lower() + what[1:]} reaches "
                f"{shown} {labels.metric_value(self.metric, self.baseline_value)} against the fine-tuned "
                f"model's {labels.metric_value(self.metric, self.run_value)}.")
        if self.servable:
            run = str(run_id) if run_id is not None else "RUN_ID"
            text += (f" Ship it instead: `uclab baselines save {run}` keeps it (skops), and "
                     f"`uclab serve --run {run} --baseline` answers /v1/classify with it.")
        return text


def baseline_winner(task: str, metrics: dict[str, Any],
                    baselines: dict[str, dict[str, Any]]) -> BaselineWin | None:
    """The baseline that beats the run on its headline metric by the widest margin, if any does
    (the majority class is left out: beating it is the degenerate-model warning's job)."""
    key = headline_metric(task, metrics)
    if key is None:
        return None
    value = float(metrics[key])
    sign = -1.0 if labels.lower_is_better(key) else 1.0
    best: BaselineWin | None = None
    for name, other in baselines.items():
        theirs = other.get(key)
        if name in ("majority", "mean") or not isinstance(theirs, int | float) or isinstance(theirs, bool):
            continue
        if sign * (float(theirs) - value) > 1e-9 and (
                best is None or sign * (float(theirs) - best.baseline_value) > 0):
            best = BaselineWin(name=name, metric=key, baseline_value=float(theirs), run_value=value)
    return best


def _share_points(value: Any) -> str:
    return labels.MISSING if value is None else f"{100 * float(value):+.0f}"


def preference_verdict(pe: Any) -> Verdict:
    """What the team's preferences changed (a ``core.results.preference_eval.PreferenceEvaluation``): the
    share of held-out pairs where the model prefers the chosen answer, the parent's against the run's on
    the same pairs with the gain's 95 % interval, then the answer quality on the parent's test examples."""
    iv = pe.pairs.get("intervals") or {}
    mine, theirs, gain = (iv.get(k) or {} for k in ("preference_accuracy", "parent_preference_accuracy",
                                                    "preference_accuracy_gain"))
    if mine.get("mean") is None:
        return Verdict(f"Run {pe.run_id} has no scored held-out pairs, so what the preferences changed is "
                       "not known.", NONE)
    if theirs.get("mean") is None or gain.get("mean") is None:
        return Verdict(f"After the team's preferences the model prefers the chosen answer in "
                       f"{mine['mean']:.0%} of {mine['n']} held-out {pe.split} pairs (95 % interval "
                       f"{mine['low']:.0%}–{mine['high']:.0%}); its parent's share was not scored.", NONE)
    low, high = gain.get("low"), gain.get("high")
    moved = ("raised" if low is not None and low > 0 else "lowered" if high is not None and high < 0
             else "did not clearly change")
    tone = GOOD if moved == "raised" else BAD if moved == "lowered" else WEAK
    lead = (f"The team's preferences {moved} the share of {gain['n']} held-out {pe.split} pairs where the "
            f"model prefers the chosen answer: {theirs['mean']:.0%} for {pe.parent}, {mine['mean']:.0%} "
            "after "
            f"({_share_points(gain['mean'])} points, 95 % interval {_share_points(low)} to "
            f"{_share_points(high)})")
    answer = next((a for a in pe.answers if a["metric"] == "rouge_l"), pe.answers[0] if pe.answers else None)
    if answer is None:
        return Verdict(lead + ".", tone)
    cost = ("answer quality fell" if answer["high"] is not None and answer["high"] < 0 else
            "answer quality rose" if answer["low"] is not None and answer["low"] > 0 else
            "no clear change in answer quality")
    still = ""
    if all(x is not None and abs(float(x)) < 1e-12 for x in (low, high, answer["low"], answer["high"])):
        margin = (iv.get("reward_margin") or {}).get("mean")
        still = (" The preferences moved the model too little to change which answer it prefers on any pair "
                 "or any of its greedy answers" + (f" (DPO reward margin {margin:.3f})" if margin is not None
                                                   else "") + ": train more steps or with a higher learning "
                 "rate.")
    return Verdict(f"{lead}; on {pe.parent}'s {answer['examples']} test examples, {cost} "
                   f"({_answer_title(answer['metric'])} {_num(answer['parent'])} → {_num(answer['run'])}, "
                   f"gain {_signed(answer['gain'])}, 95 % interval {_signed(answer['low'])} to "
                   f"{_signed(answer['high'])}).{still}", tone if cost != "answer quality fell" else WEAK)


def same_rows_verdict(same: Any) -> Verdict:
    """What two runs on two versions of one dataset show on the same rows, scored against the newest
    labels (a ``core.results.compare.SameRows``): the better run, by how much, and whether the 95 %
    interval of the paired difference rules out no difference."""
    metric = str(same.metric)
    name = labels.metric_label(metric).split(" (")[0].lower()
    scores = (f"{labels.metric_value(metric, same.score_a)} for run {same.run_a} ({same.version_a}) against "
              f"{labels.metric_value(metric, same.score_b)} for run {same.run_b} ({same.version_b})")
    where = (f"On the same {same.examples:,} {same.split} rows, scored against the labels of "
             f"{same.labels_from}")
    if same.low is None or same.high is None:
        return Verdict(f"{where}: {scores}.", NONE)
    interval = (f"95 % interval of run {same.run_b} minus run {same.run_a}: {_points(metric, same.low)} to "
                f"{_points(metric, same.high)}")
    gain = float(same.gain)
    if abs(gain) < 1e-12:
        return Verdict(f"{where}, runs {same.run_a} and {same.run_b} are level on {name}: {scores} "
                       f"({interval}).", WEAK)
    better, worse = (same.run_b, same.run_a) if gain > 0 else (same.run_a, same.run_b)
    sure = same.low > 0 or same.high < 0
    tail = "" if sure else "; it includes zero, so these rows cannot tell the two runs apart"
    return Verdict(f"{where}, run {better} is {_amount(metric, gain)} better on {name} than run {worse}: "
                   f"{scores} ({interval}{tail}).", GOOD if sure and gain > 0 else WEAK)


def _points(metric: str, value: float) -> str:
    if labels.is_share(metric):
        return f"{value * 100:+.1f} points"
    return f"{value:+.3f}"
