"""A small Chinese topic dataset (text, label, split) whose topics show in their characters.

Texts are made of a topic's own characters plus shared filler, so a character n-gram model learns
them and a model that reads nothing learns nothing; no two texts are the same.
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd

TOPICS = {"sports": "足球比赛球队进球冠军", "money": "银行存款利息贷款投资",
          "weather": "下雨天气晴朗气温刮风"}
FILLER = "我们你他的了是在有这个很也都"


def chinese_topic_frame(rows_per_topic: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = random.Random(seed)
    records, seen = [], set()
    for label, chars in TOPICS.items():
        made = 0
        while made < rows_per_topic:
            length = rng.randint(6, 12)
            text = "".join(rng.choice(chars if rng.random() < 0.5 else FILLER) for _ in range(length))
            if text in seen:
                continue
            seen.add(text)
            split = "train" if made < rows_per_topic * 0.6 else "validation" if made < rows_per_topic * 0.8 \
                else "test"
            records.append({"split": split, "text": text, "label": label})
            made += 1
    return pd.DataFrame(records)


def beaten_run() -> int:
    """A succeeded classification run whose model guesses at chance, with the worker's real baselines."""
    from training_data import add_text_dataset

    from core.results.evaluation import store_evaluation
    from core.store import runs
    from core.tasks.baselines import fit_baselines
    from core.tasks.metrics import classification_metrics

    frame = chinese_topic_frame()
    dataset_id = add_text_dataset(frame, name="中文主题")
    run = runs.create_run(dataset_id=dataset_id, model_key="minilm-l6", task="classification",
                          config={"max_length": 32}, seed=1)
    train, test = frame[frame.split == "train"], frame[frame.split == "test"]
    labels = sorted(set(frame.label))
    truth = np.array([labels.index(v) for v in test["label"]])
    guess = np.arange(len(test)) % len(labels)  # a model that reads nothing: labels in turn
    proba = np.full((len(test), len(labels)), 0.2)
    proba[np.arange(len(test)), guess] = 0.6
    metrics = classification_metrics(truth, guess, labels, proba)
    predictions = pd.DataFrame({"text": test["text"].to_numpy(), "label": test["label"].to_numpy(),
                                "predicted": [labels[i] for i in guess], "confidence": proba.max(1)})
    predictions["correct"] = predictions["label"] == predictions["predicted"]
    store_evaluation(run.id, "test", "run", metrics, predictions)
    numbers = {k: v for k, v in metrics.items() if isinstance(v, int | float)}
    summary: dict = {"test": numbers, "baselines": {}}
    for name, metrics, predictions in fit_baselines("classification", train, test):
        store_evaluation(run.id, "test", name, metrics, predictions)
        summary["baselines"][name] = {k: v for k, v in metrics.items() if isinstance(v, int | float)}
    assert runs.claim_run(run.id, pid=1)
    runs.transition(run.id, "succeeded", reason="", output_dir=f"runs/{run.id}", summary=summary)
    return run.id
