"""Issue 22 items 12-14: uploads that broke the reader with a raw exception or a wrong sentence."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.cli import main
from core.data.datasets import SplitConfig, read_upload, save_dataset
from core.errors import DatasetError

TEXTS = [f"review number {i} was {'good' if i % 2 else 'bad'}" for i in range(40)]
LABELS = ["pos" if i % 2 else "neg" for i in range(40)]


def _parquet(**extra: pa.Array) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"text": TEXTS, "label": LABELS, **extra}), buffer)
    return buffer.getvalue()


def test_an_unmapped_binary_parquet_column_is_left_out_with_a_sentence(home: Path) -> None:
    blobs = pa.array([b"\xff\xfe\x00\x81" + bytes([i]) for i in range(40)], pa.binary())
    parsed = read_upload(_parquet(thumbnail=blobs), "with-bytes.parquet")
    assert list(parsed.frame.columns) == ["text", "label"]
    assert any("'thumbnail' holds binary data" in w for w in parsed.warnings)
    saved = save_dataset(parsed, {"text": "text", "label": "label"}, name="b", task="classification",
                         split=SplitConfig())
    assert saved.row_count == 40


def test_a_binary_parquet_column_of_utf8_bytes_is_read_as_text(home: Path) -> None:
    parsed = read_upload(_parquet(note=pa.array([t.encode() for t in TEXTS], pa.binary())), "b.parquet")
    assert parsed.frame["note"].tolist() == TEXTS


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(("name", "body"), [
    ("deep.json", _deep(100_000)),
    ("records.json", '[{"text": "a", "label": ' + _deep(5_000) + "}]"),
    ("deep.jsonl", '{"text": "a", "label": "b"}\n{"text": "c", "label": ' + _deep(100_000) + "}\n"),
])
def test_deeply_nested_json_is_a_sentence_and_exit_2(home: Path, tmp_path: Path, name: str, body: str,
                                                     capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(DatasetError, match="nests lists or objects too deeply"):
        read_upload(body.encode(), name)
    path = tmp_path / name
    path.write_text(body)
    assert main(["datasets", "add", str(path), "--name", "d", "--task", "classification"]) == 2
    err = capsys.readouterr().err
    assert "too deeply" in err and "RecursionError" not in err and "Traceback" not in err


@pytest.mark.parametrize("ends", [b"\r", b"mixed"])
def test_cr_only_and_mixed_line_ends_are_read(home: Path, ends: bytes) -> None:
    lines = [b"text,label", b'"a quoted\rvalue",pos', *[f"{t},{lab}".encode() for t, lab in
                                                         zip(TEXTS, LABELS, strict=True)]]
    if ends == b"mixed":
        data = b"".join(line + (b"\r", b"\n", b"\r\n")[i % 3] for i, line in enumerate(lines))
    else:
        data = b"\r".join(lines) + b"\r"
    parsed = read_upload(data, "mac.csv")
    assert parsed.frame["text"].tolist() == ["a quoted\nvalue", *TEXTS]
    assert parsed.frame["label"].tolist() == ["pos", *LABELS]


def test_cr_only_lines_count_against_the_row_limit(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UCLAB_MAX_ROWS", "10")
    with pytest.raises(DatasetError, match="UCLAB_MAX_ROWS"):
        read_upload(b"text,label\r" + b"a,b\r" * 50, "mac.csv")


def test_a_header_longer_than_64_kb_is_read(home: Path) -> None:
    width = 12_000  # about 130 KB of column names
    header = ",".join(f"feature_{i}" for i in range(width))
    rows = [",".join(str((r * i) % 7) for i in range(width)) for r in range(4)]
    parsed = read_upload(("\n".join([header, *rows]) + "\n").encode(), "wide.csv")
    assert parsed.frame.shape == (4, width) and parsed.has_header
    assert parsed.frame.columns[-1] == f"feature_{width - 1}"
    assert parsed.frame[f"feature_{width - 1}"].tolist() == [(r * (width - 1)) % 7 for r in range(4)]


def test_a_row_longer_than_a_megabyte_reads_like_any_other(home: Path) -> None:
    """Rows past pyarrow's 1 MB block go to pandas' C parser (pyarrow took 13x the file's size in
    memory); the frame is the same as the pyarrow path gives for ordinary rows."""
    long_text = "word " * 400_000  # 2 MB in one cell
    body = (f'text,label,score\n"{long_text}",pos,1\n"two\nlines",NA,2\n,neg,3\n\n"a, b",pos,4\n')
    parsed = read_upload(body.encode(), "huge.csv")
    small = read_upload(body.replace(long_text, "short").encode(), "small.csv")
    assert parsed.frame["text"].iloc[0] == long_text
    assert parsed.frame.iloc[1:].equals(small.frame.iloc[1:])
    assert parsed.frame["score"].tolist() == [1, 2, 3, 4] and parsed.frame["label"].isna().tolist() == [
        False, True, False, False]


def test_the_content_hash_is_the_same_in_chunks(home: Path) -> None:
    """The digest that finds an identical saved version is fed in chunks now: same value as the
    JSON of the whole table at once, so versions saved before still match."""
    import hashlib

    import pandas as pd

    from core.data.datasets import _content_hash

    frame = pd.DataFrame({"text": [f'row {i} é "q" / x' for i in range(250)],
                          "label": [i % 3 for i in range(250)], "score": [i / 7 for i in range(250)]})
    columns = ["text", "label", "score"]
    whole = frame[columns].to_json(orient="records", lines=True, force_ascii=False, double_precision=15,
                                   date_format="iso")
    expected = hashlib.sha256((",".join(columns) + "\n" + whole).encode("utf-8")).hexdigest()
    assert _content_hash(frame, columns, chunk_rows=7) == expected == _content_hash(frame, columns)
    # Texts past the long-text threshold are fed in slices: quotes, slashes, controls, emoji.
    frame.loc[3, "text"] = 'a "long" text / with\nnew lines, \\ tabs\t, \x01, é 中文 😀 ' * 50
    frame.loc[9, "text"] = None
    whole = frame[columns].to_json(orient="records", lines=True, force_ascii=False, double_precision=15,
                                   date_format="iso")
    expected = hashlib.sha256((",".join(columns) + "\n" + whole).encode("utf-8")).hexdigest()
    assert _content_hash(frame, columns, chunk_rows=7, long_chars=64) == expected
    assert _content_hash(frame.astype({"text": object}), columns, long_chars=100) == expected


def test_text_pieces_decode_a_long_value_from_its_buffer_across_character_bounds() -> None:
    import pandas as pd

    from core.text.arrowtext import text_pieces

    value = "é 中文 😀 / \"q\" " * 40
    series = pd.Series(["first", value, None, "last"], dtype="str").iloc[1:]  # a sliced chunk
    pieces = list(text_pieces(series, 0, size=3))
    assert "".join(pieces) == value and len(pieces) > 100
    assert "".join(text_pieces(series, 2, size=5)) == "last"
