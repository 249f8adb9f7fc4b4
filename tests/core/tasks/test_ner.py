"""NER data: every format parses to the same sentences; schemes; each tag problem names its sentence."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from core.data import ner_checks
from core.errors import DatasetError
from core.tasks import ner

SENTENCES = [
    (
        ["Anna", "Smith", "ordered", "a", "Dell", "XPS", "."],
        ["B-PER", "I-PER", "O", "O", "B-PROD", "I-PROD", "O"],
    ),
    (["Refund", "sent", "on", "3", "May"], ["O", "O", "O", "B-DATE", "I-DATE"]),
]

CONLL = """-DOCSTART- -X- -X- O

Anna NNP B-NP B-PER
Smith NNP I-NP I-PER
ordered VBD B-VP O
a DT B-NP O
Dell NNP I-NP B-PROD
XPS NNP I-NP I-PROD
. . O O

Refund\tNN\tO
sent\tVBD\tO
on\tIN\tO
3\tCD\tB-DATE
May\tNNP\tI-DATE


"""


def as_pairs(frame: pd.DataFrame) -> list[tuple[list[str], list[str]]]:
    return [(list(t), list(g)) for t, g in zip(frame["tokens"], frame["tags"], strict=True)]


def test_conll_text_parses_to_sentences_with_the_tag_from_the_last_column():
    assert as_pairs(ner.parse_conll(CONLL)) == SENTENCES


def test_every_format_parses_to_the_same_sentences(tmp_path):
    jsonl = "\n".join(json.dumps({"tokens": t, "tags": g}) for t, g in SENTENCES).encode()
    rows = pd.DataFrame(
        [
            {"sentence_id": f"s{i}", "token": tok, "tag": tag}
            for i, (t, g) in enumerate(SENTENCES)
            for tok, tag in zip(t, g, strict=True)
        ]
    )
    csv_frame = pd.read_csv(io.StringIO(rows.to_csv(index=False)))
    parquet = tmp_path / "rows.parquet"
    rows.to_parquet(parquet)
    listed = pd.DataFrame({"words": [t for t, _ in SENTENCES], "labels": [g for _, g in SENTENCES]})
    spaced = pd.DataFrame(
        {"tokens": [" ".join(t) for t, _ in SENTENCES], "tags": [json.dumps(g) for _, g in SENTENCES]}
    )

    results = {
        "conll": ner.read_token_file(CONLL.encode(), "train.conll"),
        "jsonl": ner.read_token_file(jsonl, "train.jsonl"),
        "csv rows": ner.frame_from_token_rows(csv_frame, "sentence_id", "token", "tag"),
        "parquet rows": ner.normalize_token_frame(pd.read_parquet(parquet), "token", "tag"),
        "list columns": ner.normalize_token_frame(listed, "words", "labels"),
        "text cells": ner.normalize_token_frame(spaced),
    }
    for name, frame in results.items():
        assert as_pairs(frame) == SENTENCES, name


def test_token_rows_forward_fill_sentence_ids_and_keep_the_split():
    rows = pd.DataFrame(
        {
            "Sentence #": ["Sentence: 1", None, "Sentence: 2", None],
            # 2024.0: what pandas reads when a number sits in a column with blanks
            "Word": pd.Series(["Paris", 2024.0, "Hi", "Bob"], dtype=object),
            "Tag": ["B-LOC", "B-DATE", "O", "B-PER"],
            "split": ["train", "train", "test", "test"],
        }
    )
    frame = ner.normalize_token_frame(rows, "Word", "Tag")  # finds "Sentence #" by itself
    assert as_pairs(frame) == [(["Paris", "2024"], ["B-LOC", "B-DATE"]), (["Hi", "Bob"], ["O", "B-PER"])]
    assert list(frame["split"]) == ["train", "test"]


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"x,y\n1,2", "data.xlsx", "is not a token file"),
        (b"\n\n-DOCSTART- O\n\n", "empty.conll", "has no sentences"),
        (b'{"tokens": ["a"]}\nnot json', "bad.jsonl", "Line 2"),
        (b"\x00\x01binary", "model.conll", "is not a text file"),
    ],
)
def test_unreadable_token_files_raise_a_dataset_error(data, name, words):
    with pytest.raises(DatasetError, match=words):
        ner.read_token_file(data, name)


def test_token_rows_without_a_sentence_column_ask_for_one():
    with pytest.raises(DatasetError, match="sentence id column"):
        ner.normalize_token_frame(pd.DataFrame({"tokens": ["a", "b"], "tags": ["O", "O"]}))


@pytest.mark.parametrize(
    ("tags", "scheme"),
    [
        ([["B-PER", "I-PER", "O", "B-LOC"]], "IOB2"),
        ([["I-PER", "I-PER", "O", "I-LOC", "B-LOC"]], "IOB1"),
        ([["B-PER", "E-PER", "O", "S-LOC"]], "IOBES"),
        ([["PER", "PER", "O", "LOC"]], "plain"),
        ([["O", "O"]], "IOB2"),
    ],
)
def test_detect_scheme(tags, scheme):
    assert ner.detect_scheme(tags) == scheme


@pytest.mark.parametrize(
    ("tags", "scheme"),
    [
        (["B-PER", "I-PER", "O", "B-LOC", "I-LOC"], "IOB2"),
        (["I-PER", "I-PER", "O", "I-LOC", "I-LOC"], "IOB1"),
        (["B-PER", "E-PER", "O", "B-LOC", "E-LOC"], "IOBES"),
        (["PER", "PER", "O", "LOC", "LOC"], "plain"),
    ],
)
def test_every_scheme_converts_to_the_same_iob2(tags, scheme):
    assert ner.to_iob2(tags, scheme) == ["B-PER", "I-PER", "O", "B-LOC", "I-LOC"]


def test_conversion_keeps_touching_entities_apart():
    assert ner.to_iob2(["I-PER", "B-PER", "I-PER"], "IOB1") == ["B-PER", "B-PER", "I-PER"]
    assert ner.to_iob2(["S-PER", "S-PER", "U-LOC"], "IOBES") == ["B-PER", "B-PER", "B-LOC"]
    assert ner.to_iob2(["B-PER", "O", "I-PER"]) == ["B-PER", "O", "B-PER"]  # repaired orphan
    assert ner.entity_spans(["O", "B-PER", "I-PER", "B-PER", "O", "I-LOC"]) == [
        ("PER", 1, 3),
        ("PER", 3, 4),
        ("LOC", 5, 6),
    ]
    assert ner.label_list([["B-LOC", "O"], ["B-PER", "I-PER"]]) == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def by_code(findings):
    return {f.code: f for f in findings}


def test_each_tag_problem_names_its_sentence_and_the_tokens_around_it():
    frame = pd.DataFrame(
        {
            "tokens": [
                ["fine", "Paris"],
                ["two", "tokens"],
                [],
                ["we", "ship", "to", "Lyon", "today"],
                ["ok"],
                ["Bob", "called"],
            ],
            "tags": [["O", "B-LOC"], ["O"], [], ["O", "O", "O", "I-LOC", "O"], ["O"], ["X-PER", "O"]],
        }
    )
    found = by_code(ner_checks.find_tag_problems(frame))
    assert set(found) == {"length_mismatch", "empty_sentence", "orphan_inside", "unknown_tag"}
    assert found["length_mismatch"].example["sentence"] == 2
    assert found["length_mismatch"].severity == "blocking"
    assert found["empty_sentence"].example["sentence"] == 3
    orphan = found["orphan_inside"]
    assert orphan.example["sentence"] == 4 and orphan.example["token"] == "Lyon"
    assert orphan.example["context"] == "we ship to [Lyon] today"
    assert "sentence 4" in orphan.message and "'I-LOC' after 'O'" in orphan.message
    assert found["unknown_tag"].example["sentence"] == 6 and "'X-PER'" in found["unknown_tag"].message


def test_iob1_inside_starts_are_not_problems_but_a_missing_prefix_is():
    iob1 = pd.DataFrame({"tokens": [["a", "b", "c"]] * 3, "tags": [["I-PER", "O", "I-LOC"]] * 3})
    assert ner_checks.find_tag_problems(iob1) == []
    mixed = pd.DataFrame({"tokens": [["a", "b"], ["c", "d"]], "tags": [["B-PER", "O"], ["O", "LOC"]]})
    assert by_code(ner_checks.find_tag_problems(mixed))["unknown_tag"].example["sentence"] == 2


def make_frame(n_train: int, n_rare: int) -> pd.DataFrame:
    rows = [(["Anna", "paid"], ["B-PER", "O"], "train")] * n_train
    rows += [(["in", "Oslo"], ["O", "B-LOC"], "train")] * n_rare
    rows += [(["Bob", "left", "Oslo"], ["B-PER", "O", "B-LOC"], "test")] * 4
    return pd.DataFrame(rows, columns=["tokens", "tags", "split"])


def test_check_token_frame_reports_splits_entity_counts_and_rare_types():
    found = by_code(ner_checks.check_token_frame(make_frame(12, 3), {}))
    assert found["split_sizes"].example["splits"] == [
        {"split": "train", "sentences": 15, "tokens": 30, "entities": 15},
        {"split": "test", "sentences": 4, "tokens": 12, "entities": 8},
    ]
    assert found["entity_counts"].example["counts"] == {
        "PER": {"train": 12, "test": 4, "total": 16},
        "LOC": {"train": 3, "test": 4, "total": 7},
    }
    rare = found["rare_entity_types"]
    assert rare.severity == "warning" and rare.example["types"] == ["LOC (3 to learn from)"]
    assert found["tag_scheme"].example["scheme"] == "IOB2"


def test_check_token_frame_reads_raw_rows_through_the_mapping_and_blocks_without_entities():
    rows = pd.DataFrame({"sid": [1, 1, 2], "w": ["a", "b", "c"], "t": ["O", "O", "O"]})
    found = by_code(ner_checks.check_token_frame(rows, {"tokens": "w", "tags": "t", "sentence": "sid"}))
    assert found["no_entities"].severity == "blocking"
    assert found["split_sizes"].count == 2


class FakeTokenizer:
    """Splits every word into two subwords and adds [CLS]/[SEP], like a WordPiece tokenizer would."""

    def __call__(self, batch, is_split_into_words, truncation):
        assert is_split_into_words and not truncation
        return {"input_ids": [[0] * (2 * len(words) + 2) for words in batch]}


def test_check_token_frame_measures_subword_lengths_against_the_max_length():
    frame = make_frame(12, 12)  # lengths: 2 words -> 6 subwords, 3 words -> 8
    found = by_code(ner_checks.check_token_frame(frame, {}, tokenizer=FakeTokenizer(), max_length=7))
    lengths = {"median": 6, "p95": 8, "max": 8, "max_length": 7, "measured": 28}
    assert found["subword_lengths"].example == lengths
    too_long = found["too_long"]
    assert too_long.count == 4 and too_long.example["sentence"] == 25
    assert "rare_entity_types" not in found


def test_the_dataset_hook_numbers_sentences_by_file_row_and_measures_with_the_catalogue_tokenizer():
    # What core.data.datasets hands the hook: canonical columns, the split, _row, and a dropped (None) row.
    frame = pd.DataFrame(
        {
            "tokens": [["Anna", "paid"], None, ["we", "ship", "to", "Lyon"], ["a"] * 40],
            "tags": [["B-PER", "O"], None, ["O", "O", "O", "I-LOC"], ["O"] * 40],
            "split": ["train"] * 4,
            "_row": [1, 2, 3, 7],
        }
    )
    found = by_code(
        ner_checks.check_token_frame(
            frame, {"tokens": "tokens", "tags": "tags"}, model_key="minilm-l6", max_length=16
        )
    )
    assert found["orphan_inside"].example["sentence"] == 3
    assert found["empty_sentence"].example["sentence"] == 2
    assert found["too_long"].example == {"sentence": 7, "length": 42, "sentences": [7]}
    assert found["subword_lengths"].example["measured"] == 3


def test_looks_like_conll_tells_token_files_from_spreadsheets():
    assert ner.looks_like_conll(CONLL)
    assert not ner.looks_like_conll("text,label\nthe cat sat,pos\nI am sad,neg\n")
    assert not ner.looks_like_conll("just one line of prose\nand another line of prose\n")
