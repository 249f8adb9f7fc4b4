"""transformers' ``generate`` behind the generation path (the ``exact`` engine): loaded only when used.

``core.ml.generation`` imports this module when a request asks for the exact engine (or llama.cpp
cannot answer), so a server answering with llama.cpp never imports torch or transformers.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.generation.streamers import BaseStreamer

from core.generation_settings import GenerationSettings, ModelSource
from core.ml.models import load_causal_lm


def load_weights(source: ModelSource, choice: Any) -> Any:
    """The model's transformers weights on ``choice``'s device (LoRA merged)."""
    # bf16 weights only where the hardware computes bf16 natively (device.py decides); else fp32
    model = load_causal_lm(source.path, dtype=choice.dtype)
    if source.adapter_path is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(source.adapter_path)).merge_and_unload()
    return model.to(choice.device).eval()


class SeededSampler(LogitsProcessor):
    """Samples the next token with its own generator and leaves only that token for the greedy pick."""

    def __init__(self, settings: GenerationSettings, device: torch.device) -> None:
        warpers: list[Any] = [TemperatureLogitsWarper(settings.temperature)]
        if settings.top_k > 0:
            warpers.append(TopKLogitsWarper(settings.top_k))
        if settings.top_p < 1:
            warpers.append(TopPLogitsWarper(settings.top_p))
        self.warpers = LogitsProcessorList(warpers)
        self.generator = torch.Generator(device=device).manual_seed(int(settings.seed or 0))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        probs = torch.softmax(self.warpers(input_ids, scores).float(), dim=-1)
        chosen = torch.multinomial(probs, num_samples=1, generator=self.generator)
        return torch.full_like(scores, float("-inf")).scatter_(1, chosen, 0.0)


class _Streamer(BaseStreamer):
    def __init__(self, rows: Any) -> None:
        self.rows, self.prompt_seen = rows, False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # generate() first hands over the prompt
            self.prompt_seen = True
            return
        rows = self.rows
        rows.first_token_at = rows.first_token_at or time.perf_counter()
        for i, token in enumerate(value.reshape(-1).tolist()):
            if rows.done[i]:
                continue
            if token in rows.eos:
                rows.done[i] = True
                rows.emit(i, final=True)
                continue
            rows.ids[i].append(token)
            rows.emit(i, final=False)

    def end(self) -> None:
        for i in range(self.rows.n):
            if not self.rows.done[i]:
                self.rows.emit(i, final=True)


class _Stop(StoppingCriteria):
    """Ends a sequence once its newest tokens contain a stop sequence; ends all when cancelled."""

    def __init__(self, rows: Any, prompt_len: int, cancel: Any) -> None:
        self.rows, self.prompt_len, self.cancel = rows, prompt_len, cancel
        self.window = max((len(s) for s in rows.stops), default=0) + 4

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        if self.cancel.is_set():
            return torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        flags = [False] * input_ids.shape[0]
        if self.rows.stops:
            tails = input_ids[:, max(self.prompt_len, input_ids.shape[1] - self.window):].tolist()
            for i, tail in enumerate(tails):
                text = self.rows.tokenizer.decode(tail, skip_special_tokens=True)
                flags[i] = any(s in text for s in self.rows.stops)
        return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)


def generate_exact(loaded: Any, encoded: dict[str, Any], settings: GenerationSettings, rows: Any,
                   cancel: Any) -> None:
    """transformers' own generate loop (the caller holds the model's lock)."""
    model, tok = loaded.model, loaded.hf_tokenizer
    dev = next(model.parameters()).device
    inputs = {k: v.to(dev) for k, v in encoded.items()}
    if rows.n > 1:  # one batch: the prompt repeated, each row sampled on its own
        inputs = {k: v.repeat(rows.n, 1) for k, v in inputs.items()}
    prompt_len = inputs["input_ids"].shape[1]
    eos_ids = rows.eos
    config = GenerationConfig(max_new_tokens=settings.max_new_tokens, do_sample=False, num_beams=1,
                              repetition_penalty=settings.repetition_penalty, use_cache=True,
                              eos_token_id=list(eos_ids) or None,
                              pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else next(
                                  iter(eos_ids), 0))
    processors = LogitsProcessorList([] if settings.greedy else [SeededSampler(settings, dev)])
    model.generate(**inputs, generation_config=config, logits_processor=processors,
                   stopping_criteria=StoppingCriteriaList([_Stop(rows, prompt_len, cancel)]),
                   streamer=_Streamer(rows))
