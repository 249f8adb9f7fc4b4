"""Preference training (DPO through TRL) on the tiny chat model: the pair scores, the curves, the run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.ml.tasks.preference import RewardCurves, conversational_rows, encode_pair_side, pair_logps
from core.tasks.preference_metrics import pair_scores, preference_metrics
from tests.preference_data import add_pairs_dataset, pairs_frame
from tests.tiny_chat import build_tiny_chat_lm, build_tokenizer


def test_an_answer_side_scores_only_the_answer_and_its_end_token() -> None:
    tok = build_tokenizer()
    row = encode_pair_side(tok, [{"role": "user", "content": "Name three fruits."}], "Apples.", 128)
    answer = tok.decode([t for t in row["labels"] if t != -100])
    assert answer == "Apples.<|im_end|>\n" or answer == "Apples.<|im_end|>"
    assert tok.decode(row["input_ids"]).startswith("<|im_start|>user\nName three fruits.<|im_end|>")
    assert encode_pair_side(tok, [{"role": "user", "content": "hello " * 80}], "Yes.", 16) is None


def test_pair_log_probabilities_are_sums_over_the_answer(tmp_path: Path) -> None:
    from core.ml.models import load_causal_lm

    folder = build_tiny_chat_lm(tmp_path / "m")
    tok, model = build_tokenizer(), load_causal_lm(folder)
    rows = conversational_rows(pairs_frame(4))
    scores = pair_logps(model, tok, rows, 128)
    short = pair_logps(model, tok, [{**rows[0], "chosen": [{"role": "assistant", "content": "Name"}]}], 128)
    assert all(c < 0 and r < 0 for c, r in scores)
    assert short[0][0] > scores[0][0]  # fewer tokens: a larger (less negative) sum
    assert short[0][1] == pytest.approx(scores[0][1], abs=1e-4)  # batched alike


def test_preference_metrics_compare_the_run_with_its_parent_on_the_same_pairs() -> None:
    names = ("logp_chosen", "logp_rejected", "parent_logp_chosen", "parent_logp_rejected")
    rows = [dict(zip(names, values, strict=True)) for values in
            ((-1.0, -2.0, -3.0, -2.0), (-1.0, -2.0, -1.5, -2.0), (-4.0, -2.0, -4.0, -1.0),
             (-1.0, None, -1.0, -2.0))]
    scored = pair_scores(rows, beta=0.5)
    assert [s["prefers_chosen"] for s in scored] == [1.0, 1.0, 0.0, None]
    assert [s["parent_prefers_chosen"] for s in scored] == [0.0, 1.0, 0.0, 1.0]
    assert scored[0]["reward_margin"] == pytest.approx(0.5 * ((-1 + 3) - (-2 + 2)))
    m = preference_metrics(scored, beta=0.5)
    assert m["preference_accuracy"] == pytest.approx(2 / 3)
    assert m["parent_preference_accuracy"] == pytest.approx(1 / 3)
    assert m["preference_accuracy_gain"] == pytest.approx(1 / 3)
    assert m["reward_accuracy"] == pytest.approx(1.0)  # every scored pair moved towards the chosen answer
    iv = m["intervals"]
    assert iv["preference_accuracy"]["low"] < 2 / 3 < iv["preference_accuracy"]["high"]
    assert iv["preference_accuracy_gain"]["n"] == 3 and iv["preference_accuracy_gain"]["low"] <= 1 / 3


def test_reward_curves_get_readable_names_and_the_diagnostics_are_left_out() -> None:
    logs = {"loss": 0.6, "rewards/margins": 0.1, "rewards/accuracies": 1.0, "logps/chosen": -3.0}
    RewardCurves().on_log(None, None, None, logs=logs)
    assert logs == {"loss": 0.6, "reward_margin": 0.1, "reward_accuracy": 1.0}
    metrics = {"eval_loss": 0.5, "eval_rewards/margins": 0.2, "eval_entropy": 3.0}
    RewardCurves().on_evaluate(None, None, None, metrics=metrics)
    assert metrics == {"eval_loss": 0.5, "eval_reward_margin": 0.2}


@pytest.fixture
def dpo_setup(home: Path, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """The tiny chat model in the catalogue and 60 learnable pairs; yields (model key, dataset id)."""
    from core.inference.generation import clear_loaded
    from core.models import catalog
    from core.training import service as training
    from core.training import worker

    clear_loaded()
    key = catalog.add_local_model(str(build_tiny_chat_lm(tmp_path / "tiny-chat", seed=1))).key
    training.set_launcher(worker.InlineLauncher())
    yield key, add_pairs_dataset()
    training.set_launcher(None)
    clear_loaded()


def _dpo(dataset_id: int, **kw: object) -> object:
    from core.training import service as training

    values = {"max_steps": 12, "learning_rate": 1e-2, "max_length": 64, "batch_size": 4, "eval_every": 6,
              "lora_rank": 4, "lora_target": "all-linear", "warmup_ratio": 0.0, **kw}
    return training.start_run(training.preference_request(dataset_id, **values))


def test_dpo_run_on_a_catalogue_model_records_reward_curves_and_beats_its_parent(dpo_setup) -> None:
    from core.config import get_settings
    from core.inference import generation
    from core.results.evaluation import get_evaluation
    from core.training import service as training

    key, dataset_id = dpo_setup
    run = _dpo(dataset_id, model_key=key)
    assert run.status == "succeeded", (run.status_reason, training.run_logs(run.id))
    assert run.task == "causal-lm" and run.config["training_kind"] == "preference" and run.model_key == key
    metrics = training.run_metrics(run.id)
    val = metrics[metrics["split"] == "validation"]
    assert {"loss", "reward_margin", "reward_accuracy"} <= set(val["name"])
    assert sorted(set(val["step"])) == [6, 12]
    train = metrics[metrics["split"] == "train"]
    assert {"loss", "reward_margin", "reward_accuracy"} <= set(train["name"])
    margins = val[val["name"] == "reward_margin"].sort_values("step")["value"]
    assert margins.max() > 0  # the best checkpoint (by validation loss) is the one kept
    test = get_evaluation(run.id, "test")
    m = test.metrics
    assert m["pairs"] == 12 and m["reward_accuracy"] > 0.5
    assert m["preference_accuracy"] > m["parent_preference_accuracy"]
    assert {"prefers_chosen", "parent_prefers_chosen", "reward_margin"} <= set(test.predictions.columns)
    # a finished DPO run is a causal-LM run like any other: adapters merged into a plain saved model
    run_dir = get_settings().resolve(run.output_dir)
    assert (run_dir / "lora" / "adapter_config.json").is_file()
    assert json.loads((run_dir / "model" / "task.json").read_text())["task"] == "causal-lm"
    assert generation.merge_lora(run.id) == run_dir / "model"
    answer = generation.generate(f"run:{run.id}", "Name some fruits.",
                                 settings=generation.GenerationSettings(temperature=0, max_new_tokens=6))
    assert answer.run_id == run.id and answer.outputs


def test_dpo_on_top_of_a_finished_run_starts_from_its_weights_and_compares_answers(dpo_setup) -> None:
    from core.data import datasets
    from core.data.gallery import load_gallery_frame
    from core.results.answer_quality import get_answer_quality
    from core.run_config import TrainConfig
    from core.training import service as training

    key, pairs_id = dpo_setup
    _, frame, mapping, split = load_gallery_frame("chat-pairs")
    parsed = datasets.frame_to_parsed(frame.sample(n=60, random_state=0), "chat-pairs.csv")
    sft_data = datasets.save_dataset(parsed, mapping, name="chat", task="causal-lm", split=split,
                                     model_key=key, max_length=64)
    cfg = TrainConfig.from_preset("full", max_steps=2, batch_size=8, max_length=64, eval_batch_size=8,
                                  task_options={"sample_prompts": 0, "eval_generations": 0,
                                                "eval_examples": 5})
    parent = training.start_run(training.TrainRequest(dataset_id=sft_data.id, model_key=key, config=cfg))
    assert parent.status == "succeeded", training.run_logs(parent.id)
    run = _dpo(pairs_id, parent_run_id=parent.id, max_steps=2, eval_every=2)
    assert run.status == "succeeded", (run.status_reason, training.run_logs(run.id))
    assert run.config["parent_run_id"] == parent.id and run.model_key == key
    mine = get_answer_quality(run.id, "test").evaluation
    theirs = get_answer_quality(parent.id, "test").evaluation
    assert mine.dataset_id == theirs.dataset_id == sft_data.id and mine.run_id == run.id
    assert mine.examples == theirs.examples > 0 and mine.seed == theirs.seed
    assert list(mine.examples_frame["prompt"]) == list(theirs.examples_frame["prompt"])
    # converted for llama.cpp (the merged model) before its answers, and exported like any chat run
    from core.config import get_settings
    from core.ship.export import export_model_zip

    run_dir = get_settings().resolve(run.output_dir)
    assert (run_dir / "gguf" / "model-F16.gguf").is_file()
    assert any("Converted the model for llama.cpp" in line for line in training.run_logs(run.id, 200))
    import zipfile

    with zipfile.ZipFile(export_model_zip(run.id)) as archive:
        assert any(name.endswith("model.safetensors") for name in archive.namelist())
    # its evaluation: pairs against the parent, answers against the parent's, the verdict, the report
    from core.results import preference_eval, review
    from core.results.report import build_report
    from core.results.verdict import run_verdict

    pe = preference_eval.get_preference_evaluation(run.id)
    assert pe.parent_run_id == parent.id and pe.split == "test" and pe.answers_dataset_id == sft_data.id
    rouge = next(a for a in pe.answers if a["metric"] == "rouge_l")
    assert rouge["examples"] == mine.examples
    assert rouge["gain"] == pytest.approx(rouge["run"] - rouge["parent"])
    measures = set(pe.pairs_frame()["measure"])
    assert {"Preference accuracy, this run", "Gain over the parent (paired)"} <= measures
    sentence = run_verdict(run.id).sentence
    assert sentence.startswith("The team's preferences") and f"run {parent.id}" in sentence
    assert "95 % interval" in sentence and "ROUGE-L" in sentence
    html = build_report(run.id)
    assert "The team&#x27;s preferences" in html or "The team's preferences" in html
    review_id = preference_eval.start_parent_review(run.id)
    info = review.get_review(review_id)
    assert (info.model_a, info.model_b) == (f"run:{parent.id}", f"run:{run.id}")
    assert info.items == mine.examples



def test_dpo_run_cancels_with_a_checkpoint_and_resumes_from_it(dpo_setup,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from core.ml.trainer import StepGuard
    from core.store import runs
    from core.training import service as training
    from core.training import worker
    from tests.training_data import RecordingLauncher

    key, dataset_id = dpo_setup
    training.set_launcher(RecordingLauncher())  # queued, not started: the worker runs it below
    run_id = _dpo(dataset_id, model_key=key, max_steps=6, eval_every=6).id
    original = StepGuard.training_step

    def step_then_cancel(self, model, inputs, num_items_in_batch=None):  # noqa: ANN001, ANN202
        if self.state.global_step + 1 == 2:  # someone presses Cancel while step 2 runs
            runs.request_cancel(run_id)
        return original(self, model, inputs, num_items_in_batch)

    monkeypatch.setattr(StepGuard, "training_step", step_then_cancel)
    assert worker.run(run_id) == 0
    info = runs.get_run(run_id)
    assert info.status == "cancelled" and info.step == 2 and info.last_checkpoint.endswith("checkpoint-2")
    monkeypatch.setattr(StepGuard, "training_step", original)
    training.set_launcher(worker.InlineLauncher())
    resumed = training.resume_run(run_id)
    assert resumed.status == "succeeded" and resumed.step == resumed.total_steps == 6
    assert any("resuming at step 2" in line for line in training.run_logs(run_id, 200))
    train = training.run_metrics(run_id)
    assert sorted(set(train[train["split"] == "train"]["step"])) == [1, 2, 3, 4, 5, 6]


def test_nan_loss_of_a_dpo_run_fails_with_the_usual_sentence(dpo_setup) -> None:
    key, dataset_id = dpo_setup
    run = _dpo(dataset_id, model_key=key, max_steps=4, eval_every=2, debug={"nan_at_step": 2})
    assert run.status == "failed" and "NaN at step 2" in run.status_reason


def test_preference_requests_refuse_what_cannot_train_in_one_sentence(dpo_setup) -> None:
    from core.errors import ConfigError, NotFoundError
    from core.training import service as training
    from tests.training_data import add_text_dataset

    key, pairs_id = dpo_setup
    with pytest.raises(ConfigError, match="holds no preference pairs"):
        training.preference_request(add_text_dataset(), model_key=key)
    with pytest.raises(ConfigError, match="finished causal-LM run"):
        training.preference_request(pairs_id)
    with pytest.raises(NotFoundError):
        training.preference_request(pairs_id, parent_run_id=999)
    with pytest.raises(ConfigError, match="beta"):
        training.preference_request(pairs_id, model_key=key, beta=0)
    request = training.preference_request(pairs_id, model_key=key)
    assert request.config.lora and request.config.beta == 0.1 and request.config.learning_rate == 1e-4
    estimate = training.estimate_run(pairs_id, key, request.config)
    from dataclasses import replace

    single = training.estimate_run(pairs_id, key, replace(request.config, training_kind="supervised"))
    assert estimate.steps == 100 and "a pair costing about 2.7 examples" in estimate.speed_source
    assert estimate.samples_per_second == pytest.approx(single.samples_per_second / 2.7, rel=0.1)
