"""Which run is best, and whether a classifier has learned anything."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from core.entities import RunInfo
from core.results import verdict


def _run(run_id: int, status: str, summary: dict, task: str = "classification") -> RunInfo:
    now = datetime.now(UTC)
    base = RunInfo(id=run_id, name="", dataset_id=1, parent_id=None, kind="train", model_key="m", task=task,
                   config={}, seed=1, status=status, status_reason="", pid=None, cancel_requested=False,
                   created_at=now, started_at=now, finished_at=now, heartbeat_at=now, step=1, total_steps=1,
                   epoch=1.0, samples_per_second=None, eta_seconds=None, elapsed_seconds=1.0, output_dir="",
                   last_checkpoint="", best_metric=None)
    return replace(base, summary=summary)


def test_best_run_is_the_best_succeeded_one_by_the_headline_metric() -> None:
    runs = [_run(3, "succeeded", {"test": {"accuracy": 0.518}}),
            _run(2, "failed", {"test": {"accuracy": 0.99}}),
            _run(1, "succeeded", {"test": {"accuracy": 0.871}})]
    assert verdict.best_run(runs).id == 1
    assert verdict.best_run([_run(4, "succeeded", {}), _run(3, "succeeded", {})]).id == 4  # newest
    lm = [_run(5, "succeeded", {"test": {"perplexity": 9.0}}, "causal-lm"),
          _run(6, "succeeded", {"test": {"perplexity": 4.0}}, "causal-lm")]
    assert verdict.best_run(lm).id == 6  # lower perplexity is better


def test_one_answer_for_nearly_every_row_is_degenerate() -> None:
    found = verdict.degenerate_answer([[50, 1], [47, 2]], ["fresh", "rotten"])
    assert found is not None and found.label == "fresh" and round(found.share, 2) == 0.97
    assert "it has not learned yet; train longer or raise the learning rate" in found.sentence
    assert verdict.degenerate_answer([[40, 10], [12, 38]], ["fresh", "rotten"]) is None
    # a test set that is itself 97 % one class: answering it is not evidence of a broken model
    assert verdict.degenerate_answer([[97, 0], [2, 1]], ["fresh", "rotten"]) is None


def _cls(accuracy: float, n: int = 200) -> dict:
    return {"accuracy": accuracy, "n": n, "labels": ["fresh", "rotten"],
            "confusion_matrix": [[60, 40], [40, 60]]}


def test_a_run_worse_than_always_guessing_says_so_in_words() -> None:
    majority = {"accuracy": 0.58, "labels": ["fresh", "rotten"], "confusion_matrix": [[116, 0], [84, 0]]}
    found = verdict.judge_metrics("classification", _cls(0.53), {"majority": majority})
    assert found.sentence.startswith("This model is worse than always guessing 'fresh' (58.0 %): it has not "
                                     "learned anything useful yet.")
    assert found.tone == verdict.BAD and found.below_guessing
    level = verdict.judge_metrics("classification", _cls(0.58), {"majority": majority})
    assert level.sentence.startswith("This model is no better than always guessing 'fresh'")
    better = verdict.judge_metrics("classification", _cls(0.80), {"majority": majority})
    assert not better.below_guessing and better.tone == verdict.GOOD
    assert "(95 % interval 74–85 %)" in better.sentence  # the interval is part of the sentence


def test_the_strongest_baseline_leads_and_prompting_names_its_own_examples() -> None:
    baselines = {"majority": {"accuracy": 0.5}, "tfidf_logreg": {"accuracy": 0.66}}
    prompt = verdict.PromptComparison("smollm2 3-shot", 40, 0.12)
    found = verdict.judge_metrics("classification", {"accuracy": 0.55, "n": 1387}, baselines,
                                  prompting=[prompt])
    assert found.sentence == ("The fine-tuned model gets the answer right 55 % of the time on 1,387 test "
                              "rows (95 % interval 52–58 %) — 11 points worse than a keyword model, 5 points "
                              "better than always guessing, 12 points better than prompting smollm2 3-shot "
                              "on the same 40 examples.")
    assert found.tone == verdict.WEAK


def test_a_character_n_gram_baseline_is_named_as_the_table_names_it() -> None:
    """Chinese text gets the character n-gram baseline: the sentence says so, as the table beside it."""
    baselines = {"majority": {"accuracy": 0.25}, "tfidf_char_logreg": {"accuracy": 0.719}}
    found = verdict.judge_metrics("classification", {"accuracy": 0.438, "n": 32}, baselines)
    assert "28 points worse than a character n-gram model" in found.sentence
    assert "keyword" not in found.sentence


class _Eval:
    def __init__(self, examples: int, metrics: dict) -> None:
        self.examples, self.metrics = examples, metrics


class _Base:
    def __init__(self, title: str, examples: int, gains: dict) -> None:
        self.title, self.evaluation, self.gains = title, _Eval(examples, {}), gains


class _Quality:
    headline = "rouge_l"

    def __init__(self, baselines: list) -> None:
        self.evaluation = _Eval(87, {})
        self.metrics = {"rouge_l": {"mean": 0.31, "low": 0.27, "high": 0.35}}
        self.baselines = baselines


def test_a_chat_run_answers_whether_fine_tuning_beat_prompting() -> None:
    won = verdict.judge_answers(_Quality([_Base("smollm2 few-shot", 20, {"rouge_l": {
        "mean": 0.12, "low": 0.08, "high": 0.16, "n": 20}})]), {"perplexity": 12.0})
    assert won.sentence.startswith("Fine-tuning beat prompting: the fine-tuned model's answers score ROUGE-L "
                                   "0.310 on 87 test examples (95 % interval 0.270–0.350), 0.120 higher than "
                                   "prompting smollm2 few-shot on the same 20 examples")
    assert won.tone == verdict.GOOD
    noise = verdict.judge_answers(_Quality([_Base("smollm2 zero-shot", 87, {"rouge_l": {
        "mean": 0.01, "low": -0.03, "high": 0.05, "n": 87}})]), {})
    assert noise.sentence.startswith("Fine-tuning did not clearly beat prompting")
    unknown = verdict.judge_answers(None, {"perplexity": 12.0})
    assert "whether fine-tuning beat prompting is not known until its answers are scored" in unknown.sentence


def test_green_never_sits_beside_worse_than_prompting_and_points_round_half_up() -> None:
    prompt = verdict.PromptComparison("smollm2 3-shot", 8, -0.125)
    found = verdict.judge_metrics("classification", {"accuracy": 0.9, "n": 100},
                                  {"tfidf_logreg": {"accuracy": 0.8}}, prompting=[prompt])
    assert "13 points worse than prompting smollm2 3-shot on the same 8 examples" in found.sentence
    assert found.tone == verdict.WEAK


def test_a_prompted_comparison_on_a_handful_of_examples_says_it_is_too_few() -> None:
    few = verdict.judge_metrics("classification", {"accuracy": 0.9, "n": 100}, {},
                                prompting=[verdict.PromptComparison("smollm2 3-shot", 8, -0.125)])
    assert "on the same 8 examples (too few examples to be sure)" in few.sentence
    enough = verdict.judge_metrics("classification", {"accuracy": 0.9, "n": 100}, {},
                                   prompting=[verdict.PromptComparison("smollm2 3-shot", 40, -0.125)])
    assert "on the same 40 examples" in enough.sentence and "too few" not in enough.sentence


def test_a_preference_run_that_moved_nothing_says_so_and_what_to_try() -> None:
    from types import SimpleNamespace

    from core.results.verdict import preference_verdict

    def share(mean: float, low: float, high: float) -> dict:
        return {"mean": mean, "low": low, "high": high, "n": 13}
    still = {"preference_accuracy": share(0.154, 0.043, 0.422),
             "parent_preference_accuracy": share(0.154, 0.043, 0.422),
             "preference_accuracy_gain": share(0.0, 0.0, 0.0), "reward_margin": share(0.003, 0.002, 0.004)}
    same = [{"metric": "rouge_l", "parent": 0.149, "run": 0.149, "gain": 0.0, "low": 0.0, "high": 0.0,
             "examples": 40}]
    pe = SimpleNamespace(run_id=2, parent="run 1", split="test", pairs={"intervals": still}, answers=same)
    text = preference_verdict(pe).sentence
    assert "did not clearly change" in text
    assert text.endswith("moved the model too little to change which answer it prefers on any pair or any of "
                         "its greedy answers (DPO reward margin 0.003): train more steps or with a higher "
                         "learning rate.")
    moved = dict(still, preference_accuracy_gain=share(0.08, -0.05, 0.2))
    assert "too little" not in preference_verdict(SimpleNamespace(**{**vars(pe), "pairs": {
        "intervals": moved}})).sentence


def test_a_gain_inside_the_models_own_interval_is_called_possible_noise_and_is_not_green() -> None:
    # Iris: 15 test rows, 100 % right, logistic regression 93.3 %: one row apart.
    baselines = {"majority": {"accuracy": 1 / 3}, "logistic_regression": {"accuracy": 14 / 15},
                 "hist_gradient_boosting": {"accuracy": 13 / 15}}
    found = verdict.judge_metrics("tabular", {"accuracy": 1.0, "n": 15}, baselines)
    assert found.sentence.endswith("On 15 rows the gain over logistic regression may be noise: it scores "
                                   "93.3 %, inside the fine-tuned model's 95 % interval.")
    assert found.tone == verdict.WEAK
    # The same scores on 1,000 rows stand clear of the interval (98.6–100 %): no such sentence, green.
    clear = verdict.judge_metrics("tabular", {"accuracy": 1.0, "n": 1000}, baselines)
    assert "noise" not in clear.sentence and clear.tone == verdict.GOOD
