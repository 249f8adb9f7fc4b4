"""Baselines for text tasks, trained on the run's training rows and judged on the same split.

Classification: the majority class and TF-IDF (word 1–2 grams) + logistic regression.
Regression: the training mean and TF-IDF + ridge. Pure scikit-learn, seconds on a CPU.
Text written without spaces between words (Chinese, Japanese, Thai) has no words to count,
so there TF-IDF counts character 1–3 grams instead (the ``tfidf_char_*`` baselines).

The TF-IDF classifier is a ``TextBaseline``: when it beats the fine-tuned model it can be saved
(``model.skops`` + ``baseline.json``, skops only: nothing is unpickled), served and exported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.tasks.metrics import classification_metrics, regression_metrics
from core.text.scripts import has_word_separators

BASELINE_TITLES = {
    "majority": "Majority class",
    "tfidf_logreg": "TF-IDF + logistic regression",
    "mean": "Mean of the training labels",
    "tfidf_ridge": "TF-IDF + ridge regression",
    "tfidf_char_logreg": "TF-IDF (character 1–3 grams) + logistic regression",
    "tfidf_char_ridge": "TF-IDF (character 1–3 grams) + ridge regression",
}
MAX_FEATURES = 50_000
_SAMPLE = 300
SAVABLE = ("tfidf_logreg", "tfidf_char_logreg")  # baselines that can be saved and served
BASELINE_FILE, BASELINE_CONFIG = "model.skops", "baseline.json"


@dataclass(frozen=True)
class TextBaseline:
    """A fitted TF-IDF + logistic regression classifier (a scikit-learn Pipeline) and its labels."""

    name: str
    labels: tuple[str, ...]
    pipeline: Any

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Each text's probability of every label (columns in ``labels`` order)."""
        out = np.zeros((len(texts), len(self.labels)))
        if texts:
            out[:, self.pipeline.classes_] = self.pipeline.predict_proba([str(t) for t in texts])
        return out

    def save(self, folder: Path) -> Path:
        """Write ``model.skops`` and ``baseline.json`` into `folder`; the folder."""
        import skops.io as sio

        folder.mkdir(parents=True, exist_ok=True)
        sio.dump(self.pipeline, folder / BASELINE_FILE)
        (folder / BASELINE_CONFIG).write_text(json.dumps(
            {"name": self.name, "title": BASELINE_TITLES.get(self.name, self.name),
             "labels": list(self.labels), "format": "skops", "estimator": "sklearn Pipeline"},
            ensure_ascii=False, indent=1), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: Path) -> TextBaseline:
        """Load what ``save`` wrote, trusting no type beyond skops' defaults (a TF-IDF + logistic
        regression pipeline needs none more); a file that asks for any other type is refused."""
        import skops.io as sio

        from core.errors import ModelError

        path = folder / BASELINE_FILE
        if not path.is_file() or not (folder / BASELINE_CONFIG).is_file():
            raise ModelError(f"The folder {folder} holds no saved baseline; save it again.")
        unexpected = sio.get_untrusted_types(file=path)
        if unexpected:
            raise ModelError(f"The file {path} contains types this app does not load "
                             f"({', '.join(unexpected[:3])}); save the baseline again.")
        config = json.loads((folder / BASELINE_CONFIG).read_text(encoding="utf-8"))
        return cls(str(config["name"]), tuple(config["labels"]), sio.load(path, trusted=[]))


def fit_text_baseline(train: pd.DataFrame, labels: list[str], characters: bool | None = None) -> TextBaseline:
    """TF-IDF (words, or character 1–3 grams for unspaced scripts) + logistic regression on train."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    train = train.dropna(subset=["text", "label"])
    characters = uses_characters(train["text"]) if characters is None else characters
    index = {lab: i for i, lab in enumerate(labels)}
    y_train = train["label"].astype(str).map(index).to_numpy()
    pipeline = Pipeline([("tfidf", _vectorizer(characters)),
                         ("logreg", LogisticRegression(max_iter=2000, C=4.0))])
    pipeline.fit(train["text"].astype(str).tolist(), y_train)
    return TextBaseline("tfidf_char_logreg" if characters else "tfidf_logreg", tuple(labels), pipeline)


def class_labels(train: pd.DataFrame, test: pd.DataFrame) -> list[str]:
    """The sorted labels of a classification dataset's training and evaluation rows."""
    return sorted({str(v) for v in pd.concat([train["label"], test["label"]]).dropna()})


def uses_characters(texts: pd.Series) -> bool:
    """Whether the texts have no word separators, so n-grams must be of characters."""
    sample = texts.astype(str)
    if len(sample) > _SAMPLE:
        sample = sample.sample(n=_SAMPLE, random_state=0)
    return not has_word_separators(sample.tolist())


def _vectorizer(characters: bool = False) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    if characters:
        return TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=1,
                               max_features=MAX_FEATURES, sublinear_tf=True)
    return TfidfVectorizer(ngram_range=(1, 2), min_df=1, max_features=MAX_FEATURES, sublinear_tf=True)


def _classification(train: pd.DataFrame, test: pd.DataFrame
                    ) -> list[tuple[str, dict[str, Any], pd.DataFrame]]:
    labels = class_labels(train, test)
    index = {lab: i for i, lab in enumerate(labels)}
    y_train = train["label"].astype(str).map(index).to_numpy()
    y_test = test["label"].astype(str).map(index).to_numpy()
    results = []

    majority = int(pd.Series(y_train).mode().iloc[0])
    proba = np.zeros((len(test), len(labels)))
    counts = np.bincount(y_train, minlength=len(labels)) / len(y_train)
    proba[:] = counts  # the class frequencies: the best a text-blind model can say
    pred = np.full(len(test), majority)
    results.append(("majority", classification_metrics(y_test, pred, labels, proba),
                    _frame(test, labels, pred, proba)))

    model = fit_text_baseline(train, labels)  # classes absent from training keep probability 0
    proba = model.predict_proba(test["text"].astype(str).tolist())
    pred = proba.argmax(1)
    results.append((model.name, classification_metrics(y_test, pred, labels, proba),
                    _frame(test, labels, pred, proba)))
    return results


def _frame(test: pd.DataFrame, labels: list[str], pred: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    out = pd.DataFrame({"text": test["text"].astype(str).to_numpy(),
                        "label": test["label"].astype(str).to_numpy(),
                        "predicted": [labels[i] for i in pred],
                        "confidence": proba.max(1) if len(proba) else []})
    out["correct"] = out["label"] == out["predicted"]
    return out


def _regression(train: pd.DataFrame, test: pd.DataFrame
                ) -> list[tuple[str, dict[str, Any], pd.DataFrame]]:
    from sklearn.linear_model import Ridge


    y_train = train["label"].astype(float).to_numpy()
    y_test = test["label"].astype(float).to_numpy()
    mean_pred = np.full(len(test), y_train.mean())
    characters = uses_characters(train["text"])
    vec = _vectorizer(characters)
    ridge = Ridge(alpha=1.0).fit(vec.fit_transform(train["text"].astype(str)), y_train)
    ridge_pred = ridge.predict(vec.transform(test["text"].astype(str)))
    results = []
    ridge_name = "tfidf_char_ridge" if characters else "tfidf_ridge"
    for name, pred in (("mean", mean_pred), (ridge_name, ridge_pred)):
        frame = pd.DataFrame({"text": test["text"].astype(str).to_numpy(), "label": y_test,
                              "predicted": pred})
        frame["error"] = frame["predicted"] - frame["label"]
        results.append((name, regression_metrics(y_test, pred), frame))
    return results


def fit_baselines(task: str, train: pd.DataFrame, test: pd.DataFrame
                  ) -> list[tuple[str, dict[str, Any], pd.DataFrame]]:
    """(name, metrics, predictions) of each baseline for a classification or regression dataset."""
    train = train.dropna(subset=["text", "label"])
    test = test.dropna(subset=["text", "label"])
    if train.empty or test.empty:
        return []
    if task == "regression":
        return _regression(train, test)
    if task == "classification":
        return _classification(train, test)
    return []
