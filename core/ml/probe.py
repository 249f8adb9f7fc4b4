"""Short speed probes that say how fast a model trains, predicts or generates on this machine.

Each probe runs one warm-up step and a few timed steps (a few seconds on 2 CPU cores) and
returns figures as plain dicts: ``{"measure", "value", "unit", "details"}``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from core.ml import device as devices
from core.ml.models import load_causal_lm, load_sequence_classifier, load_tokenizer
from core.tasks.chat_template import render_chat

ENCODER_BATCH = 16
ENCODER_TOKENS = 64
ENCODER_STEPS = 3
STEP_BUDGET_S = 4.0  # stop timing early on a slow or busy machine: the probe must stay short
GENERATE_TOKENS = 16
PROBE_PROMPT = "Write one sentence about why small teams should test their models."


def _figure(measure: str, value: float, unit: str, **details: Any) -> dict[str, Any]:
    return {"measure": measure, "value": round(value, 2), "unit": unit, "details": details}


def _autocast(choice: devices.DeviceChoice) -> Any:
    # autocast keeps fp32 master weights, so bf16 speeds training up without hurting it
    if choice.bf16:
        return torch.autocast(device_type=choice.device, dtype=torch.bfloat16)
    return torch.autocast(device_type=choice.device, enabled=False)


def probe_encoder(path: str | Path, choice: devices.DeviceChoice | None = None) -> list[dict[str, Any]]:
    """Training and prediction samples/s at batch 16 x 64 tokens (a two-class head)."""
    choice = choice or devices.choose()
    tokenizer = load_tokenizer(path)
    model = load_sequence_classifier(path, num_labels=2, id2label={0: "no", 1: "yes"},
                                     label2id={"no": 0, "yes": 1},
                                     pad_token_id=tokenizer.pad_token_id).to(choice.device)
    length = min(ENCODER_TOKENS, getattr(model.config, "max_position_embeddings", ENCODER_TOKENS))
    batch = tokenizer([PROBE_PROMPT * 8] * ENCODER_BATCH, truncation=True, max_length=length,
                      padding="max_length", return_tensors="pt").to(choice.device)
    labels = torch.arange(ENCODER_BATCH, device=choice.device) % 2
    details = {"batch_size": ENCODER_BATCH, "tokens": int(batch["input_ids"].shape[1]),
               "device": choice.name}

    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def train_step() -> None:
        with _autocast(choice):
            loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    train_rate, train_steps = _rate(train_step, choice)
    model.eval()

    def predict_step() -> None:
        with torch.inference_mode(), _autocast(choice):
            model(**batch)

    predict_rate, predict_steps = _rate(predict_step, choice)
    return [_figure("train_samples_per_s", train_rate, "samples/s", timed_steps=train_steps, **details),
            _figure("predict_samples_per_s", predict_rate, "samples/s", timed_steps=predict_steps,
                    **details)]


def _rate(step: Any, choice: devices.DeviceChoice) -> tuple[float, int]:
    """Samples/s of a step and how many steps were timed (0: only the slow warm-up step)."""
    start = time.perf_counter()
    step()  # warm-up: allocations and kernel selection are not part of the figure...
    _sync(choice)
    warmup = time.perf_counter() - start
    if warmup > STEP_BUDGET_S:  # ...unless one step is already slow: then it is the (pessimistic) figure
        return ENCODER_BATCH / warmup, 0
    start = time.perf_counter()
    steps = 0
    while steps < ENCODER_STEPS and (steps == 0 or time.perf_counter() - start < STEP_BUDGET_S):
        step()
        steps += 1
    _sync(choice)
    return ENCODER_BATCH * steps / max(time.perf_counter() - start, 1e-9), steps


def _sync(choice: devices.DeviceChoice) -> None:
    if choice.device == "cuda":
        torch.cuda.synchronize()


def probe_causal_lm(path: str | Path, choice: devices.DeviceChoice | None = None) -> list[dict[str, Any]]:
    """Greedy generation tokens/s for 16 new tokens after a short chat prompt."""
    choice = choice or devices.choose()
    tokenizer = load_tokenizer(path)
    model = load_causal_lm(path, dtype=choice.dtype).to(choice.device)
    if getattr(tokenizer, "chat_template", None):
        text = render_chat(tokenizer, [{"role": "user", "content": PROBE_PROMPT}],  # under the budget
                           add_generation_prompt=True).text
        inputs = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    else:
        inputs = tokenizer(PROBE_PROMPT, return_tensors="pt")
    inputs = {k: v.to(choice.device) for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
    prompt_tokens = int(inputs["input_ids"].shape[1])
    common = {"do_sample": False, "pad_token_id": tokenizer.pad_token_id}
    with torch.inference_mode():
        model.generate(**inputs, max_new_tokens=2, **common)  # warm-up
        _sync(choice)
        start = time.perf_counter()
        out = model.generate(**inputs, max_new_tokens=GENERATE_TOKENS, min_new_tokens=GENERATE_TOKENS,
                             **common)
        _sync(choice)
        elapsed = max(time.perf_counter() - start, 1e-9)
    new_tokens = int(out.shape[1]) - prompt_tokens
    return [_figure("generate_tokens_per_s", new_tokens / elapsed, "tokens/s",
                    new_tokens=new_tokens, prompt_tokens=prompt_tokens, device=choice.name)]


def run_probe(path: str | Path, family: str) -> tuple[str, list[dict[str, Any]]]:
    """Probe the model folder as an encoder or a causal LM; return (device name, figures)."""
    from transformers.utils import logging as hf_logging

    choice = devices.choose()
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # the probe's throw-away head is meant to be newly initialised
    hf_logging.disable_progress_bar()
    try:
        figures = probe_causal_lm(path, choice) if family == "causal-lm" else probe_encoder(path, choice)
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    return choice.name, figures
