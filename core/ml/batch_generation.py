"""Greedy answers and label likelihoods for evaluation, on a model from the shared cache.

``greedy_batch`` answers many stored prompts (``{"text": ...}`` or ``{"messages": [...]}``,
encoded by ``core.ml.generation.prompt_ids`` exactly as the playground does) on the engine the
playground would use for them (``LoadedModel.engine_for``): llama.cpp decoding ``slots`` prompts
together (``core.ml.llama_batch``), or transformers a batch at a time, prompts
sorted by length, left-padded, decoded up to the first end token. Greedy decoding of a
left-padded batch gives the same text as one prompt at a time (``bench/evaluate.py`` checks it on
the real model and measures both engines). ``label_log_likelihoods`` scores each candidate label as
the answer to a
prompt: the summed log-probability of the label's tokens after the prompt, no text parsing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from core.ml.generation import AUTO, LLAMA, LoadedModel, complete_bytes, complete_text, prompt_ids

Progress = Callable[[int, int], None]


def _ids(loaded: LoadedModel, prompt: dict[str, Any]) -> list[int]:
    return prompt_ids(loaded, prompt)


def eos_ids(loaded: LoadedModel) -> set[int]:
    """The token ids that end an answer (the generation config's, else the tokenizer's)."""
    return set(loaded.eos_ids)


def _pad_id(loaded: LoadedModel, eos: set[int]) -> int:
    pad = loaded.hf_tokenizer.pad_token_id
    return int(pad) if pad is not None else next(iter(eos), 0)


@torch.inference_mode()
def greedy_batch(loaded: LoadedModel, prompts: Sequence[dict[str, Any]], max_new_tokens: int,
                 batch_size: int = 8, progress: Progress | None = None, engine: str = AUTO,
                 slots: int | None = None, lanes: int | None = None) -> list[str]:
    """Greedy answers to prompts on ``engine`` (as ``LoadedModel.engine_for`` resolves it): llama.cpp
    ``slots`` sequences at a time on ``lanes`` contexts (its defaults when None), or transformers
    ``batch_size`` at a time holding the model's lock."""
    if not prompts:
        return []
    if loaded.engine_for(engine)[0] == LLAMA:
        llama = loaded.llama()
        pieces = llama.greedy([_ids(loaded, p) for p in prompts], max_new_tokens, loaded.eos_ids, progress,
                              **({"slots": slots} if slots else {}), lanes=lanes)
        return [complete_bytes(b).strip() for b in pieces]
    model, tok = loaded.model, loaded.hf_tokenizer
    eos = eos_ids(loaded)
    pad = _pad_id(loaded, eos)
    answers = [""] * len(prompts)
    with loaded.lock:
        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device
            encoded = [_ids(loaded, p) for p in prompts]
            order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
            done = 0
            for start in range(0, len(order), max(1, batch_size)):
                idx = order[start:start + max(1, batch_size)]
                width = max(len(encoded[i]) for i in idx)
                ids = [[pad] * (width - len(encoded[i])) + encoded[i] for i in idx]
                mask = [[0] * (width - len(encoded[i])) + [1] * len(encoded[i]) for i in idx]
                out = model.generate(input_ids=torch.tensor(ids, device=device),
                                     attention_mask=torch.tensor(mask, device=device),
                                     max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                     use_cache=True, eos_token_id=list(eos) or None, pad_token_id=pad)
                for row, i in zip(out[:, width:].tolist(), idx, strict=True):
                    end = next((k for k, t in enumerate(row) if t in eos), len(row))
                    answers[i] = complete_text(tok.decode(row[:end], skip_special_tokens=True)).strip()
                done += len(idx)
                if progress is not None:
                    progress(done, len(prompts))
        finally:
            model.train(was_training)
    return answers


@torch.inference_mode()
def label_log_likelihoods(loaded: LoadedModel, prompts: Sequence[dict[str, Any]], labels: Sequence[str],
                          progress: Progress | None = None) -> list[list[float]]:
    """Per prompt, the summed log-probability of each label's tokens as the model's answer."""
    model, tok = loaded.model, loaded.hf_tokenizer
    label_ids = [tok(str(lab), add_special_tokens=False)["input_ids"] for lab in labels]
    pad = _pad_id(loaded, eos_ids(loaded))
    out: list[list[float]] = []
    with loaded.lock:
        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device
            for n, prompt in enumerate(prompts, start=1):
                head = _ids(loaded, prompt)
                rows = [head + list(ids) for ids in label_ids]
                width = max(len(r) for r in rows)
                ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=device)
                mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=device)
                logprobs = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), -1)
                scores = []
                for j, lab in enumerate(label_ids):
                    positions = torch.arange(len(head) - 1, len(head) - 1 + len(lab), device=device)
                    targets = torch.tensor(lab, device=device)
                    scores.append(float(logprobs[j, positions, targets].sum()))
                out.append(scores)
                if progress is not None:
                    progress(n, len(prompts))
        finally:
            model.train(was_training)
    return out


def count_tokens(loaded: LoadedModel, texts: Sequence[str]) -> list[int]:
    """Tokens of each text as the model's tokenizer splits it (no special tokens)."""
    return [len(loaded.tokenizer(str(t), add_special_tokens=False)["input_ids"]) for t in texts]


def from_trained(ref: str, model: Any, tokenizer: Any, path: Any, gguf: Path | None = None,
                 gguf_problem: str | None = None) -> LoadedModel:
    """Wrap a model just trained (and saved) in this process for the evaluation path, without reloading.

    It is cast to the precision ``load_model`` gives every cached model here (bf16 where the hardware
    computes it), so the run's answers and its base model's baselines are generated alike.
    """
    from core.ml import device as devices

    choice = devices.choose()
    model = model.to(device=choice.device, dtype=choice.dtype).eval()
    return LoadedModel(ref, tokenizer, choice.name, Path(path), model=model, gguf=gguf,
                       gguf_problem=gguf_problem)
