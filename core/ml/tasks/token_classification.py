"""Token classification (NER): one IOB2 tag per word, a token-classification head on an encoder.

Words are tokenised with ``is_split_into_words=True``; each word's label goes on its first
subword and the rest are ignored in the loss (``task_options["label_all_subwords"]`` labels
them too, B- continued as I-). Evaluation always reads the first subword of each word, so the
scores are per word and entity, as in the CoNLL tables; words cut off by the max length count
as 'O' (their entities as missed), never silently dropped.
"""

from __future__ import annotations

from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from transformers import DataCollatorForTokenClassification
from transformers.utils import logging as hf_logging

from core.errors import ConfigError
from core.ml.models import load_token_classifier, load_tokenizer
from core.ml.tasks.base import FeatureDataset, TaskAdapter, TaskBundle, TaskInputs, read_meta, register
from core.run_config import TrainConfig
from core.tasks import ner, ner_eval
from core.tasks.ner_align import (
    IGNORED,
    align_labels,
    entities_from_tags,
    split_words,
    word_predictions,
)


def load_word_tokenizer(model_dir: Path) -> Any:
    """The model's fast tokenizer, set up to take pre-split words (BPE tokenizers need a prefix space)."""
    tokenizer = load_tokenizer(model_dir)
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(
            "This model has no fast tokenizer, which tagging words needs; pick another encoder."
        )
    if getattr(tokenizer, "add_prefix_space", None) is False:
        from transformers import AutoTokenizer

        # The folder was checked by load_tokenizer; reload with the setting pre-split words need.
        tokenizer = AutoTokenizer.from_pretrained(
            str(model_dir),
            add_prefix_space=True,
            trust_remote_code=False,
            local_files_only=Path(model_dir).is_dir(),
        )
    return tokenizer


def _load_model(model_dir: Path, labels: list[str]) -> Any:
    # The new head is meant to be newly initialised: keep that expected warning out of run logs.
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return load_token_classifier(
            model_dir, dict(enumerate(labels)), {lab: i for i, lab in enumerate(labels)}
        )
    finally:
        hf_logging.set_verbosity(verbosity)


def _features(
    tokenizer: Any, frame: pd.DataFrame, label2id: dict[str, int], max_length: int, label_all_subwords: bool
) -> FeatureDataset:
    words = [list(t) for t in frame["tokens"]]
    enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
    features = []
    for i, tags in enumerate(frame["tags"]):
        feature = {k: enc[k][i] for k in enc.keys()}
        feature["labels"] = align_labels(enc.word_ids(i), list(tags), label_all_subwords, label2id=label2id)
        features.append(feature)
    return FeatureDataset(features)


def _compute_metrics(labels: list[str]) -> Any:
    def compute(pred: Any) -> dict[str, float]:
        logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
        ids, gold_ids = np.asarray(logits).argmax(-1), np.asarray(pred.label_ids)
        y_true, y_pred = [], []
        for row_pred, row_gold in zip(ids, gold_ids, strict=True):
            keep = row_gold != IGNORED
            y_true.append([labels[i] for i in row_gold[keep]])
            y_pred.append([labels[i] for i in row_pred[keep]])
        metrics = ner_eval.report_metrics(ner_eval.entity_report(y_true, y_pred))
        same = [a == b for a, b in zip(chain(*y_true), chain(*y_pred), strict=True)]
        metrics["token_accuracy"] = float(np.mean(same)) if same else 0.0
        return metrics

    return compute


@register("token-classification")
class TokenClassificationAdapter(TaskAdapter):
    """Named-entity tagging of the canonical ``tokens``/``tags`` frames (tags converted to IOB2)."""

    lora_task_type = "TOKEN_CLS"

    def check(self, inputs: TaskInputs) -> None:
        train = ner.prepare_token_frame(inputs.train)
        if train.empty:
            raise ConfigError(
                "The dataset has no usable training sentences. Add sentences or change its split."
            )
        if len(ner.label_list(train["tags"])) < 2:
            raise ConfigError(
                "The training sentences have no entity tags (every tag is O); tag some entities."
            )

    def build(self, inputs: TaskInputs) -> TaskBundle:
        cfg = inputs.config
        label_all = bool(cfg.task_options.get("label_all_subwords", False))
        frames = [
            ner.prepare_token_frame(f) for f in (inputs.train, inputs.validation, inputs.test) if not f.empty
        ]
        # Types seen only in validation/test still get ids, so they can be scored (as missed).
        labels = ner.label_list([tags for f in frames for tags in f["tags"]])
        label2id = {lab: i for i, lab in enumerate(labels)}
        tokenizer = load_word_tokenizer(inputs.model_dir)
        model = _load_model(inputs.model_dir, labels)
        train = ner.prepare_token_frame(inputs.train)
        validation = ner.prepare_token_frame(inputs.validation) if not inputs.validation.empty else train
        meta = {
            "labels": labels,
            "max_length": cfg.max_length,
            "label_all_subwords": label_all,
            "scheme": "IOB2",
        }
        return TaskBundle(
            model=model,
            processing_class=tokenizer,
            train_dataset=_features(tokenizer, train, label2id, cfg.max_length, label_all),
            # Always first-subword labels here, so the selection metric is per word, like the report.
            eval_dataset=_features(tokenizer, validation, label2id, cfg.max_length, False),
            data_collator=DataCollatorForTokenClassification(tokenizer),
            compute_metrics=_compute_metrics(labels),
            metric_for_best_model="entity_f1",
            greater_is_better=True,
            meta=meta,
        )

    def evaluate(
        self,
        model: Any,
        processing_class: Any,
        frame: pd.DataFrame,
        meta: dict[str, Any],
        config: TrainConfig,
    ) -> tuple[dict[str, Any], pd.DataFrame]:
        prepared = ner.prepare_token_frame(frame)
        tokens = [list(t) for t in prepared["tokens"]]
        predicted, scores = predict_words(model, processing_class, tokens, meta, config.eval_batch_size)
        return score_predictions(tokens, [list(t) for t in prepared["tags"]], predicted, scores)

    def baselines(
        self, train: pd.DataFrame, test: pd.DataFrame
    ) -> list[tuple[str, dict[str, Any], pd.DataFrame]]:
        train, test = ner.prepare_token_frame(train), ner.prepare_token_frame(test)
        tokens = [list(t) for t in test["tokens"]]
        predicted = ner_eval.predict_by_lookup(list(train["tokens"]), list(train["tags"]), tokens)
        metrics, predictions = score_predictions(tokens, [list(t) for t in test["tags"]], predicted)
        return [("word_lookup", metrics, predictions)]

    def load(self, output_dir: Path) -> tuple[Any, Any, dict[str, Any]]:
        meta = read_meta(output_dir)
        tokenizer = load_word_tokenizer(output_dir)
        model = _load_model(output_dir, list(meta["labels"]))
        model.eval()
        return model, tokenizer, meta

    def predict_entities(
        self, model: Any, tokenizer: Any, meta: dict[str, Any], text: str
    ) -> list[dict[str, Any]]:
        """See ``predict_text``."""
        return predict_text(model, tokenizer, meta, text)


def score_predictions(
    tokens: list[list[str]],
    gold: list[list[str]],
    predicted: list[list[str]],
    scores: list[list[float]] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Stored metrics (entity report, per type, token confusion by type, error counts) and predictions."""
    report = ner_eval.entity_report(gold, predicted)
    confusion = ner_eval.token_confusion(gold, predicted, by_type=True)
    errors = ner_eval.classify_entity_errors(tokens, gold, predicted)
    flat = [(a, b) for g, p in zip(gold, predicted, strict=True) for a, b in zip(g, p, strict=True)]
    metrics: dict[str, Any] = {
        **ner_eval.report_metrics(report),
        "token_accuracy": float(np.mean([a == b for a, b in flat])) if flat else 0.0,
        "report": report.reset_index().to_dict("records"),
        "per_class": ner_eval.f1_by_type(report).rename(columns={"type": "label"}).to_dict("records"),
        "labels": [str(c) for c in confusion.columns],
        "confusion_matrix": confusion.to_numpy().astype(int).tolist(),
        "error_counts": ner_eval.error_summary(errors).set_index("category")["count"].astype(int).to_dict(),
    }
    predictions = pd.DataFrame(
        {
            "text": [" ".join(t) for t in tokens],
            "tokens": tokens,
            "tags": gold,
            "predicted": predicted,
            "correct": [g == p for g, p in zip(gold, predicted, strict=True)],
        }
    )
    if scores is not None:
        predictions["confidence"] = scores
    return metrics, predictions


@torch.inference_mode()
def predict_words(
    model: Any, tokenizer: Any, tokens: list[list[str]], meta: dict[str, Any], batch_size: int = 64
) -> tuple[list[list[str]], list[list[float]]]:
    """IOB2 tags and their probabilities for each word of each sentence (longest sentences batched first)."""
    model.eval()
    device = next(model.parameters()).device
    labels = dict(enumerate(meta["labels"]))
    enc = tokenizer(
        tokens, is_split_into_words=True, truncation=True, max_length=int(meta.get("max_length", 128))
    )
    order = np.argsort([-len(ids) for ids in enc["input_ids"]], kind="stable")
    collator = DataCollatorForTokenClassification(tokenizer)
    tags: list[list[str]] = [[] for _ in tokens]
    scores: list[list[float]] = [[] for _ in tokens]
    for start in range(0, len(tokens), batch_size):
        index = order[start : start + batch_size]
        batch = collator(
            [
                {k: enc[k][i] for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
                for i in index
            ]
        )
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
        probs = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        for row, i in enumerate(index):
            # Left-padding tokenizers put the padding first: skip it so positions match word_ids.
            skip = probs.shape[1] - len(enc["input_ids"][i]) if tokenizer.padding_side == "left" else 0
            word_tags, word_scores = word_predictions(
                enc.word_ids(int(i)), probs[row][skip:], labels, len(tokens[i])
            )
            tags[i], scores[i] = ner.to_iob2(word_tags), word_scores
    return tags, scores


def predict_text(model: Any, tokenizer: Any, meta: dict[str, Any], text: str) -> list[dict[str, Any]]:
    """The entities in a text: type, text, character start/end and confidence, in reading order."""
    words = split_words(text)
    if not words:
        return []
    tags, scores = predict_words(model, tokenizer, [[w for w, _, _ in words]], meta)
    return entities_from_tags(words, tags[0], scores[0], text)
