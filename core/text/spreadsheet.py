"""The one formula-escaping rule for every CSV (and any spreadsheet) the app writes.

Spreadsheet programs run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula (OWASP "CSV injection"); such text cells get a leading quote. Numbers stay
numbers. Every export path (the playground downloads, the review votes, ``uclab generate
--history --export``, tabular predictions) goes through :func:`escape_cell` or :func:`csv_bytes`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: Any) -> Any:
    """Prefix a quote to text a spreadsheet would run as a formula; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of the frame with formula-looking text cells and column names escaped."""
    safe = frame.copy()
    safe.columns = [escape_cell(str(c)) for c in safe.columns]
    for col in safe.columns:
        if safe[col].dtype == object or pd.api.types.is_string_dtype(safe[col]):
            safe[col] = safe[col].map(escape_cell)
    return safe


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV of the frame, formulas escaped. Rows end in CRLF, so a cell holding a bare
    carriage return is quoted: unquoted, a spreadsheet starts a new row there, and the rest of
    the cell ("a\\r=HYPERLINK(...)") would become a formula cell of its own."""
    buffer = io.StringIO()
    escape_frame(frame).to_csv(buffer, index=False, lineterminator="\r\n")
    return buffer.getvalue().encode("utf-8")


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write the frame as UTF-8 CSV at `path`, formulas escaped."""
    Path(path).write_bytes(csv_bytes(frame))
