"""Baselines: trained on the training rows, judged on the test rows, beaten by nothing simpler."""

from __future__ import annotations

import random

import pandas as pd
import pytest
from training_data import text_frame

from core.tasks.baselines import fit_baselines


def _parts(task: str) -> tuple:
    frame = text_frame(rows=200, task=task)
    return frame[frame["split"] == "train"], frame[frame["split"] == "test"]


def test_classification_baselines_majority_and_tfidf() -> None:
    train, test = _parts("classification")
    results = {name: (metrics, preds)
               for name, metrics, preds in fit_baselines("classification", train, test)}
    assert set(results) == {"majority", "tfidf_logreg"}
    majority, tfidf = results["majority"][0], results["tfidf_logreg"][0]
    assert 0.4 <= majority["accuracy"] <= 0.6  # balanced labels
    assert tfidf["accuracy"] > 0.95  # the label follows the words
    preds = results["tfidf_logreg"][1]
    assert list(preds.columns) == ["text", "label", "predicted", "confidence", "correct"]
    assert len(preds) == len(test) and preds["correct"].mean() == tfidf["accuracy"]


def test_regression_baselines_mean_and_ridge() -> None:
    train, test = _parts("regression")
    results = {name: metrics for name, metrics, _ in fit_baselines("regression", train, test)}
    assert set(results) == {"mean", "tfidf_ridge"}
    assert results["tfidf_ridge"]["mae"] < results["mean"]["mae"]
    assert results["mean"]["r2"] <= 0.05


def test_no_baselines_without_rows_or_for_other_tasks() -> None:
    train, test = _parts("classification")
    assert fit_baselines("classification", train, test.iloc[:0]) == []
    assert fit_baselines("causal-lm", train, test) == []


def _chinese(n: int, seed: int) -> pd.DataFrame:
    rng = random.Random(seed)
    subjects, good, bad = ["电影", "剧情", "演员", "音乐", "画面", "故事"], ["好看", "精彩", "感人"], \
        ["无聊", "难看", "失望"]
    rows = []
    for _ in range(n):
        positive = rng.random() < 0.5
        word = rng.choice(good if positive else bad)
        how, end = rng.choice(["真的", "非常", "有点", ""]), rng.choice(["。", "！", "啊"])
        text = f"{rng.choice(subjects)}{how}{word}{end}"
        rows.append({"text": text, "label": "pos" if positive else "neg"})
    return pd.DataFrame(rows)


def test_text_without_word_separators_gets_character_ngrams() -> None:
    from core.tasks.baselines import _vectorizer

    train, test = _chinese(300, seed=1), _chinese(100, seed=2)
    results = {name: metrics for name, metrics, _ in fit_baselines("classification", train, test)}
    assert set(results) == {"majority", "tfidf_char_logreg"}
    assert results["tfidf_char_logreg"]["accuracy"] > 0.95
    # Word n-grams see each unspaced sentence as one "word" and do far worse on unseen ones.
    from sklearn.linear_model import LogisticRegression

    words = _vectorizer(characters=False)
    clf = LogisticRegression(max_iter=2000).fit(words.fit_transform(train["text"]), train["label"])
    assert (clf.predict(words.transform(test["text"])) == test["label"]).mean() < 0.9
    scores = [part.assign(label=part["label"].eq("pos") * 1.0) for part in (train, test)]
    ridge = {name for name, _, _ in fit_baselines("regression", *scores)}
    assert ridge == {"mean", "tfidf_char_ridge"}


def test_a_saved_keyword_baseline_loads_back_and_a_foreign_type_is_refused(tmp_path) -> None:
    import numpy as np
    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from core.errors import ModelError
    from core.tasks.baselines import TextBaseline, fit_text_baseline

    train = pd.DataFrame({"text": ["球队进球", "比赛冠军", "银行存款", "贷款利息"] * 3,
                          "label": ["sports", "sports", "money", "money"] * 3})
    model = fit_text_baseline(train, ["money", "sports"])
    assert model.name == "tfidf_char_logreg"  # Chinese: character n-grams
    loaded = TextBaseline.load(model.save(tmp_path / "ok"))
    texts = ["足球比赛", "银行利息"]
    assert np.allclose(loaded.predict_proba(texts), model.predict_proba(texts))
    assert [loaded.labels[i] for i in loaded.predict_proba(texts).argmax(1)] == ["sports", "money"]
    hostile = tmp_path / "hostile"
    TextBaseline("tfidf_char_logreg", ("a",), Pipeline([("f", FunctionTransformer(np.load))])).save(hostile)
    assert sio.get_untrusted_types(file=hostile / "model.skops")  # numpy.load would be a callable to trust
    with pytest.raises(ModelError, match="contains types this app does not load"):
        TextBaseline.load(hostile)
