"""Answer quality and prompt baselines with a tiny chat model: generation, scoring, storage, cache, gains."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.data import datasets
from core.results import answer_metrics as am
from core.results import answer_quality as aq
from core.store import answers as store

QUESTIONS = ["What is the capital of France?", "Name three fruits.", "Hello! How can I help you today?",
             "Tell me a story.", "What does the fox do?", "Count to five."]


def _chat_dataset(rows: int = 30) -> int:
    frame = pd.DataFrame({"prompt": [f"{QUESTIONS[i % 6]} ({i})" for i in range(rows)],
                          "completion": [f"The answer number {i} is Paris." for i in range(rows)]})
    parsed = datasets.frame_to_parsed(frame, "pairs.csv")
    return datasets.save_dataset(parsed, {"prompt": "prompt", "completion": "completion",
                                          "format": "prompt_completion"}, name="pairs", task="causal-lm",
                                 split=datasets.SplitConfig(0.2, 0.3, 1)).id


def _reviews_dataset() -> int:
    words = {"fresh": ["wonderful", "moving", "great"], "rotten": ["dull", "boring", "flat"]}
    frame = pd.DataFrame([{"text": f"A {words[lab][i % 3]} film, take {i}", "label": lab}
                          for i in range(40) for lab in (("fresh", "rotten")[i % 2],)])
    parsed = datasets.frame_to_parsed(frame, "reviews.csv")
    return datasets.save_dataset(parsed, {"text": "text", "label": "label"}, name="reviews",
                                 task="classification", split=datasets.SplitConfig(0.2, 0.3, 1)).id


def test_batched_greedy_answers_equal_one_by_one(tiny: str) -> None:
    from core.inference.answers import answer_prompts

    texts = ("Hello", "What is the capital of France?", "Name three fruits: apples",
             "Once upon a time, in a small village, there lived", "The quick brown fox")
    prompts = [{"text": t} for t in texts]
    batched = answer_prompts(tiny, prompts, 10, batch_size=3)
    single = answer_prompts(tiny, prompts, 10, batch_size=1)
    assert batched == single
    assert len(set(batched)) > 2  # the prompts really got different answers


def test_answers_are_stored_per_example_and_recompute_from_the_rows(tiny: str) -> None:
    dataset_id = _chat_dataset()
    ev = aq.evaluate_answers(tiny, dataset_id, "test", kind="zero_shot", examples=5)
    frame = ev.examples_frame
    test = datasets.load_dataset_frame(dataset_id, "test")
    positions = list(frame["position"])
    assert ev.examples == len(frame) == 5 and positions == sorted(positions) and len(test) > 5
    assert positions == sorted(aq.sample_positions(len(test), aq.DEFAULT_SEED)[:5])  # a seeded sample
    assert list(frame["reference"]) == list(test["completion"].iloc[positions])
    assert list(frame["prompt"]) == list(test["prompt"].iloc[positions])
    for row in frame.to_dict("records"):  # a reader recomputes every score from the stored text
        for name, value in am.score_example(row["answer"], row["reference"]).items():
            assert row[name] == pytest.approx(value)
    for name, stats in ev.metrics["metrics"].items():
        assert stats["mean"] == pytest.approx(frame[name].mean())
        assert stats["low"] <= stats["mean"] <= stats["high"]
    # max_new_tokens comes from the references: the longest one plus a quarter
    assert 8 <= ev.settings["max_new_tokens"] <= 64


def test_few_shot_prompts_carry_k_training_turns_with_the_same_draw() -> None:
    from core.results.prompts import causal_examples

    train = pd.DataFrame({"prompt": [f"q{i}" for i in range(10)], "completion": [f"a{i}" for i in range(10)]})
    split = pd.DataFrame({"prompt": ["question"], "completion": ["answer"]})
    mapping = {"format": "prompt_completion"}
    first = causal_examples(split, train, mapping, limit=5, shots=3, seed=7)[0]
    again = causal_examples(split, train, mapping, limit=5, shots=3, seed=7)[0]
    other = causal_examples(split, train, mapping, limit=5, shots=3, seed=8)[0]
    turns = first.prompt["messages"]
    assert len(turns) == 7 and [t["role"] for t in turns] == ["user", "assistant"] * 3 + ["user"]
    assert turns[-1]["content"] == "question" and first.reference == "answer"
    assert first.prompt == again.prompt and first.prompt != other.prompt


def test_prompt_baselines_are_cached_and_the_run_gain_is_paired(tiny: str, monkeypatch) -> None:
    from core.store import runs
    from core.training import service as training

    dataset_id = _chat_dataset()
    run = runs.create_run(dataset_id=dataset_id, model_key=tiny, task="causal-lm",
                          config=training.TrainConfig().to_dict(), seed=42)
    aq.evaluate_answers(tiny, dataset_id, "test", kind="run", run_id=run.id, examples=6)
    first = aq.ensure_prompt_baselines(dataset_id, "test", model_ref=tiny, shots=2, examples=6)
    assert [(e.kind, e.shots) for e in first] == [("zero_shot", 0), ("few_shot", 2)]

    def no_generation(*args, **kwargs):
        raise AssertionError("a cached baseline was generated again")

    monkeypatch.setattr("core.inference.answers.answer_prompts", no_generation)
    again = aq.ensure_prompt_baselines(dataset_id, "test", model_ref=tiny, shots=2, examples=6)
    assert [e.id for e in again] == [e.id for e in first]

    quality = aq.get_answer_quality(run.id, "test")
    assert len(quality.baselines) == 2 and quality.headline == "rouge_l"
    for base in quality.baselines:
        diff = quality.rows["chrf"].to_numpy() - base.evaluation.examples_frame["chrf"].to_numpy()
        assert base.gains["chrf"]["mean"] == pytest.approx(diff.mean())
        assert base.gains["chrf"]["n"] == 6
    data = quality.to_dict()
    assert len(data["rows"]) == 6 and {"prompt", "reference", "answer", "rouge_l"} <= set(data["rows"][0])
    worst = quality.worst("chrf", search="(", limit=3)
    assert len(worst) <= 3 and worst["chrf"].is_monotonic_increasing


def test_label_likelihoods_match_a_full_forward_pass(tiny: str) -> None:
    import torch

    from core.inference.answers import label_scores, load
    from core.ml.generation import encode_prompt

    prompt = {"messages": [{"role": "user", "content": "Is this film good? Answer yes or no."}]}
    scores = label_scores(tiny, [prompt], ["yes", "no thanks"])[0]
    loaded = load(tiny)
    head = encode_prompt(loaded, prompt)["input_ids"][0].tolist()
    for label, score in zip(["yes", "no thanks"], scores, strict=True):
        ids = loaded.tokenizer(label, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = loaded.model(input_ids=torch.tensor([head + ids])).logits[0].float()
        logp = torch.log_softmax(logits, -1)
        expected = sum(float(logp[len(head) - 1 + k, t]) for k, t in enumerate(ids))
        assert score == pytest.approx(expected, abs=1e-4)


def test_llm_label_baseline_is_listed_beside_majority_and_tfidf(tiny: str, monkeypatch) -> None:
    from core.results import evaluation
    from core.store import runs
    from core.tasks.baselines import fit_baselines
    from core.training import service as training

    dataset_id = _reviews_dataset()
    ev = aq.evaluate_labels(tiny, dataset_id, "test", shots=2, examples=8)
    frame = ev.examples_frame
    assert ev.kind == "label_few_shot" and set(frame["answer"]) <= {"fresh", "rotten"}
    assert len(ev.settings["label_bias"]) == 2  # calibrated against the content-free prompt
    assert ev.metrics["accuracy"] == pytest.approx(frame["correct"].mean())
    low, high = ev.metrics["accuracy_interval"]
    assert low <= ev.metrics["accuracy"] <= high
    # the run, majority and TF-IDF stored as the worker would; the LLM baseline joins them
    run = runs.create_run(dataset_id=dataset_id, model_key="minilm-l6", task="classification",
                          config=training.TrainConfig().to_dict(), seed=42)
    full = datasets.load_dataset_frame(dataset_id)
    train, test = full[full["split"] == "train"], full[full["split"] == "test"].reset_index(drop=True)
    results = fit_baselines("classification", train, test)
    name, metrics, predictions = results[1]
    evaluation.store_evaluation(run.id, "test", "run", metrics, predictions)  # pretend TF-IDF is the run
    for name, m, p in results:
        evaluation.store_evaluation(run.id, "test", name, m, p)
    monkeypatch.setattr(aq, "baseline_model", lambda task, key=None: tiny)
    result = evaluation.get_evaluation(run.id, "test")
    assert [b.name for b in result.baselines] == ["majority", "label_few_shot", "tfidf_logreg"]
    llm = result.baselines[1]
    same = predictions.iloc[frame["position"].tolist()]
    assert llm.gain["accuracy"] == pytest.approx(same["correct"].mean() - ev.metrics["accuracy"])
    assert not math.isnan(llm.metrics["macro_f1"])


def test_estimate_uses_timings_measured_here(tiny: str) -> None:
    guess, measured = aq.estimate_seconds(tiny, "causal-lm", 100, shots=3)
    assert not measured and guess == pytest.approx(aq.GUESS_SECONDS["causal-lm"] * 100 * (1 + 1.9))
    aq.evaluate_answers(tiny, _chat_dataset(), "test", examples=4)
    seconds, measured = aq.estimate_seconds(tiny, "causal-lm", 100, shots=0)
    per = store.find_answer_evaluations(model_ref=tiny)[0].settings["per_example_seconds"]
    assert measured and seconds == pytest.approx(per * 100)
    assert "from earlier evaluations on this machine" in aq.describe_estimate(tiny, "causal-lm", 100)
    # generating answers says nothing about scoring labels: that estimate stays a guess
    assert aq.estimate_seconds(tiny, "classification", 100) == (
        pytest.approx(aq.GUESS_SECONDS["classification"] * 100 * (1 + 1.9)), False)


def test_bad_example_counts_and_tasks_are_one_sentence_errors(tiny: str) -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="between 1 and"):
        aq.evaluate_answers(tiny, _chat_dataset(), "test", examples=0)
    assert np.isfinite(aq.GUESS_SECONDS["classification"])


def test_a_scoring_failure_in_the_worker_is_logged_and_keeps_the_run(tiny: str, monkeypatch) -> None:
    from pathlib import Path

    from core.store import runs
    from core.training import service as training
    from core.training import worker

    dataset_id = _chat_dataset()
    run = runs.create_run(dataset_id=dataset_id, model_key=tiny, task="causal-lm",
                          config=training.TrainConfig().to_dict(), seed=42)

    def boom(*args, **kwargs):
        raise RuntimeError("out of tokens")

    monkeypatch.setattr(aq, "evaluate_answers", boom)
    full = datasets.load_dataset_frame(dataset_id)
    parts = {s: full[full["split"] == s].reset_index(drop=True) for s in ("train", "test")}
    from core.inference.answers import load

    trained = load(tiny)  # stands for the model the worker just trained
    worker._score_answers(run.id, dataset_id, "test", parts, trained.model, trained.tokenizer, Path("."),
                          training.TrainConfig())
    logs = " ".join(training.run_logs(run.id, tail=5))
    assert "Scoring the answers failed (RuntimeError: out of tokens)" in logs


def test_chinese_answers_are_stored_with_their_tokenizer_and_the_note_says_so(tiny: str) -> None:
    frame = pd.DataFrame({"prompt": [f"问题{i}：今天天气怎么样？" for i in range(30)],
                          "completion": [f"今天天气很好，我们去公园吧。第{i}天" for i in range(30)]})
    parsed = datasets.frame_to_parsed(frame, "zh.csv")
    dataset_id = datasets.save_dataset(parsed, {"prompt": "prompt", "completion": "completion",
                                                "format": "prompt_completion"}, name="zh", task="causal-lm",
                                       split=datasets.SplitConfig(0.2, 0.3, 1)).id
    ev = aq.evaluate_answers(tiny, dataset_id, "test", kind="zero_shot", examples=4)
    assert set(ev.examples_frame["tokenizer"]) == {am.CHARACTERS}
    assert ev.metrics["tokenization"] == {"characters (Chinese)": 4}
    assert "tokenizer" not in ev.metrics["metrics"]
    quality = aq.model_answer_quality(tiny, dataset_id, "test")
    assert quality.scoring_note.startswith(
        'ROUGE-L, token F1, exact match and "contains" scored by character for Chinese')
    assert set(quality.display_frame()["metric"]) >= {"ROUGE-L", "Token F1"}  # numbers only, no tokenizer row
