"""Turn the bytes of an uploaded file into a DataFrame, or one sentence saying why not.

Formats: CSV, TSV, JSON (array of records), JSONL, Parquet and Excel ``.xlsx``, also inside a
``.gz`` or a ``.zip`` holding one table; CSV/TSV may be separated by runs of spaces, and Orange
``.tab`` files lose their two extra header rows. The upload's name only picks the format and is
shown back to the user; it never becomes a path.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import Any

import pandas as pd

from core.config import get_settings
from core.data import upload_limits as limits
from core.data.canonical import short
from core.entities import Finding
from core.errors import DatasetError
from core.tasks.ner import looks_like_conll, read_token_file
from core.text.encoding import (
    Decoding,
    check_encoding_name,
    decode_bytes,
    encoding_label,
    utf16_without_bom,
)
from core.text.jsonl import read_jsonl
from core.text.textfile import (
    drop_orange_header_rows,
    infer_type,
    looks_like_header,
    orange_header_rows,
    read_delimited,
    read_whitespace_table,
    unique_names,
)

FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json",
           ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet",
           ".xlsx": "xlsx", ".conll": "conll", ".conllu": "conll", ".iob": "conll",
           ".iob2": "conll", ".bio": "conll", ".bioes": "conll", ".ner": "conll"}
SUPPORTED = ("CSV, TSV, JSON, JSONL, Parquet, Excel .xlsx or CoNLL token files (or one of them in a "
             ".gz or .zip)")
ARCHIVES = (".gz", ".zip")
UPLOAD_EXTENSIONS = sorted({ext.lstrip(".") for ext in (*FORMATS, *ARCHIVES)})  # for file uploaders

# Leading bytes of files people rename by mistake: (magic, what it is, what to do).
_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (or an Excel workbook)",
     "unzip it first, or upload an Excel workbook with the .xlsx extension"),
    (b"\x1f\x8b", "a gzip-compressed archive", "decompress it first and upload the file inside"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it first and upload the file inside"),
    (b"PAR1", "a Parquet file", "upload it with the .parquet extension"),
    (b"\xd0\xcf\x11\xe0", "an old Office file (.xls/.doc)",
     "open it in Excel and save it as .xlsx or CSV UTF-8"),
    (b"%PDF", "a PDF document", "export the table as CSV instead"),
    (b"\x89PNG", "a PNG image", "upload the table as CSV instead"),
    (b"\xff\xd8\xff", "a JPEG image", "upload the table as CSV instead"),
    (b"SQLite format 3\x00", "an SQLite database", "export the table as CSV first"),
    (b"\x7fELF", "a program (ELF binary)", "upload a data file instead"),
)


@dataclass(frozen=True)
class ParsedFile:
    """An uploaded table, parsed, with how it was read and what looked odd."""

    frame: pd.DataFrame
    filename: str
    file_format: str
    encoding: str | None
    delimiter: str | None
    has_header: bool
    warnings: tuple[str, ...] = ()
    encoding_uncertain: str | None = None  # a sentence when the guessed encoding may be wrong
    notes: tuple[str, ...] = ()  # calm facts about the reading (a confidently guessed encoding)

    @property
    def encoding_label(self) -> str:
        """What people call the encoding: 'GBK (Chinese, simplified)'."""
        return encoding_label(self.encoding)


MAX_NAME_CHARS = 200
# Control characters and the bidirectional overrides/isolates/marks (U+202E shows
# "report\u202Eexe.csv" as "reportvsc.exe"): never kept in a stored or shown name.
_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _clean_name(filename: str) -> str:
    name = PurePath(str(filename).replace("\\", "/")).name
    return _UNSAFE_NAME_CHARS.sub("", name).strip()


def display_name(filename: str) -> str:
    """The upload's base name, cleaned for display (it is never used as a path): no control or
    bidi characters, at most 200 characters with the extension kept when it is cut."""
    name = _clean_name(filename)
    if len(name) > MAX_NAME_CHARS:
        suffix = PurePath(name).suffix
        suffix = suffix if len(suffix) <= 16 else ""
        name = name[:MAX_NAME_CHARS - len(suffix) - 1] + "…" + suffix
    return name or "upload"


def read_upload(data: bytes, filename: str, encoding: str | None = None) -> ParsedFile:
    """Parse an uploaded file; raise DatasetError with one sentence when it cannot be used.

    ``encoding`` overrides the guessed text encoding (one of ``core.text.encoding.ENCODINGS``).
    """
    name = display_name(filename)
    limit = get_settings().upload_limit_bytes
    if len(data) > limit:
        raise DatasetError(
            f"'{name}' is {len(data) / 2**20:.1f} MB, over the upload limit of {limit // 2**20} MB; "
            "upload a smaller file or raise UCLAB_UPLOAD_LIMIT_MB.")
    suffix = PurePath(_clean_name(filename)).suffix.lower()  # read before the name is cut
    if suffix in ARCHIVES:
        inner, inner_name, note = unpack_archive(data, name, limit)
        parsed = read_upload(inner, inner_name, encoding)
        return replace(parsed, filename=name, warnings=(note, *parsed.warnings))
    if suffix == ".xls":
        raise DatasetError(f"'{name}' is an old Excel .xls file; open it in Excel and save it "
                           "as .xlsx or as CSV UTF-8, then upload that.")
    if suffix not in FORMATS:
        shown = f"'{suffix}' files" if suffix else "Files without an extension"
        raise DatasetError(f"{shown} are not supported ('{name}'); upload {SUPPORTED}.")
    if not data[:65536].strip() and not data.strip():  # strip() copies: only when the head is blank
        raise DatasetError(f"'{name}' is empty; upload a file with a header row and data rows.")
    fmt = FORMATS[suffix]
    if fmt == "parquet":
        parsed = _read_parquet(data, name)
    elif fmt == "xlsx":
        parsed = _read_excel(data, name)
    else:
        _refuse_binary(data, name, suffix, encoding)
        if fmt != "json":
            limits.check_text_lines(data, name)
        if fmt in ("conll", "json", "jsonl") or suffix == ".txt":
            text, how = decode_bytes(data, name, encoding)
        if fmt == "conll" or (suffix == ".txt" and _looks_like_conll(text)):
            parsed = _read_token_file(text, name, how)
        elif fmt in ("json", "jsonl"):
            reader = _read_json if fmt == "json" else _read_jsonl
            parsed = reader(text, name, how.encoding, list(how.warnings))
        else:
            frame, delimiter, has_header, how, warnings = read_delimited(
                data, name, default_delimiter="\t" if fmt == "tsv" else ",", encoding=encoding)
            parsed = ParsedFile(frame, name, fmt, how.encoding, delimiter, has_header, tuple(warnings))
            parsed = (_space_separated(parsed, data, encoding) if frame.shape[1] == 1
                      else _orange_tab(parsed))
        parsed = replace(parsed, encoding_uncertain=how.uncertain, notes=how.notes)
    return _finish(parsed)


def unpack_archive(data: bytes, name: str, limit: int) -> tuple[bytes, str, str]:
    """The one table inside a .gz or .zip upload: its bytes, its name and a note saying so."""
    if name.lower().endswith(".gz"):
        inner_name = name[:-3] or "upload"
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
                inner = stream.read(limit + 1)
        except (OSError, EOFError) as exc:
            raise DatasetError(f"'{name}' is not a readable gzip file ({_first_line(exc)}); "
                               "compress it again or upload the table itself.") from exc
    else:
        try:
            book = zipfile.ZipFile(io.BytesIO(data))
            members = [m for m in book.infolist() if not m.is_dir() and not PurePath(m.filename).name
                       .startswith(".") and not m.filename.startswith("__MACOSX/")]
        except zipfile.BadZipFile as exc:
            raise DatasetError(f"'{name}' is not a readable ZIP archive; zip it again or upload "
                               "the table itself.") from exc
        tables = [m for m in members if PurePath(m.filename).suffix.lower() in FORMATS]
        if len(tables) != 1:
            found = ", ".join(display_name(m.filename) for m in members[:5]) or "nothing"
            raise DatasetError(f"'{name}' must hold exactly one table file, but it holds {found}; "
                               "zip only the table, or upload it on its own.")
        with book.open(tables[0]) as stream:
            inner = stream.read(limit + 1)  # never more than the limit, whatever the archive claims
        inner_name = display_name(tables[0].filename)
    if len(inner) > limit:
        raise DatasetError(f"'{name}' unpacks to more than the upload limit of {limit // 2**20} MB; "
                           "upload a smaller table or raise UCLAB_UPLOAD_LIMIT_MB.")
    if PurePath(inner_name).suffix.lower() not in FORMATS:
        inner_name += ".csv"  # a bare 'data.gz': read it as delimited text
    return inner, inner_name, f"Read '{inner_name}' from the compressed file '{name}'."


def _space_separated(parsed: ParsedFile, data: bytes, encoding: str | None) -> ParsedFile:
    """A one-column read of a table whose values are separated by spaces, read again by spaces."""
    text, _how = decode_bytes(data, parsed.filename, encoding)
    found = read_whitespace_table(text)
    if found is None:
        return parsed
    frame, has_header = found
    return replace(parsed, frame=frame, delimiter=" ", has_header=has_header,
                   warnings=parsed.warnings + ("The values are separated by spaces; each run of spaces "
                                               "was read as one column break.",))


def _orange_tab(parsed: ParsedFile) -> ParsedFile:
    """An Orange .tab file: drop its type and role rows below the header (they are not data)."""
    if not parsed.has_header:
        return parsed
    target = orange_header_rows(parsed.frame)
    if target is None:
        return parsed
    note = "This is an Orange .tab file: its two rows of column types and roles were skipped"
    note += f"; Orange marks '{target}' as the class column." if target else "."
    return replace(parsed, frame=drop_orange_header_rows(parsed.frame), file_format="orange tab",
                   warnings=parsed.warnings + (note,))


_JOINERS = (" ", ";", ":", "|", "~", "^", "/", "#")


def single_column_findings(parsed: ParsedFile) -> list[Finding]:
    """A file read as one column whose values all hold the same separator: likely a misread table."""
    frame = parsed.frame
    if frame.shape[1] != 1 or parsed.file_format not in ("csv", "tsv") or len(frame) < 2:
        return []
    header = str(frame.columns[0])
    values = frame.iloc[:200, 0].dropna().astype(str)
    for joiner in _JOINERS:
        counts = values.map(lambda v, j=joiner: len(v.strip().split(j)) if j != " " else len(v.split()))
        width = len(header.split(joiner) if joiner != " " else header.split())
        if width >= 2 and len(counts) and (counts == width).mean() >= 0.9:
            shown = "spaces" if joiner == " " else f"'{joiner}'"
            return [Finding("warning", "single_column",
                            f"The file was read as a single column '{short(header, 60)}', but every row "
                            f"looks like {width} values separated by {shown}; save it as CSV with commas "
                            "(or tabs) between the values and upload it again.", len(frame),
                            {header: short(values.iloc[0], 80)})]
    return []



def _looks_like_conll(text: str) -> bool:
    return looks_like_conll(text)


def _read_token_file(text: str, name: str, how: Decoding) -> ParsedFile:
    """CoNLL-style text (a token and its tag per line): one row per sentence, tokens and tags lists."""
    frame = read_token_file(text, name)
    return ParsedFile(frame.reset_index(drop=True), name, "conll", how.encoding, None, False,
                      how.warnings)


def _refuse_binary(data: bytes, name: str, suffix: str, encoding: str | None = None) -> None:
    head = data[:8192]
    for magic, what, todo in _MAGIC:
        if head.startswith(magic):
            raise DatasetError(f"'{name}' is {what} renamed {suffix}, not a text table; {todo}.")
    wide = encoding and check_encoding_name(encoding).startswith(("utf-16", "utf-32"))
    if wide or head.startswith((b"\xff\xfe", b"\xfe\xff")) or utf16_without_bom(head):
        return  # UTF-16 text has NUL bytes; decode_bytes handles it
    if b"\x00" in head:
        raise DatasetError(f"'{name}' is binary data, not a text table (it contains NUL bytes); "
                           f"export the table as CSV UTF-8 and upload that.")


def _read_parquet(data: bytes, name: str) -> ParsedFile:
    if not (data[:4] == b"PAR1" and data[-4:] == b"PAR1"):
        looks = _describe_head(data)
        raise DatasetError(f"'{name}' is named .parquet but is not a Parquet file ({looks}); "
                           "save it again as Parquet, or upload it with its real extension.")
    limits.check_parquet(data, name)
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
        table, warnings = _text_or_dropped(table)
        frame = table.to_pandas()
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for damaged files
        raise DatasetError(f"'{name}' looks like Parquet but cannot be read ({_first_line(exc)}); "
                           "the file may be truncated, so export it again.") from exc
    return ParsedFile(frame.reset_index(drop=True), name, "parquet", None, None, True, warnings)


def _text_or_dropped(table: Any) -> tuple[Any, tuple[str, ...]]:
    """Binary columns as text where every value is UTF-8; the others left out with a sentence
    (raw bytes are never a text, a label or a feature, and broke every step after reading)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    notes = []
    for index in reversed(range(table.num_columns)):
        field = table.schema.field(index)
        if not (pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type)
                or pa.types.is_fixed_size_binary(field.type)):
            continue
        try:
            column = pc.cast(table.column(index).cast(pa.large_binary()), pa.large_string())
            table = table.set_column(index, field.name, column)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            table = table.remove_column(index)
            notes.append(f"Column '{_short(field.name, 60)}' holds binary data, not text; it was "
                         "left out.")
    return table, tuple(reversed(notes))


def _read_excel(data: bytes, name: str) -> ParsedFile:
    if not data.startswith(b"PK\x03\x04"):
        if data.startswith(b"\xd0\xcf\x11\xe0"):
            raise DatasetError(f"'{name}' is an old-format Excel file renamed .xlsx; open it in "
                               "Excel and save it as .xlsx (Excel Workbook) or as CSV UTF-8.")
        raise DatasetError(f"'{name}' is named .xlsx but is not an Excel workbook "
                           f"({_describe_head(data)}); upload it with its real extension.")
    limits.check_workbook(data, name)
    try:
        raw, sheet, sheets = _first_sheet_with_data(data, name)
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for damaged files
        raise DatasetError(f"'{name}' cannot be read as an Excel workbook ({_first_line(exc)}); "
                           "open it in Excel and save it again as .xlsx.") from exc
    warnings: list[str] = []
    if len(sheets) > 1:
        warnings.append(f"The workbook has {len(sheets)} sheets; only sheet '{sheet}' was read.")
    if raw is None or raw.dropna(how="all").empty:
        raise DatasetError(f"'{name}' has no data in any sheet; put the table in the first sheet.")
    raw = raw.dropna(how="all").dropna(axis=1, how="all").reset_index(drop=True)
    cells = raw.head(200).map(lambda v: "" if pd.isna(v) else str(v))
    rows = cells.to_numpy().tolist()
    has_header = looks_like_header(rows[0], rows[1:])
    if has_header:
        names, more = unique_names([str(v) for v in rows[0]])
        raw = raw.iloc[1:].reset_index(drop=True)
    else:
        names, more = [f"column_{i + 1}" for i in range(raw.shape[1])], [
            "The first row looks like data, not column names; columns are named column_1, column_2, …"]
    raw.columns = names
    frame = raw.infer_objects()
    return ParsedFile(frame, name, "xlsx", None, None, has_header, tuple(warnings + more))


def _first_sheet_with_data(data: bytes, name: str) -> tuple[pd.DataFrame | None, str, list[str]]:
    """The first sheet holding a value, read row by row within the upload budgets."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheets = list(book.sheetnames)
        raw, sheet = None, sheets[0] if sheets else ""
        budget = limits.start_budget()  # one budget for the whole workbook, not one per sheet
        for sheet in sheets:
            rows = list(limits.budgeted_rows(book[sheet].iter_rows(values_only=True), name, budget))
            raw = pd.DataFrame(rows, dtype=object)
            if not raw.dropna(how="all").empty:
                break
        return raw, sheet, sheets
    finally:
        book.close()


def _too_deep(name: str, where: str = "") -> DatasetError:
    return DatasetError(f"'{name}'{where} nests lists or objects too deeply to read (more than "
                        "Python's limit of about 1,000 levels); flatten the records to one level of "
                        'fields like {"text": "...", "label": "..."} and upload again.')


def _read_json(text: str, name: str, encoding: str, warnings: list[str]) -> ParsedFile:
    try:
        doc = json.loads(text)
    except RecursionError as exc:
        raise _too_deep(name) from exc
    except json.JSONDecodeError as exc:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) > 1 and all(ln.lstrip().startswith("{") for ln in lines[:20]):
            parsed = _read_jsonl(text, name, encoding, warnings)
            return replace(parsed, warnings=parsed.warnings + (
                "The .json file holds one record per line (JSON Lines); it was read as JSONL.",))
        raise DatasetError(f"'{name}' is not valid JSON: {exc.msg} at line {exc.lineno}, "
                           f"column {exc.colno}; fix the file or export it again.") from exc
    records = doc
    if isinstance(doc, dict):
        lists = [k for k, v in doc.items() if isinstance(v, list)]
        if len(lists) == 1 and all(isinstance(r, dict) for r in doc[lists[0]][:50]):
            records = doc[lists[0]]
            warnings = warnings + [f"Read the records under the key '{lists[0]}'."]
        elif doc and all(isinstance(v, list) for v in doc.values()):
            if len({len(v) for v in doc.values()}) != 1:
                raise DatasetError(f"'{name}' holds columns of different lengths; each column "
                                   "list must have one value per row.")
            return ParsedFile(pd.DataFrame(doc), name, "json", encoding, None, True, tuple(warnings))
    if not isinstance(records, list):
        raise DatasetError(f"'{name}' must hold an array of records like "
                           '[{"text": "...", "label": "..."}], not a single value.')
    for i, item in enumerate(records, start=1):
        if not isinstance(item, dict):
            raise DatasetError(f"Item {i} of the JSON array in '{name}' is not a record "
                               f"({_short(json.dumps(item))}); each item must look like "
                               '{"text": "...", "label": "..."}.')
    return ParsedFile(pd.DataFrame.from_records(records), name, "json", encoding, None, True,
                      tuple(warnings))


def _read_jsonl(text: str, name: str, encoding: str, warnings: list[str]) -> ParsedFile:
    def bad_line(lineno: int, exc: ValueError | RecursionError) -> DatasetError:
        if isinstance(exc, RecursionError):
            return _too_deep(name, f" (line {lineno})")
        why = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        return DatasetError(f"Line {lineno} of '{name}' is not valid JSON ({why}); "
                            "each line must be one JSON record.")

    records = []
    for lineno, line, item in read_jsonl(text, bad_line):
        if not isinstance(item, dict):
            raise DatasetError(f"Line {lineno} of '{name}' is not a JSON record "
                               f"({_short(line)}); each line must look like "
                               '{"text": "...", "label": "..."}.')
        records.append(item)
    return ParsedFile(pd.DataFrame.from_records(records), name, "jsonl", encoding, None, True,
                      tuple(warnings))


def _finish(parsed: ParsedFile) -> ParsedFile:
    """Common checks once a table exists: columns, rows, clean column names."""
    frame = parsed.frame
    if frame.shape[1] == 0 and frame.shape[0] == 0:
        raise DatasetError(f"'{parsed.filename}' holds no records; add data rows and upload it again.")
    if frame.shape[1] == 0:
        raise DatasetError(f"'{parsed.filename}' has no columns; upload a table with a header row.")
    limits.check_rows(parsed.filename, frame.shape[0])
    names, more = _clean_names(frame.columns)
    # Column by column: frame.dropna(how="all") copied the whole table to answer a yes/no question.
    if frame.shape[0] == 0 or all(frame.iloc[:, i].isna().all() for i in range(frame.shape[1])):
        cols = ", ".join(names[:10])
        raise DatasetError(f"'{parsed.filename}' has column names ({cols}) but no data rows; "
                           "add the rows below the header and upload it again.")
    if names != list(frame.columns) or more:
        frame = frame.copy()
        frame.columns = names
    return replace(parsed, frame=frame, warnings=parsed.warnings + tuple(more))


def _clean_names(columns: pd.Index) -> tuple[list[str], list[str]]:
    raw = ["" if (not isinstance(c, str) and pd.isna(c)) else str(c) for c in columns]
    return unique_names(raw)


def _describe_head(data: bytes) -> str:
    head = data[:400]
    for magic, what, _ in _MAGIC:
        if head.startswith(magic):
            return f"it is {what}"
    try:
        first = head.decode("utf-8").splitlines()[0]
    except (UnicodeDecodeError, IndexError):
        return "its content is not recognised"
    return f"it looks like text starting with '{_short(first, 40)}'"


def _short(text: str, n: int = 60) -> str:
    return short(str(text), n)


def _first_line(exc: Exception) -> str:
    msg = str(exc).strip().splitlines()
    return _short(msg[0], 120) if msg else type(exc).__name__


def column_types(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per column: its inferred type, how many values are present, and an example."""
    rows = []
    for col in frame.columns:
        series = frame[col]
        present = series.dropna()
        example = _short(str(present.iloc[0]), 80) if len(present) else ""
        rows.append({"column": str(col), "type": infer_type(series), "non_null": int(len(present)),
                     "unique": int(_nunique(present)), "example": example})
    return pd.DataFrame(rows, columns=["column", "type", "non_null", "unique", "example"])


def _nunique(series: pd.Series) -> int:
    try:
        return series.nunique()
    except TypeError:  # lists and dicts are unhashable
        return series.map(repr).nunique()
