"""A small Chinese topic dataset (text, label, split) whose topics show in their characters.

Texts are made of a topic's own characters plus shared filler, so a character n-gram model learns
them and a model that reads nothing learns nothing; no two texts are the same.
"""

from __future__ import annotations

import random

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
