"""Parsing uploads: every format, encodings, delimiters, headers, and each bad input's sentence."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from core.data.ingest import column_types, display_name, read_upload
from core.errors import DatasetError

CSV = b"text,label\nI loved this film,pos\nDull and far too long,neg\nA fine cast,pos\n"


def _saved_nothing(home: Path) -> None:
    from core.data.datasets import list_datasets

    folder = home / "datasets"
    assert not folder.exists() or not any(folder.iterdir())
    assert list_datasets() == []


def test_csv_with_header(home: Path) -> None:
    parsed = read_upload(CSV, "reviews.csv")
    assert list(parsed.frame.columns) == ["text", "label"]
    assert parsed.frame["label"].tolist() == ["pos", "neg", "pos"]
    assert (parsed.file_format, parsed.encoding, parsed.delimiter, parsed.has_header) == (
        "csv", "utf-8", ",", True)
    assert parsed.warnings == ()


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_detected(home: Path, delimiter: str) -> None:
    data = f"text{delimiter}label\nGreat, really great{delimiter}pos\nBad, sadly{delimiter}neg\n"
    parsed = read_upload(data.encode(), "reviews.csv")
    assert parsed.delimiter == delimiter
    assert parsed.frame["text"].tolist() == ["Great, really great", "Bad, sadly"]


def test_tsv_and_quoted_newlines(home: Path) -> None:
    parsed = read_upload(b'text\tlabel\n"two\nlines"\tpos\nb\tneg\n', "data.tsv")
    assert parsed.delimiter == "\t"
    assert parsed.frame["text"].iloc[0] == "two\nlines"


def test_file_without_header_gets_column_names(home: Path) -> None:
    parsed = read_upload(b"I loved it,pos\nawful,neg\ngreat stuff,pos\n", "raw.csv")
    assert not parsed.has_header
    assert list(parsed.frame.columns) == ["column_1", "column_2"]
    assert len(parsed.frame) == 3
    assert "looks like data" in parsed.warnings[0]


def test_numeric_first_row_is_data(home: Path) -> None:
    parsed = read_upload(b"5,great movie\n1,bad movie\n3,fine\n", "raw.csv")
    assert not parsed.has_header and len(parsed.frame) == 3


def test_utf8_bom(home: Path) -> None:
    parsed = read_upload("text,label\ncafé,pos\nb,neg\n".encode("utf-8-sig"), "bom.csv")
    assert parsed.encoding == "utf-8-sig"
    assert list(parsed.frame.columns) == ["text", "label"]
    assert parsed.frame["text"].iloc[0] == "café"


def test_cp1252_is_read_with_a_warning(home: Path) -> None:
    parsed = read_upload("text,label\ncafé “quoted”,pos\nb,neg\n".encode("cp1252"), "win.csv")
    assert parsed.encoding == "cp1252"
    assert parsed.frame["text"].iloc[0] == "café “quoted”"
    assert "not UTF-8" in parsed.warnings[0] and "line 2" in parsed.warnings[0]


def test_non_utf8_byte_far_into_the_file(home: Path) -> None:
    rows = b"".join(f"plain review {i},pos\n".encode() for i in range(20_000))
    parsed = read_upload(b"text,label\n" + rows + "café,neg\n".encode("cp1252"), "late.csv")
    assert parsed.encoding == "cp1252" and parsed.frame["text"].iloc[-1] == "café"
    assert "line 20002" in parsed.warnings[0]


def test_utf16_with_bom(home: Path) -> None:
    parsed = read_upload("text,label\nünï,pos\nb,neg\n".encode("utf-16"), "u16.csv")
    assert parsed.frame["text"].iloc[0] == "ünï"


def test_json_array_and_jsonl_keep_lists(home: Path) -> None:
    records = [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]
    parsed = read_upload(json.dumps(records).encode(), "r.json")
    assert parsed.frame.to_dict("records") == records
    lines = b'{"tokens": ["Ann", "paid"], "tags": ["B-PERSON", "O"]}\n\n{"tokens": ["Hi"], "tags": ["O"]}\n'
    parsed = read_upload(lines, "ner.jsonl")
    assert parsed.frame["tokens"].iloc[0] == ["Ann", "paid"]
    assert column_types(parsed.frame)["type"].tolist() == ["list", "list"]


def test_json_lines_named_json_is_read(home: Path) -> None:
    parsed = read_upload(b'{"text": "a"}\n{"text": "b"}\n', "r.json")
    assert parsed.file_format == "jsonl" and len(parsed.frame) == 2


def test_parquet_and_excel(home: Path) -> None:
    frame = pd.DataFrame({"text": ["a", "b"], "stars": [1, 5]})
    buf = io.BytesIO()
    frame.to_parquet(buf)
    assert read_upload(buf.getvalue(), "x.parquet").frame["stars"].tolist() == [1, 5]
    buf = io.BytesIO()
    frame.to_excel(buf, index=False)
    parsed = read_upload(buf.getvalue(), "x.xlsx")
    assert list(parsed.frame.columns) == ["text", "stars"]
    assert parsed.frame["stars"].tolist() == [1, 5]


def test_column_types_for_the_preview(home: Path) -> None:
    frame = pd.DataFrame({"text": [f"review number {i} is here" for i in range(30)],
                          "label": ["pos", "neg"] * 15, "stars": list(range(30)),
                          "mixed": ["1", "2", "three"] * 10, "empty": [None] * 30})
    types = column_types(frame).set_index("column")
    assert types.loc["text", "type"] == "text"
    assert types.loc["label", "type"] == "category"
    assert types.loc["stars", "type"] == "integer"
    assert types.loc["mixed", "type"] == "mixed"
    assert types.loc["empty", "type"] == "empty" and types.loc["empty", "non_null"] == 0
    assert types.loc["label", "example"] == "pos"


def test_upload_name_is_only_displayed() -> None:
    assert display_name("../../etc/passwd.csv") == "passwd.csv"
    assert display_name("C:\\Users\\me\\data.csv") == "data.csv"
    assert display_name("a\x00b.csv") == "ab.csv"


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("data.csv", CSV)
    return buf.getvalue()


BAD = [
    (b"", "x.csv", "'x.csv' is empty"),
    (b"   \n\n", "x.csv", "'x.csv' is empty"),
    (b"text,label\n", "x.csv", "has column names (text, label) but no data rows"),
    (b"text,label\na,pos\nb,neg,extra\nc,pos\n", "x.csv",
     "Line 3 of 'x.csv' has 3 fields but the table has 2"),
    (b"text,label\na,pos\nb,neg\nc\n", "x.csv", "Line 4 of 'x.csv' has 1 field but the table has 2"),
    (b"text,label\nab\x81\x8d\x9d,pos\n", "x.csv",
     "is not UTF-8 (byte 0x81 on line 2) and does not read as text in any encoding"),
    (_zip_bytes(), "x.csv", "is a ZIP archive (or an Excel workbook) renamed .csv"),
    (gzip.compress(CSV), "x.csv", "is a gzip-compressed archive renamed .csv"),
    (b"\x00\x01\x02binary\x00", "x.csv", "is binary data, not a text table"),
    (CSV, "x.parquet",
     "is named .parquet but is not a Parquet file (it looks like text starting with 'text,label')"),
    (b"PAR1garbagePAR1", "x.parquet", "looks like Parquet but cannot be read"),
    (CSV, "x.xlsx", "is named .xlsx but is not an Excel workbook"),
    (CSV, "x.xls", "is an old Excel .xls file"),
    (CSV, "x.docx", "'.docx' files are not supported"),
    (b'[{"text": "a"}, 5]', "x.json", "Item 2 of the JSON array in 'x.json' is not a record"),
    (b'{"text": "a",}', "x.json", "'x.json' is not valid JSON"),
    (b'{"text": "a"}\n{"text": \n', "x.jsonl", "Line 2 of 'x.jsonl' is not valid JSON"),
    (b"[]", "x.json", "'x.json' holds no records"),
]


@pytest.mark.parametrize(("data", "name", "message"), BAD, ids=[b[2][:30] for b in BAD])
def test_bad_input_gets_one_sentence_and_nothing_is_written(home: Path, data: bytes, name: str,
                                                            message: str) -> None:
    with pytest.raises(DatasetError) as err:
        read_upload(data, name)
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    _saved_nothing(home)


def test_file_over_the_upload_limit(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UCLAB_UPLOAD_LIMIT_MB", "1")
    data = b"text,label\n" + b"some words here,pos\n" * 60_000
    with pytest.raises(DatasetError, match=r"over the upload limit of 1 MB"):
        read_upload(data, "big.csv")
    _saved_nothing(home)


def test_conll_uploads_become_one_row_per_sentence(home) -> None:
    data = b"-DOCSTART- O\n\nAlice B-PER\npaid O\nAcme B-ORG\n\nBob B-PER\ncalled O\n"
    for filename in ("tickets.conll", "tickets.txt"):
        parsed = read_upload(data, filename)
        assert parsed.file_format == "conll"
        assert parsed.frame["tokens"].tolist() == [["Alice", "paid", "Acme"], ["Bob", "called"]]
        assert parsed.frame["tags"].tolist() == [["B-PER", "O", "B-ORG"], ["B-PER", "O"]]


def test_item12_bidi_controls_are_stripped_and_long_names_keep_their_extension(home: Path) -> None:
    """Issue 16 item 12: U+202E and friends never reach a stored name; the extension is read
    before a long name is cut to 200 characters."""
    assert display_name("invoice\u202egpj.csv") == "invoicegpj.csv"
    assert display_name("\u2066a\u2069\u200fb\u061c.csv") == "ab.csv"
    long_name = "x" * 300 + ".csv"
    shown = display_name(long_name)
    assert len(shown) == 200 and shown.endswith("….csv")
    parsed = read_upload(CSV, long_name)
    assert parsed.file_format == "csv" and parsed.filename == shown
    with pytest.raises(DatasetError, match="'.exe' files are not supported"):
        read_upload(CSV, "y" * 300 + ".exe")
    assert "\u202e" not in read_upload(CSV, "re\u202eport.csv").filename  # what save_dataset stores
    from ui.dataset_form import default_name

    assert default_name("../re\u202eport_2024.csv") == "report 2024"  # the dataset name offered


def test_item11_a_csv_row_over_the_arrow_block_size_is_read(home: Path) -> None:
    """Issue 16 item 11: pyarrow refused rows over its 1 MB block ('straddling object')."""
    big = "x" * (3 * 1024 * 1024)
    data = f'text,label\n"{big}",pos\nshort,neg\n'.encode()
    parsed = read_upload(data, "big.csv")
    assert len(parsed.frame) == 2 and len(parsed.frame["text"].iloc[0]) == len(big)
