"""Chinese NER written one character per line: read in any encoding, BMES tags, spans and highlights."""

from __future__ import annotations

from pathlib import Path

from core.data.ingest import read_upload
from core.inference.ner_predict import entities_from_tags, split_words
from core.tasks.ner import detect_scheme, join_tokens, to_iob2
from core.tasks.ner_eval import entity_report, report_metrics

SENTENCES = [("张三在上海工作。", ["B-PER", "E-PER", "O", "B-LOC", "E-LOC", "O", "O", "O"]),
             ("北京是中国的首都。", ["B-LOC", "E-LOC", "O", "B-LOC", "E-LOC", "O", "O", "O", "O"]),
             ("李四去了东京。", ["B-PER", "E-PER", "O", "O", "B-LOC", "E-LOC", "O"])]


def _conll(encoding: str) -> bytes:
    blocks = ["\n".join(f"{ch} {tag}" for ch, tag in zip(text, tags, strict=True))
              for text, tags in SENTENCES]
    return ("\n\n".join(blocks) + "\n").encode(encoding)


def test_character_per_line_files_are_one_row_per_sentence_in_any_encoding(home: Path) -> None:
    for encoding, codec in (("utf-8", "utf-8"), ("gbk", "gbk")):
        parsed = read_upload(_conll(encoding) * 4, "msra.txt")
        assert parsed.file_format == "conll" and parsed.encoding == codec
        assert parsed.frame["tokens"].iloc[0] == list(SENTENCES[0][0])


def test_bmes_tags_are_read_as_iob2_entities() -> None:
    tags = SENTENCES[0][1]
    assert detect_scheme([tags]) == "IOBES"
    assert to_iob2(["B-LOC", "M-LOC", "E-LOC", "S-PER"], "IOBES") == ["B-LOC", "I-LOC", "I-LOC", "B-PER"]


def test_characters_join_without_spaces_and_entities_land_on_characters() -> None:
    from ui.ner_view import spans_as_entities

    text, entities = spans_as_entities(list(SENTENCES[0][0]), SENTENCES[0][1])
    assert text == "张三在上海工作。"
    assert [(e["type"], text[e["start"]:e["end"]]) for e in entities] == [("PER", "张三"), ("LOC", "上海")]
    mixed, starts = join_tokens(["Anna", "在", "上", "海"])
    assert mixed == "Anna 在上海" and starts == [0, 5, 6, 7]


def test_typed_chinese_text_is_split_into_characters_for_the_tagger() -> None:
    words = split_words("张三在上海")
    assert [w for w, _, _ in words] == list("张三在上海")
    found = entities_from_tags(words, ["B-PER", "I-PER", "O", "B-LOC", "I-LOC"], [0.9] * 5, "张三在上海")
    assert [(e["type"], e["text"]) for e in found] == [("PER", "张三"), ("LOC", "上海")]
    assert [w for w, _, _ in split_words("INV-2041 in 東京")] == ["INV-2041", "in", "東", "京"]


def test_seqeval_scores_character_tags() -> None:
    gold = [to_iob2(tags, "IOBES") for _, tags in SENTENCES]
    pred = [list(g) for g in gold]
    pred[2] = ["O"] * len(pred[2])  # the tagger missed both entities of the last sentence
    metrics = report_metrics(entity_report(gold, pred))
    assert metrics["entity_precision"] == 1.0 and round(metrics["entity_recall"], 3) == round(4 / 6, 3)
