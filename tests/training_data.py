"""Helpers for training tests: a tiny encoder in the catalogue and small learnable text datasets.

The tiny model (1-layer BERT, hidden 32) is saved under ``UCLAB_HOME/models/tiny-bert``, where the
catalogue lists it as ``local:tiny-bert``. Datasets are written as a Dataset row plus a canonical
Parquet file (split, text, label), as the dataset service stores them.
"""

from __future__ import annotations

import random

import pandas as pd

from core.config import get_settings
from core.store import orm
from core.store.db import session_scope

TINY_KEY = "local:tiny-bert"
POSITIVE = ["good", "great", "fine", "lovely", "superb", "nice"]
NEGATIVE = ["bad", "awful", "poor", "dull", "boring", "weak"]


class RecordingLauncher:
    """A launcher that starts nothing and remembers which runs it was asked to start."""

    def __init__(self) -> None:
        self.launched: list[int] = []

    def launch(self, run_id: int) -> None:
        self.launched.append(run_id)


def tiny_model() -> str:
    """Build the tiny encoder under UCLAB_HOME/models and return its catalogue key."""
    from tiny_models import build_tiny_encoder

    folder = get_settings().models_dir / "tiny-bert"
    if not (folder / "config.json").exists():
        build_tiny_encoder(folder)
    return TINY_KEY


def text_frame(rows: int = 80, task: str = "classification", seed: int = 0) -> pd.DataFrame:
    """Short reviews whose label follows their words (so a model can learn it), split 60/20/20."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(rows):
        positive = i % 2 == 0
        words = rng.choices(POSITIVE if positive else NEGATIVE, k=rng.randint(2, 9))
        texts.append(f"the film was {' '.join(words)}")
        labels.append(("pos" if positive else "neg") if task == "classification"
                      else (4.0 if positive else 1.0) + rng.random())
    n_train, n_val = int(rows * 0.6), int(rows * 0.2)
    splits = ["train"] * n_train + ["validation"] * n_val + ["test"] * (rows - n_train - n_val)
    return pd.DataFrame({"split": splits, "text": texts, "label": labels})


def add_text_dataset(frame: pd.DataFrame | None = None, task: str = "classification",
                     name: str = "reviews") -> int:
    """Store a canonical frame as a dataset version and return its id."""
    frame = text_frame(task=task) if frame is None else frame
    return add_canonical_dataset(frame, name=name, task=task, mapping={"text": "text", "label": "label"},
                                 suffix="csv")


def add_canonical_dataset(frame: pd.DataFrame, *, name: str, task: str, mapping: dict, suffix: str,
                          info: dict | None = None) -> int:
    """Write a canonical frame (with its split column) as a dataset version's file and row; its id."""
    settings = get_settings()
    settings.datasets_dir.mkdir(parents=True, exist_ok=True)
    with session_scope(write=True) as s:
        row = orm.Dataset(name=name, version=1, task=task, source_filename=f"{name}.{suffix}",
                          content_hash=f"h{random.random()}", path="", mapping=mapping,
                          split_sizes=frame["split"].value_counts().to_dict(), quality={}, info=info or {},
                          row_count=len(frame))
        s.add(row)
        s.flush()
        path = settings.datasets_dir / f"{row.id}.parquet"
        frame.to_parquet(path, index=False)
        row.path = settings.relative(path)
        row.version = row.id
        return row.id
