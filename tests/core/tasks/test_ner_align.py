"""Label alignment to subwords on hand-checked examples; words -> tags -> entity spans with offsets."""

from __future__ import annotations

import pytest

from core.tasks.ner_align import (
    IGNORED,
    align_labels,
    entities_from_tags,
    split_words,
    word_predictions,
)

LABEL2ID = {"O": 0, "B-PER": 1, "I-PER": 2, "B-ORG": 3, "I-ORG": 4}
X = IGNORED


def test_align_labels_first_subword_only():
    # [CLS] Anna Smith ##-## Jones ordered [SEP]: word 1 is three subwords
    word_ids = [None, 0, 1, 1, 1, 2, None]
    tags = ["B-PER", "I-PER", "O"]
    assert align_labels(word_ids, tags, label2id=LABEL2ID) == [X, 1, 2, X, X, 0, X]
    assert align_labels(word_ids, tags, True, label2id=LABEL2ID) == [X, 1, 2, 2, 2, 0, X]


def test_align_labels_all_subwords_continue_a_b_tag_with_i():
    word_ids = [None, 0, 0, 0, 1, None]  # Dell ##ing ##ton Corp
    tags = ["B-ORG", "I-ORG"]
    assert align_labels(word_ids, tags, label2id=LABEL2ID) == [X, 3, X, X, 4, X]
    assert align_labels(word_ids, tags, label_all_subwords=True, label2id=LABEL2ID) == [X, 3, 4, 4, 4, X]


def test_align_labels_with_the_bundled_wordpiece_tokenizer():
    from transformers import AutoTokenizer

    from core.models.assets import minilm_dir

    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    words, tags = ["Zyxwing", "hired", "Anna"], ["B-ORG", "O", "B-PER"]
    encoding = tokenizer(words, is_split_into_words=True)
    pieces = tokenizer.convert_ids_to_tokens(encoding["input_ids"])
    word_ids = encoding.word_ids()
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]" and word_ids[0] is None
    n_first = word_ids.count(0)
    assert n_first > 1  # the made-up company name is split into subwords
    expected = [X, 3] + [X] * (n_first - 1) + [0, 1, X]
    assert align_labels(word_ids, tags, label2id=LABEL2ID) == expected


def test_word_predictions_read_the_first_subword_and_fill_cut_words_with_o():
    id2label = {0: "O", 1: "B-PER", 2: "I-PER"}
    probs = [[1, 0, 0], [0.1, 0.8, 0.1], [0.9, 0.05, 0.05], [0.2, 0.2, 0.6], [1, 0, 0]]
    tags, scores = word_predictions([None, 0, 0, 1, None], probs, id2label, n_words=3)
    assert tags == ["B-PER", "I-PER", "O"]
    assert scores == pytest.approx([0.8, 0.6, 0.0])


def test_split_words_keeps_codes_amounts_and_emails_whole():
    text = "Invoice INV-2041: $1,200.50 to anna@shop.com, O'Neil."
    assert split_words(text) == [
        ("Invoice", 0, 7),
        ("INV-2041", 8, 16),
        (":", 16, 17),
        ("$", 18, 19),
        ("1,200.50", 19, 27),
        ("to", 28, 30),
        ("anna@shop.com", 31, 44),
        (",", 44, 45),
        ("O'Neil", 46, 52),
        (".", 52, 53),
    ]
    for word, start, end in split_words(text):
        assert text[start:end] == word


def test_entities_from_tags_give_offsets_text_and_mean_confidence():
    text = "Call  Anna Smith at Dell today"
    words = split_words(text)
    tags = ["O", "B-PER", "I-PER", "O", "B-ORG", "O"]
    scores = [0.99, 0.9, 0.7, 0.99, 0.6, 0.95]
    assert entities_from_tags(words, tags, scores, text) == [
        {"type": "PER", "text": "Anna Smith", "start": 6, "end": 16, "confidence": 0.8},
        {"type": "ORG", "text": "Dell", "start": 20, "end": 24, "confidence": 0.6},
    ]
    assert (
        entities_from_tags(words, ["O", "I-PER", "I-PER", "O", "O", "O"], scores)[0]["text"] == "Anna Smith"
    )
