"""Sentence embeddings from an encoder: the mean of its last hidden states over the real tokens."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def encoder_of(model: Any) -> Any:
    """The bare encoder under a task head (a classifier's or tagger's ``base_model``), or the model itself."""
    base = getattr(model, "base_model", None)
    return base if base is not None and base is not model else model


def embed(model: Any, tokenizer: Any, texts: list[str], *, max_length: int = 256,
          batch_size: int = 32, normalize: bool = True) -> tuple[np.ndarray, int]:
    """One float32 vector per text (L2-normalised unless told otherwise) and the number of tokens read."""
    encoder = encoder_of(model).eval()
    device = next(encoder.parameters()).device
    vectors: list[np.ndarray] = []
    tokens = 0
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(texts[start:start + batch_size], truncation=True, max_length=max_length,
                            padding=True, return_tensors="pt").to(device)
            hidden = encoder(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            if normalize:
                mean = torch.nn.functional.normalize(mean, dim=-1)
            vectors.append(mean.float().cpu().numpy())
            tokens += int(enc["attention_mask"].sum())
    return np.concatenate(vectors), tokens

