"""Between words and subwords: label alignment for training, and words -> tags -> entity spans.

Pure Python (no torch), so each step is tested by hand; the tagger (``core.ml.tasks.
token_classification``) and the entities service (``core.inference.ner_predict``) both use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from core.tasks.ner import entity_spans

IGNORED = -100  # the label id the loss (and the metrics) skip
# A Chinese character or kana (those scripts are tagged one character at a time), a word
# (letters/digits, kept whole across inner - ' . , / @ as in "INV-2041", "1,200.50",
# "anna@shop.com") or one punctuation character.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_LETTERS = rf"(?:(?![{_CJK}])\w)+"
_WORD = re.compile(rf"[{_CJK}]|{_LETTERS}(?:[-'’.,/@&]{_LETTERS})*|[^\w\s]")


def align_labels(
    word_ids: Sequence[int | None],
    word_labels: Sequence[str],
    label_all_subwords: bool = False,
    *,
    label2id: Mapping[str, int],
) -> list[int]:
    """Label ids per subword from a tokenizer's ``word_ids()``: special tokens get -100.

    The first subword of a word gets the word's label; the others get -100, or with
    ``label_all_subwords`` the word's label again, a B- turned into the I- of its type so a
    word is never split into several entities.
    """
    labels: list[int] = []
    previous: int | None = None
    for word in word_ids:
        if word is None:
            labels.append(IGNORED)
        elif word != previous:
            labels.append(label2id[word_labels[word]])
        elif label_all_subwords:
            tag = word_labels[word]
            labels.append(label2id["I-" + tag[2:]] if tag.startswith("B-") else label2id[tag])
        else:
            labels.append(IGNORED)
        previous = word
    return labels


def word_predictions(
    word_ids: Sequence[int | None],
    subword_probs: Sequence[Sequence[float]],
    id2label: Mapping[int, str],
    n_words: int,
) -> tuple[list[str], list[float]]:
    """Each word's tag and probability, read from its first subword (the one trained with a label).

    Words cut off by the max length get 'O' with probability 0.
    """
    tags, scores = ["O"] * n_words, [0.0] * n_words
    seen: set[int] = set()
    for position, word in enumerate(word_ids):
        if word is None or word in seen or word >= n_words:
            continue
        seen.add(word)
        probs = list(subword_probs[position])
        best = max(range(len(probs)), key=probs.__getitem__)
        tags[word], scores[word] = id2label[best], float(probs[best])
    return tags, scores


def split_words(text: str) -> list[tuple[str, int, int]]:
    """Words and punctuation of a text with their character offsets (start, end exclusive)."""
    return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def entities_from_tags(
    words: Sequence[tuple[str, int, int]],
    tags: Sequence[str],
    scores: Sequence[float],
    text: str | None = None,
) -> list[dict[str, Any]]:
    """Entities with type, text, character offsets and confidence (the mean probability of their words).

    Tags in any scheme are read as IOB2 (an I- that follows nothing starts an entity). The entity
    text is cut from ``text`` when given (keeping its spacing), else the words joined by spaces.
    """
    entities = []
    for kind, first, last in entity_spans(list(tags)):
        start, end = words[first][1], words[last - 1][2]
        span_text = text[start:end] if text is not None else " ".join(w[0] for w in words[first:last])
        confidence = sum(scores[first:last]) / (last - first)
        entities.append(
            {
                "type": kind,
                "text": span_text,
                "start": start,
                "end": end,
                "confidence": round(float(confidence), 4),
            }
        )
    return entities
