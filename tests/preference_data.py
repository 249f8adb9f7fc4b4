"""Preference pairs for DPO tests: a learnable pattern (the chosen answer ends with one of four words,
the rejected one with one of four others, every answer as many tokens long with the tiny chat
tokenizer, so no side is preferred for its length), stored as a preference dataset version (prompt as
JSON turns, chosen, rejected)."""

from __future__ import annotations

import json
import random

import pandas as pd

from tests.training_data import add_canonical_dataset

CHOSEN = ["It is Paris.", "It is grapes.", "It is village.", "It is oranges."]
REJECTED = ["It is dog.", "It is wizard.", "It is brown.", "It is lazy."]


def pairs_frame(rows: int = 60, seed: int = 0) -> pd.DataFrame:
    """`rows` pairs split 60/20/20."""
    rng = random.Random(seed)
    prompts, chosen, rejected = [], [], []
    for i in range(rows):
        prompts.append(json.dumps([{"role": "user", "content": f"Question {i}: tell me something."}]))
        chosen.append(rng.choice(CHOSEN))
        rejected.append(rng.choice(REJECTED))
    n_train, n_val = int(rows * 0.6), int(rows * 0.2)
    splits = ["train"] * n_train + ["validation"] * n_val + ["test"] * (rows - n_train - n_val)
    return pd.DataFrame({"split": splits, "prompt": prompts, "chosen": chosen, "rejected": rejected})


def add_pairs_dataset(frame: pd.DataFrame | None = None, name: str = "pairs",
                      info: dict | None = None) -> int:
    """Store a preference dataset version (the canonical columns of core.data.preferences); its id."""
    frame = pairs_frame() if frame is None else frame
    return add_canonical_dataset(
        frame, name=name, task="causal-lm", suffix="jsonl",
        mapping={"format": "preference", "prompt": "prompt", "chosen": "chosen", "rejected": "rejected"},
        info={"preference": {"source": "upload", **(info or {})}})
