"""Budgets an upload must fit before and while it is parsed (decompression bombs).

A small compressed file can expand to far more than the server's memory: a 0.4 MB Parquet file
held 20 M rows (3.5 GB once read), an 8.5 MB workbook took 162 s of CPU. So the Parquet footer
(rows, uncompressed bytes) and the workbook's zip directory and sheet dimensions are checked
before anything is read, text files' lines are counted, and workbooks are parsed row by row
against a cell count and a time budget. The limits are settings (``core.config``).
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from core import config
from core.config import Settings, get_settings
from core.errors import DatasetError

_DIMENSION = re.compile(rb'<dimension ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')


def limits_sentence(settings: Settings | None = None) -> str:
    """The budgets in one sentence, for the upload form."""
    s = settings or get_settings()
    return (f"Uploads may hold up to {s.max_rows:,} rows and {s.max_expanded_mb:,} MB of data once "
            f"unpacked, workbooks up to {s.max_cells:,} cells read within {s.parse_seconds} s "
            "(settings UCLAB_MAX_ROWS, UCLAB_MAX_EXPANDED_MB, UCLAB_MAX_CELLS, UCLAB_PARSE_SECONDS).")


def _too_big(name: str, what: str, limit: str, setting: str) -> DatasetError:
    return DatasetError(f"'{name}' {what}, over the limit of {limit} ({setting}); upload a smaller "
                        f"part of the data, or raise {setting} if this machine has the memory.")


def check_rows(name: str, rows: int, settings: Settings | None = None) -> None:
    """DatasetError when a table has more rows than UCLAB_MAX_ROWS allows."""
    s = settings or get_settings()
    if rows > s.max_rows:
        raise _too_big(name, f"holds {rows:,} rows", f"{s.max_rows:,} rows", config.MAX_ROWS_VARIABLE)


def check_text_lines(data: bytes, name: str) -> None:
    """Count line ends before parsing a CSV, TSV or JSON Lines file (one row per line at most)."""
    check_rows(name, max(data.count(b"\n"), data.count(b"\r")) - 1)  # Mac files end lines with CR


def check_parquet(data: bytes, name: str) -> None:
    """Read only the Parquet footer: rows and uncompressed bytes must fit the budgets."""
    import pyarrow.parquet as pq

    s = get_settings()
    try:
        meta = pq.ParquetFile(io.BytesIO(data)).metadata
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for damaged footers
        raise DatasetError(f"'{name}' looks like Parquet but cannot be read (its footer is "
                           "damaged); the file may be truncated, so export it again.") from exc
    check_rows(name, meta.num_rows, s)
    expanded = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if expanded > s.max_expanded_mb * 2**20:
        raise _too_big(name, f"expands to {expanded / 2**20:,.0f} MB", f"{s.max_expanded_mb:,} MB",
                       config.MAX_EXPANDED_VARIABLE)


def check_workbook(data: bytes, name: str) -> None:
    """Read only the zip directory and each sheet's declared dimension."""
    s = get_settings()
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
        infos = book.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise DatasetError(f"'{name}' cannot be read as an Excel workbook (its zip directory is "
                           "damaged); open it in Excel and save it again as .xlsx.") from exc
    expanded = sum(i.file_size for i in infos)
    if expanded > s.max_expanded_mb * 2**20:
        raise _too_big(name, f"expands to {expanded / 2**20:,.0f} MB", f"{s.max_expanded_mb:,} MB",
                       config.MAX_EXPANDED_VARIABLE)
    for info in infos:
        if not (info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")):
            continue
        with book.open(info) as sheet:
            head = sheet.read(4096)
        found = _DIMENSION.search(head)
        if found and found.group(4):
            rows = int(found.group(4)) - int(found.group(2)) + 1
            cells = rows * (_column(found.group(3)) - _column(found.group(1)) + 1)
            check_rows(name, rows - 1, s)
            _check_cells(name, cells, s)


def _column(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _check_cells(name: str, cells: int, s: Settings) -> None:
    if cells > s.max_cells:
        raise _too_big(name, f"has {cells:,} cells in a sheet", f"{s.max_cells:,} cells",
                       config.MAX_CELLS_VARIABLE)


@dataclass
class ParseBudget:
    """What one upload may still spend: a deadline and the cells read so far, across every sheet
    of a workbook (a budget per sheet let 6 sheets of empty rows take 6 times the limit)."""

    deadline: float
    cells: int = 0


def start_budget(settings: Settings | None = None) -> ParseBudget:
    """A budget that starts now and lasts UCLAB_PARSE_SECONDS."""
    s = settings or get_settings()
    return ParseBudget(time.monotonic() + s.parse_seconds)


def budgeted_rows(rows: Iterator[tuple[Any, ...]], name: str,
                  budget: ParseBudget | None = None) -> Iterator[tuple[Any, ...]]:
    """Pass a sheet's rows through while the cell count and the time budget last (``budget``
    shared by the sheets of one workbook; a fresh one when left out)."""
    s = get_settings()
    budget = budget or start_budget(s)
    for i, row in enumerate(rows):
        budget.cells += len(row)
        if i % 256 == 0:
            _check_cells(name, budget.cells, s)
            check_rows(name, i, s)
            if time.monotonic() > budget.deadline:
                raise DatasetError(f"Reading '{name}' took longer than {s.parse_seconds} s "
                                   "(UCLAB_PARSE_SECONDS); save the sheet as CSV and upload that, "
                                   "or raise the setting.")
        yield row
