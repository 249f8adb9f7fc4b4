"""The Evaluation page's answer-quality and prompt-baseline blocks, on stored evaluations (no model)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from streamlit.testing.v1 import AppTest

from core.data import datasets
from core.results import answer_metrics as am
from core.results import evaluation
from core.store import answers as store
from tests.pages.seed import save_reviews, seed_evaluation, seed_run

REFERENCES = ["Paris is the capital.", "Apples and pears.", "I am fine, thanks.", "Blue.", "<b>bold</b> move"]
RUN_ANSWERS = ["Paris is the capital.", "Apples.", "I am fine.", "Red.", "<b>bold</b> move"]
BASE_ANSWERS = ["It is Rome.", "Bananas.", "Hello there.", "Red.", "no idea"]


def _store(dataset_id: int, run_id: int | None, model_ref: str, kind: str, shots: int,
           answers: list[str]) -> None:
    rows, metrics = am.score_answers(answers, REFERENCES)
    store.save_answer_evaluation(
        dataset_id=dataset_id, run_id=run_id, model_ref=model_ref, split="test", kind=kind, shots=shots,
        seed=42, settings={"max_new_tokens": 16, "requested_examples": 200, "per_example_seconds": 0.5},
        metrics=metrics, seconds=2.5,
        rows=[{"position": i, "prompt": f"question {i}", "reference": r, "answer": a, **s}
              for i, (r, a, s) in enumerate(zip(REFERENCES, answers, rows, strict=True))])


def _causal_run() -> int:
    frame = pd.DataFrame({"prompt": [f"q{i}" for i in range(20)], "completion": [f"a{i}" for i in range(20)]})
    mapping = {"prompt": "prompt", "completion": "completion", "format": "prompt_completion"}
    info = datasets.save_dataset(datasets.frame_to_parsed(frame, "pairs.csv"), mapping, name="pairs",
                                 task="causal-lm", split=datasets.SplitConfig(0.2, 0.25, 1))
    run = seed_run(info.id, status="succeeded", task="causal-lm")
    evaluation.store_evaluation(run.id, "test", "run", {"loss": 1.2, "perplexity": 3.3, "examples": 5},
                                pd.DataFrame({"prompt": ["q"], "reference": ["a"], "generated": ["a"]}))
    _store(info.id, run.id, f"run:{run.id}", "run", 0, RUN_ANSWERS)
    _store(info.id, None, run.model_key, "zero_shot", 0, BASE_ANSWERS)
    _store(info.id, None, run.model_key, "few_shot", 3, BASE_ANSWERS[:3] + RUN_ANSWERS[3:])
    return run.id


def test_causal_run_shows_answer_quality_beside_its_prompt_baselines(
        open_page: Callable[..., AppTest]) -> None:
    run_id = _causal_run()
    at = open_page("evaluation", query={"run": str(run_id)})
    assert not at.exception
    card = next(m for m in at.metric if m.label == "ROUGE-L")
    rows, _ = am.score_answers(RUN_ANSWERS, REFERENCES)
    assert card.value == f"{sum(r['rouge_l'] for r in rows) / 5:.3f}"
    assert "vs minilm-l6 few-shot" in card.proto.delta  # the strongest baseline, with its interval
    summary = at.dataframe[-2].value
    assert set(summary["model"]) == {f"run {run_id} fine-tuned", "minilm-l6 zero-shot",
                                     "minilm-l6 few-shot (3 examples in the prompt)"}
    assert summary["gain of the run on the shared examples (95 % interval)"].str.startswith("+").any()
    assert at.get("plotly_chart")  # the per-example score distribution
    worst = at.dataframe[-1].value
    assert list(worst["rouge_l"]) == sorted(worst["rouge_l"]) and len(worst) == 5
    assert "<b>bold</b> move" in set(worst["answer"])  # kept as text, not rendered as markup
    at.text_input(key="evaluation_answer_search").set_value("apples").run()
    worst = at.dataframe[-1].value
    assert list(worst["reference"]) == ["Apples and pears."]
    at.text_input(key="evaluation_answer_search").set_value("").run()
    slider = at.select_slider(key="evaluation_answer_below")
    assert slider.value == "any score" and slider.options[0] == "0.05"  # no "1.01" on screen
    slider.set_value(0.3).run()
    below = at.dataframe[-1].value
    assert len(below) == sum(r["rouge_l"] < 0.3 for r in rows) and (below["rouge_l"] < 0.3).all()
    at.select_slider(key="evaluation_answer_below").set_value("any score").run()
    at.selectbox(key="evaluation_answer_metric").set_value("exact_match").run()
    assert not at.exception
    assert "exact_match" in at.dataframe[-1].value
    assert any("No judge is set" in c.value for c in at.caption)  # absent, with how to set it
    # the prompt baselines can be run again with another k: the time it takes is said first
    assert at.number_input(key="evaluation_baseline_shots").value == 3
    # N and the estimate never exceed the split (5 test rows here), whatever N the run was scored with
    assert at.number_input(key="evaluation_baseline_examples").value == 5
    assert any(" for 5 examples, zero-shot and 3-shot" in c.value for c in at.caption), [
        c.value for c in at.caption]


def test_causal_run_without_scored_answers_offers_to_score_them(open_page: Callable[..., AppTest]) -> None:
    run_id = _causal_run()
    from core.store.db import session_scope
    from core.store.orm import AnswerEvaluation

    with session_scope(write=True) as s:
        s.query(AnswerEvaluation).filter(AnswerEvaluation.run_id == run_id).delete()
    at = open_page("evaluation", query={"run": str(run_id)})
    assert not at.exception
    assert any("no scored answers" in i.value for i in at.info)
    assert at.button(key="evaluation_answer_score").label == "Score the answers"
    assert at.number_input(key="evaluation_answer_examples").value == 200


def test_classification_run_lists_the_llm_baseline_with_majority_and_tfidf(
        open_page: Callable[..., AppTest]) -> None:
    from core.models.catalog import SMOLLM2_KEY

    dataset = save_reviews()
    run = seed_run(dataset.id, status="succeeded")
    seed_evaluation(run.id)
    at = open_page("evaluation", query={"run": str(run.id)})
    assert not at.exception
    assert at.button(key="evaluation_baseline_run").label == f"Run {SMOLLM2_KEY} zero-shot and 3-shot"
    labels = ["fresh", "fresh", "rotten", "fresh", "rotten", "rotten", "rotten", "fresh"]
    predicted = ["fresh", "rotten", "rotten", "fresh", "fresh", "fresh", "rotten", "fresh"]
    correct = [float(a == b) for a, b in zip(labels, predicted, strict=True)]
    metrics = {"accuracy": sum(correct) / 8, "macro_f1": 0.62, "headline": "accuracy",
               "metrics": {"accuracy": {"mean": sum(correct) / 8, "low": 0.25, "high": 0.875, "n": 8}}}
    store.save_answer_evaluation(
        dataset_id=dataset.id, run_id=None, model_ref=SMOLLM2_KEY, split="test", kind="label_few_shot",
        shots=3, seed=42, settings={"labels": ["fresh", "rotten"], "requested_examples": 200},
        metrics=metrics, seconds=4.0,
        rows=[{"position": i, "prompt": f"review number {i}", "reference": lab, "answer": p, "correct": c}
              for i, (lab, p, c) in enumerate(zip(labels, predicted, correct, strict=True))])
    at = open_page("evaluation", query={"run": str(run.id)})
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["model"]) == [f"This model (run {run.id})", "Always guessing the most common class",
                                    f"{SMOLLM2_KEY} 3-shot (label likelihood, 8 examples)"]
    # the prompted model's own N and interval, compared with the run on those same rows only
    assert any(f"On the same 8 test rows, {SMOLLM2_KEY} 3-shot is right 62 % of the time (95 % interval "
               "25–88 %)" in m.value.replace("\\", "") for m in at.markdown)


def test_compare_page_and_report_carry_answer_quality(open_page: Callable[..., AppTest]) -> None:
    from core.results.report import build_report

    first, second = _causal_run(), _causal_run()
    at = open_page("compare", {"runs": f"{first},{second}"})
    assert not at.exception
    table = next(f.value for f in at.dataframe if "ROUGE-L 95 % interval" in f.value)
    assert list(table["run"]) == [f"#{first}", f"#{second}"] and set(table["examples"]) == {5}
    page = build_report(first)
    assert "<h2>Answer quality</h2>" in page and "few-shot (3 examples in the prompt)" in page
    assert "&lt;b&gt;bold&lt;/b&gt; move" in page and "<b>bold</b> move" not in page
