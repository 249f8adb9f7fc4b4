"""The fast decoding loop: one forward pass per new token over a KV cache, without ``model.generate``.

On a small model on CPU, ``generate``'s per-step machinery (input preparation, cache-position
bookkeeping, generic processors and criteria) costs as much as the model itself. This loop does
the same arithmetic (fp32 weights, the same logits processors, greedy argmax or the seeded
sampler's pick), so greedy text is token for token that of ``generate``; ``bench/generate.py``
measures both side by side.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import DynamicCache, LogitsProcessorList, RepetitionPenaltyLogitsProcessor, StoppingCriteria
from transformers.generation.streamers import BaseStreamer


def decode(model: Any, inputs: dict[str, torch.Tensor], *, max_new_tokens: int, eos_ids: set[int],
           pad_id: int, repetition_penalty: float = 1.0, processors: LogitsProcessorList | None = None,
           stopping: StoppingCriteria | None = None, streamer: BaseStreamer | None = None) -> torch.Tensor:
    """Generate up to ``max_new_tokens`` after the prompt; returns prompt + new ids (finished rows padded)."""
    ids, mask = inputs["input_ids"], inputs.get("attention_mask")
    if mask is None:
        mask = torch.ones_like(ids)
    steps = LogitsProcessorList([RepetitionPenaltyLogitsProcessor(repetition_penalty)]
                                if repetition_penalty != 1.0 else [])
    steps.extend(processors or [])
    eos = torch.tensor(sorted(eos_ids), dtype=ids.dtype, device=ids.device)
    finished = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    new_cache = getattr(model, "new_cache", None)  # an onnxruntime model keeps its own cache
    cache = new_cache() if new_cache is not None else DynamicCache(config=model.config)
    if streamer is not None:
        streamer.put(ids.cpu())
    out = model(input_ids=ids, attention_mask=mask, past_key_values=cache, use_cache=True, logits_to_keep=1)
    sequence = ids
    for step in range(max_new_tokens):
        scores = steps(sequence, out.logits[:, -1, :].float())
        token = torch.where(finished, torch.full_like(finished, pad_id, dtype=ids.dtype),
                            scores.argmax(-1).to(ids.dtype))
        sequence = torch.cat([sequence, token[:, None]], dim=-1)
        if streamer is not None:
            streamer.put(token.cpu())
        finished |= torch.isin(token, eos) if eos.numel() else finished
        if stopping is not None:
            finished |= stopping(sequence, scores).to(finished.device)
        if bool(finished.all()) or step == max_new_tokens - 1:
            break
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
        out = model(input_ids=token[:, None], attention_mask=mask, past_key_values=cache, use_cache=True)
    if streamer is not None:
        streamer.end()
    return sequence
