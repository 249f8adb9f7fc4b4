"""Causal-LM training: loss masking, padding, a short fine-tune lowering validation loss, samples, LoRA."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.ml.tasks.causal_lm import CausalCollator, encode_row
from core.run_config import TrainConfig
from tests.tiny_chat import build_tiny_chat_lm, build_tokenizer


def llama_ready() -> bool:
    """Whether llama.cpp runs here (CI always builds it: there a missing engine fails the test)."""
    import os

    from core.ml.llama_engine import unavailable_reason

    return unavailable_reason() is None or bool(os.environ.get("CI"))

PC = {"prompt": "prompt", "completion": "completion"}


@pytest.fixture(scope="module")
def tok() -> object:
    return build_tokenizer()


def _labelled(tok: object, row: dict[str, list[int]]) -> str:
    return tok.decode([t for t in row["labels"] if t != -100])


def test_loss_counts_only_the_answer_and_its_end_token(tok: object) -> None:
    row = encode_row(tok, {"prompt": "Name three fruits.", "completion": "Apples, oranges and grapes."},
                     "prompt_completion", PC, max_length=128)
    assert tok.decode(row["input_ids"]).startswith("<|im_start|>user\nName three fruits.<|im_end|>")
    assert _labelled(tok, row) == "Apples, oranges and grapes.<|im_end|>"
    everything = encode_row(tok, {"prompt": "Name three fruits.", "completion": "Apples."},
                            "prompt_completion", PC, max_length=128, completion_only=False)
    assert everything["labels"] == everything["input_ids"]


def test_every_assistant_turn_of_a_conversation_is_learned(tok: object) -> None:
    messages = json.dumps([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                           {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye"},
                           {"role": "assistant", "content": "Goodbye!"}])
    row = encode_row(tok, {"messages": messages}, "messages", {"messages": "messages"}, max_length=128)
    assert _labelled(tok, row) == "Hello!<|im_end|>Goodbye!<|im_end|>"


def test_plain_text_is_learned_whole_with_an_end_token_and_cut_rows_are_left_out(tok: object) -> None:
    row = encode_row(tok, {"text": "Once upon a time."}, "text", {"text": "text"}, max_length=128)
    assert row["labels"] == row["input_ids"] and tok.decode(row["input_ids"]) == "Once upon a time.<|im_end|>"
    long_prompt = {"prompt": "hello " * 50, "completion": "yes"}
    assert encode_row(tok, long_prompt, "prompt_completion", PC, max_length=16) is None


def test_collator_pads_inputs_and_ignores_padding_in_the_loss() -> None:
    batch = CausalCollator(pad_token_id=2)([
        {"input_ids": [5, 6, 7], "attention_mask": [1, 1, 1], "labels": [-100, 6, 7]},
        {"input_ids": [8], "attention_mask": [1], "labels": [8]}])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 2, 2]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]


@pytest.fixture
def chat_run_setup(home: Path, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A tiny chat model in the catalogue and 120 rows of the chat-pairs gallery; yields (model key, id)."""
    from core.data import datasets
    from core.data.gallery import load_gallery_frame
    from core.inference.generation import clear_loaded
    from core.models import catalog
    from core.training import service as training
    from core.training import worker

    clear_loaded()
    key = catalog.add_local_model(str(build_tiny_chat_lm(tmp_path / "tiny-chat", seed=1))).key
    _, frame, mapping, split = load_gallery_frame("chat-pairs")
    parsed = datasets.frame_to_parsed(frame.sample(n=120, random_state=0), "chat-pairs.csv")
    info = datasets.save_dataset(parsed, mapping, name="chat pairs", task="causal-lm", split=split,
                                 model_key=key, max_length=64)
    training.set_launcher(worker.InlineLauncher())
    yield key, info.id
    training.set_launcher(None)
    clear_loaded()


def _train(key: str, dataset_id: int, **config: object) -> object:
    from core.training import service as training

    values = {"max_steps": 18, "batch_size": 8, "learning_rate": 5e-3, "eval_every": 6, "max_length": 64,
              "eval_batch_size": 8, "warmup_ratio": 0.0,
              "task_options": {"sample_tokens": 8, "eval_generations": 2}, **config}
    cfg = TrainConfig.from_preset("full", **values)
    return training.start_run(training.TrainRequest(dataset_id=dataset_id, model_key=key, config=cfg))


def test_short_fine_tune_on_chat_pairs_lowers_validation_loss_and_records_samples(chat_run_setup) -> None:
    from core.inference import generation
    from core.training import service as training

    key, dataset_id = chat_run_setup
    run = _train(key, dataset_id)
    assert run.status == "succeeded", (run.status_reason, training.run_logs(run.id))
    metrics = training.run_metrics(run.id)
    val = metrics[(metrics["split"] == "validation") & (metrics["name"] == "loss")].sort_values("step")
    assert len(val) == 3 and val["value"].is_monotonic_decreasing
    # against the untrained model on the same validation rows
    from core.config import get_settings
    from core.ml.tasks.registry import get_adapter

    adapter = get_adapter("causal-lm")
    from core.data.datasets import load_dataset_frame

    frame = load_dataset_frame(dataset_id)
    base_dir = Path(generation.resolve_model(key).path)
    model, tok, _ = adapter.load(base_dir)
    meta = json.loads((get_settings().resolve(run.output_dir) / "model" / "task.json").read_text())
    before, _ = adapter.evaluate(model, tok, frame[frame["split"] == "validation"], meta,
                                 TrainConfig(task_options={"eval_generations": 0}))
    assert val["value"].iloc[-1] < before["loss"] * 0.8
    ppl = metrics[(metrics["split"] == "validation") & (metrics["name"] == "perplexity")]
    assert len(ppl) == len(val)
    samples = generation.sample_generations(run.id)
    assert sorted(set(samples["step"])) == [0, 6, 12, 18] and (samples.groupby("step").size() == 3).all()
    # the fine-tuned run is a model source for the playground
    answer = generation.generate(f"run:{run.id}", samples["prompt"].iloc[0],
                                 settings=generation.GenerationSettings(temperature=0, max_new_tokens=12))
    assert answer.run_id == run.id and answer.outputs[0]
    assert generation.merge_lora(run.id) == Path(generation.resolve_model(f"run:{run.id}").path)
    if llama_ready():  # converted once when the run finished; the playground answers with that file
        gguf = get_settings().resolve(run.output_dir) / "gguf" / "model-F16.gguf"
        assert gguf.is_file() and answer.stats["engine"] == "llama.cpp"
        assert any("Converted the model for llama.cpp" in line for line in training.run_logs(run.id))
    # the worker scored the trained model's greedy answers to every test example, stored per example
    from core.results.answer_quality import get_answer_quality

    quality = get_answer_quality(run.id, "test")
    test = frame[frame["split"] == "test"]
    assert quality.evaluation.examples == len(test) and quality.evaluation.run_id == run.id
    assert list(quality.rows["reference"]) == list(test["completion"])
    assert {"exact_match", "contains", "token_f1", "rouge_l", "chrf"} <= set(quality.metrics)


def test_lora_run_saves_adapters_and_exports_a_plain_model(chat_run_setup) -> None:
    from core.config import get_settings
    from core.inference import generation
    from core.training import service as training

    key, dataset_id = chat_run_setup
    run = _train(key, dataset_id, lora=True, lora_rank=4, lora_alpha=8, max_steps=4, eval_every=4)
    assert run.status == "succeeded", (run.status_reason, training.run_logs(run.id))
    run_dir = get_settings().resolve(run.output_dir)
    assert (run_dir / "lora" / "adapter_config.json").is_file()
    assert (run_dir / "lora" / "adapter_model.safetensors").is_file()
    merged = generation.merge_lora(run.id)
    assert (merged / "config.json").is_file() and not (merged / "adapter_config.json").exists()
    record = generation.generate(f"run:{run.id}", "What is AI?",
                                 settings=generation.GenerationSettings(temperature=0, max_new_tokens=4))
    assert record.outputs and record.run_id == run.id
    if llama_ready():  # the LoRA adapters were merged before the GGUF was written
        assert (run_dir / "gguf" / "model-F16.gguf").is_file() and record.stats["engine"] == "llama.cpp"
