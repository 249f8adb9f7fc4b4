"""Issue 16 item 2: decompression bombs are refused from their metadata, before they are read,
and workbooks are parsed within a cell count and a time budget; every refusal names its setting."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from core.data import upload_limits
from core.data.ingest import read_upload
from core.errors import DatasetError


def _parquet(rows: int) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"text": pa.array(np.zeros(rows, dtype=np.int8)),
                             "label": pa.array(np.ones(rows, dtype=np.int8))}), buffer)
    return buffer.getvalue()


def _workbook(rows: int, cols: int = 3) -> bytes:
    book = Workbook()
    sheet = book.active
    for r in range(rows):
        sheet.append([f"r{r}c{c}" for c in range(cols)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _rewrite_sheet(data: bytes, change) -> bytes:  # noqa: ANN001
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = change(body)
            dst.writestr(info, body)
    return out.getvalue()


def test_a_parquet_bomb_is_refused_from_its_footer(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = _parquet(20_000_000)
    assert len(bomb) < 2_000_000  # a small file ...
    read_calls: list[int] = []
    monkeypatch.setattr("pandas.read_parquet", lambda *a, **k: read_calls.append(1))
    with pytest.raises(DatasetError, match=r"holds 20,000,000 rows, over the limit of 2,000,000 rows "
                                           r"\(UCLAB_MAX_ROWS\)"):
        read_upload(bomb, "bomb.parquet")
    assert read_calls == []  # ... refused without being read


def test_parquet_limits_are_settings(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _parquet(5000)
    assert len(read_upload(data, "ok.parquet").frame) == 5000
    monkeypatch.setenv("UCLAB_MAX_ROWS", "1000")
    with pytest.raises(DatasetError, match="UCLAB_MAX_ROWS"):
        read_upload(data, "rows.parquet")
    monkeypatch.delenv("UCLAB_MAX_ROWS")
    monkeypatch.setenv("UCLAB_MAX_EXPANDED_MB", "1")
    buffer = io.BytesIO()
    pq.write_table(pa.table({"x": np.random.default_rng(0).random(300_000)}), buffer)
    with pytest.raises(DatasetError, match=r"expands to \d+ MB, over the limit of 1 MB "
                                           r"\(UCLAB_MAX_EXPANDED_MB"):
        read_upload(buffer.getvalue(), "wide.parquet")


def test_a_workbook_declaring_a_huge_sheet_is_refused_before_parsing(home: Path) -> None:
    huge = _rewrite_sheet(_workbook(3), lambda b: re.sub(rb'<dimension ref="[^"]*"',
                                                          b'<dimension ref="A1:Z1048576"', b))
    with pytest.raises(DatasetError, match=r"has 27,262,976 cells in a sheet.*UCLAB_MAX_CELLS"):
        read_upload(huge, "huge.xlsx")


def test_a_workbook_is_parsed_within_the_cell_and_time_budgets(home: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    no_dimension = _rewrite_sheet(_workbook(800), lambda b: re.sub(rb'<dimension ref="[^"]*"/>', b"", b))
    assert len(read_upload(no_dimension, "fine.xlsx").frame) == 799  # header + 799 rows
    monkeypatch.setenv("UCLAB_MAX_CELLS", "1000")
    with pytest.raises(DatasetError, match="UCLAB_MAX_CELLS"):
        read_upload(no_dimension, "cells.xlsx")
    monkeypatch.delenv("UCLAB_MAX_CELLS")

    class Clock:  # every look at the clock is 100 s later
        now = 0.0

        def monotonic(self) -> float:
            self.now += 100
            return self.now

    monkeypatch.setattr(upload_limits, "time", Clock())
    with pytest.raises(DatasetError, match=r"took longer than 60 s \(UCLAB_PARSE_SECONDS\)"):
        read_upload(no_dimension, "slow.xlsx")


def test_text_files_count_their_lines_first(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UCLAB_MAX_ROWS", "10")
    lines = b"text,label\n" + b"a,b\n" * 50
    with pytest.raises(DatasetError, match="holds 50 rows.*UCLAB_MAX_ROWS"):
        read_upload(lines, "many.csv")
    assert "UCLAB_MAX_ROWS" in upload_limits.limits_sentence()


def test_one_time_budget_covers_every_sheet_of_a_workbook(home: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Six sheets of empty rows: each sheet alone fits the budget, all six together do not."""
    book = Workbook()
    for index in range(6):
        sheet = book.active if index == 0 else book.create_sheet(f"s{index}")
        for row in range(1, 601):
            sheet.cell(row=row, column=1).value = ""  # stored, read back as empty
        sheet.cell(row=600, column=2).value = None
    buffer = io.BytesIO()
    book.save(buffer)

    class Clock:  # every look at the clock is 10 s later: 3 looks per sheet, 30 s a sheet
        now = 0.0

        def monotonic(self) -> float:
            self.now += 10
            return self.now

    monkeypatch.setenv("UCLAB_PARSE_SECONDS", "60")
    monkeypatch.setattr(upload_limits, "time", Clock())
    with pytest.raises(DatasetError, match=r"took longer than 60 s \(UCLAB_PARSE_SECONDS\)"):
        read_upload(buffer.getvalue(), "sheets.xlsx")
