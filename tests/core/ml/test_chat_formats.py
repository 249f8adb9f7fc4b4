"""ShareGPT, Alpaca and OpenAI files with tool turns: detected, masked right, trained as causal LM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.ml.tasks.causal_lm import encode_row
from tests.tiny_chat import build_tiny_chat_lm, build_tokenizer

QA = [("What is the capital of France?", "Paris."), ("Name three fruits.", "Apples, oranges, grapes."),
      ("Say hello.", "Hello!"), ("What colour is the sky?", "Blue."), ("Count to three.", "One, two, three.")]


def _labelled(tok: object, row: dict[str, list[int]]) -> str:
    return tok.decode([t for t in row["labels"] if t != -100])


def test_tool_calls_and_results_are_context_never_targets() -> None:
    tok = build_tokenizer()
    messages = [{"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": None,
                 "tool_calls": [{"id": "c1", "type": "function",
                                 "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "sunny, 21 C"},
                {"role": "assistant", "content": "It is sunny."}]
    row = encode_row(tok, {"messages": json.dumps(messages)}, "messages", {"messages": "messages"},
                     max_length=256)
    text = tok.decode(row["input_ids"])
    assert "<|im_start|>tool\nsunny, 21 C" in text and "weather" in text  # both are read
    assert _labelled(tok, row) == "It is sunny.<|im_end|>"  # only the final answer is learned


def test_sharegpt_turns_are_masked_like_openai_ones() -> None:
    tok = build_tokenizer()
    conv = [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"},
            {"from": "gpt", "value": "Hello!"}]
    row = encode_row(tok, {"messages": conv}, "messages", {"messages": "messages"}, max_length=128)
    assert tok.decode(row["input_ids"]).startswith("<|im_start|>system\nBe brief.<|im_end|>")
    assert _labelled(tok, row) == "Hello!<|im_end|>"


def _sharegpt_file(n: int) -> bytes:
    lines = [json.dumps({"conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}]})
             for q, a in QA * (n // len(QA))]
    return "\n".join(lines).encode()


def _alpaca_file(n: int) -> bytes:
    rows = [{"instruction": q, "input": "Answer briefly." if i % 2 else "", "output": a}
            for i, (q, a) in enumerate(QA * (n // len(QA)))]
    return json.dumps(rows).encode()


@pytest.fixture
def tiny_chat_key(home: Path, tmp_path: Path) -> Iterator[str]:
    from core.inference.generation import clear_loaded
    from core.models import catalog
    from core.training import service as training
    from core.training import worker

    clear_loaded()
    training.set_launcher(worker.InlineLauncher())
    yield catalog.add_local_model(str(build_tiny_chat_lm(tmp_path / "tiny-chat", seed=1))).key
    training.set_launcher(None)
    clear_loaded()


@pytest.mark.parametrize(("filename", "make", "fmt"), [
    ("chats.jsonl", _sharegpt_file, "messages"), ("alpaca.json", _alpaca_file, "prompt_completion")])
def test_sharegpt_and_alpaca_files_train_a_causal_lm_run(tiny_chat_key: str, filename: str, make,
                                                         fmt: str) -> None:
    from core.data import datasets
    from core.data.datasets import load_dataset_frame
    from core.run_config import TrainConfig
    from core.training import service as training

    parsed = datasets.read_upload(make(40), filename)
    mapping = datasets.suggest_mapping(parsed.frame)
    assert mapping["task"] == "causal-lm" and mapping["format"] == fmt
    info = datasets.save_dataset(parsed, mapping, name=filename, task="causal-lm",
                                 split=datasets.SplitConfig(0.2, 0.0, seed=1), model_key=tiny_chat_key,
                                 max_length=64)
    frame = load_dataset_frame(info.id)
    if fmt == "messages":
        turns = json.loads(frame["messages"].iloc[0])
        assert [t["role"] for t in turns] == ["user", "assistant"]
    else:  # Alpaca's input is part of the prompt, not dropped
        assert frame["prompt"].str.endswith("\n\nAnswer briefly.").any()
    cfg = TrainConfig.from_preset("full", max_steps=4, batch_size=8, learning_rate=5e-3, eval_every=4,
                                  max_length=64, eval_batch_size=8, warmup_ratio=0.0,
                                  task_options={"sample_tokens": 4, "eval_generations": 1})
    run = training.start_run(training.TrainRequest(dataset_id=info.id, model_key=tiny_chat_key, config=cfg))
    assert run.status == "succeeded", (run.status_reason, training.run_logs(run.id))
    metrics = training.run_metrics(run.id)
    assert ((metrics["split"] == "validation") & (metrics["name"] == "loss")).any()
