"""Text-table details for ingest: encodings, delimiters, header rows and column types."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter

import numpy as np
import pandas as pd

from core.errors import DatasetError
from core.text.arrowtext import arrow_strings, byte_lengths
from core.text.encoding import Decoding, decode_bytes, encoding_label, utf16_without_bom

DELIMITERS = (",", "\t", ";", "|")
NULLS = ["", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null"]
HEADER_WORDS = {"text", "label", "labels", "review", "sentence", "content", "category", "class",
                "sentiment", "target", "id", "name", "title", "body", "message", "tokens", "tags",
                "prompt", "completion", "response", "split", "group", "question", "answer", "topic",
                "intent", "score", "rating", "stars", "date", "y", "x", "value", "comment"}
_NUMBER = re.compile(r"^\s*[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?\s*$")
_SNIFF_CHARS = 65536
_MAX_HEADER_BYTES = 16 * 2**20  # a header line longer than this is not a header


def is_number(cell: str) -> bool:
    return bool(_NUMBER.match(cell))


def numeric_mask(series: pd.Series) -> pd.Series:
    """True where a text value is just a number (vectorised; missing values are False)."""
    import pyarrow as pa
    import pyarrow.compute as pc


    try:
        arr = arrow_strings(series)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return series.map(lambda v: isinstance(v, str) and is_number(v))
    # Numbers are short: run the regex only on short values (long texts are never numbers).
    # Lengths come from the offsets (a missing value counts 0 and the regex then says no).
    short = byte_lengths(series) <= 40 if arr.null_count == 0 else pc.less_equal(
        pc.binary_length(arr), 40).fill_null(False).to_numpy(zero_copy_only=False)
    out = np.zeros(len(arr), dtype=bool)
    if short.any():
        candidates = arr.filter(pa.array(short))
        out[short] = pc.match_substring_regex(candidates, _NUMBER.pattern).fill_null(False).to_numpy(
            zero_copy_only=False)
    return pd.Series(out, index=series.index)


def unique_names(raw: list[str]) -> tuple[list[str], list[str]]:
    """Column names made non-empty and unique ('label', 'label.1'), with a note per change."""
    names: list[str] = []
    notes: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(raw):
        clean = str(name).strip()
        if not clean:
            clean = f"column_{i + 1}"
            notes.append(f"Column {i + 1} has no name; it is called '{clean}'.")
        base, n = clean, 1
        while clean in seen:
            clean = f"{base}.{n}"
            n += 1
        if clean != base:
            notes.append(f"Two columns are named '{base}'; the second is called '{clean}'.")
        seen.add(clean)
        names.append(clean)
    return names, notes


def looks_like_header(first: list[str], rows: list[list[str]]) -> bool:
    """Whether the first row holds column names rather than data (ties count as a header)."""
    if not rows:
        return True
    data_votes = header_votes = 0
    for j, cell in enumerate(first):
        cell = str(cell).strip()
        column = [str(r[j]).strip() for r in rows if j < len(r) and str(r[j]).strip()]
        if not cell or not column:
            continue
        numeric_column = sum(map(is_number, column)) >= 0.9 * len(column)
        if is_number(cell):
            data_votes += 1
        elif numeric_column:
            header_votes += 1
        elif cell in column:
            data_votes += 1  # a header name does not repeat as a value below it
        elif len(cell.split()) > 4:
            data_votes += 1
        elif cell.lower() in HEADER_WORDS or len(set(column)) <= max(1, len(column) // 2):
            header_votes += 1
    return header_votes >= data_votes


def _records(text: str, delimiter: str, limit: int) -> list[list[str]]:
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            if row and any(c.strip() for c in row):
                rows.append(row)
            if len(rows) >= limit:
                break
    except csv.Error:
        pass  # the sniffing sample may end inside a quoted field
    return rows


def _pick_delimiter(head: str, default: str) -> str:
    best, best_score = default, 0.0
    for cand in (default, *[d for d in DELIMITERS if d != default]):
        counts = [len(r) for r in _records(head, cand, 50)]
        if not counts:
            continue
        mode, hits = Counter(counts).most_common(1)[0]
        score = hits / len(counts) if mode > 1 else 0.0
        if score > best_score:
            best, best_score = cand, score
    return best


class NotUtf8(Exception):
    """pyarrow found bytes that are not UTF-8: decode the file another way and try again."""


def read_delimited(data: bytes, name: str, default_delimiter: str = ",",
                   encoding: str | None = None
                   ) -> tuple[pd.DataFrame, str, bool, Decoding, list[str]]:
    """Frame, delimiter, header flag, how the bytes were decoded and warnings of CSV/TSV bytes.

    UTF-8 (the usual case) goes to pyarrow as it came, which validates it while parsing; only
    other encodings (guessed, or ``encoding`` when the user chose one) are decoded in Python.
    """
    bom = data.startswith(b"\xef\xbb\xbf")
    body = data[3:] if bom else data
    plain = encoding is None or encoding.replace("_", "-").lower() in ("utf-8", "utf8", "utf-8-sig")
    if plain and not data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")) \
            and not utf16_without_bom(body) and _head_is_utf8(body):
        try:
            frame, delimiter, has_header, warnings = sniff_table(body, name, default_delimiter)
            codec = "utf-8-sig" if bom else "utf-8"
            return frame, delimiter, has_header, Decoding(codec, encoding_label(codec)), warnings
        except NotUtf8:
            if encoding is not None:
                decode_bytes(data, name, encoding)  # raises the sentence naming the bad byte
    text, how = decode_bytes(data, name, encoding)
    frame, delimiter, has_header, more = sniff_table(text.encode("utf-8"), name, default_delimiter)
    return frame, delimiter, has_header, how, list(how.warnings) + more


def _head_is_utf8(body: bytes) -> bool:
    head = body[:_SNIFF_CHARS]
    for cut in range(4):  # the sample may end inside a multi-byte character
        try:
            head[: len(head) - cut].decode("utf-8")
            return True
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:
                return False
    return False


def unify_line_ends(raw: bytes) -> bytes:
    """Line ends as LF when a file ends lines with a lone CR ("CSV (Macintosh)") or mixes CR with
    LF; the sniffing reads lines at LF only, so such a file looked empty. Unchanged (no copy)
    for LF and CRLF files."""
    if b"\r" not in raw or raw.count(b"\r") == raw.count(b"\r\n"):
        return raw
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def _sniff_end(raw: bytes) -> int:
    """Bytes sniffed for the delimiter and the header: 64 KB, or, when the header line is longer
    (a wide table's can pass 64 KB), the header and 64 KB after it. Never the whole of a file
    whose first value is huge: only the header line may stretch the window (up to 16 MB)."""
    if len(raw) <= _SNIFF_CHARS or b"\n" in raw[:_SNIFF_CHARS]:
        return _SNIFF_CHARS
    header_end = raw.find(b"\n", 0, _MAX_HEADER_BYTES)
    return (len(raw) if header_end == -1 and len(raw) <= _MAX_HEADER_BYTES
            else max(header_end, _MAX_HEADER_BYTES if header_end == -1 else 0) + _SNIFF_CHARS)


def sniff_table(raw: bytes, name: str,
                default_delimiter: str = ",") -> tuple[pd.DataFrame, str, bool, list[str]]:
    """Find the delimiter and header of UTF-8 delimited text and read it with pyarrow."""
    raw = unify_line_ends(raw)
    if raw[:1] in (b"\r", b"\n"):
        raw = raw.lstrip(b"\r\n")
    head = raw[:_sniff_end(raw)].decode("utf-8", errors="ignore")
    if len(raw) > len(head) and "\n" in head:
        head = head[: head.rindex("\n")]
    delimiter = _pick_delimiter(head, default_delimiter)
    rows = _records(head, delimiter, 200)
    if not rows:
        raise DatasetError(f"'{name}' is empty; upload a file with a header row and data rows.")
    has_header = looks_like_header(rows[0], rows[1:])
    warnings: list[str] = []
    if has_header:
        names, warnings = unique_names(rows[0])
    else:
        width = max(len(r) for r in rows)
        names = [f"column_{i + 1}" for i in range(width)]
        warnings.append("The first row looks like data, not column names; the columns are "
                        f"named {', '.join(names[:3])}{', …' if width > 3 else ''}.")
    frame = _read_arrow(raw, name, delimiter, names, has_header)
    return frame, delimiter, has_header, warnings


def _read_arrow(raw: bytes, name: str, delimiter: str, names: list[str], has_header: bool,
                as_strings: bool = False, block_size: int | None = None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    # One thread: quoted values may hold newlines, so pyarrow must find row ends serially
    # anyway, and on 2 cores the extra threads cost more than they save (0.037 s vs 0.027 s
    # for the 100k-row bench file, as fast as pandas.read_csv).
    read = pacsv.ReadOptions(column_names=names, skip_rows=1 if has_header else 0,
                             use_threads=False, **({"block_size": block_size} if block_size else {}))
    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=True)
    # Text columns as large_string from the start: pyarrow's 32-bit strings were cast to 64-bit
    # ones for pandas, a second copy of every text (137 MB of reviews peaked 0.2 GB higher).
    types = ({n: pa.large_string() for n in names} if as_strings
             else _text_columns(raw, read, delimiter, names))
    convert = pacsv.ConvertOptions(
        null_values=NULLS, strings_can_be_null=True, quoted_strings_can_be_null=True,
        column_types=types or None)
    try:
        table = pacsv.read_csv(io.BytesIO(raw), read_options=read,
                               parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        msg = str(exc)
        if "straddl" in msg and block_size is None:
            # A row longer than pyarrow's 1 MB block: one block, every column as large_string
            # (inferred 32-bit strings took 13x the file: a 150 MB cell peaked at 3 GB), then
            # numbers where a whole column is numbers.
            frame = _read_arrow(raw, name, delimiter, names, has_header, as_strings=True,
                                block_size=min(len(raw) + 1, 2**31 - 1))
            return _numeric_where_possible(frame)
        if "invalid UTF8" in msg or "invalid utf8" in msg.lower():
            raise NotUtf8(msg) from exc
        if "conversion error" in msg and not as_strings:
            # pyarrow guesses types from the first block; a later odd value breaks that guess.
            frame = _read_arrow(raw, name, delimiter, names, has_header, as_strings=True,
                                block_size=block_size)
            return _numeric_where_possible(frame)
        if "Expected" in msg and "columns" in msg:
            text = raw.decode("utf-8", errors="replace")
            raise _ragged(text, name, delimiter, len(names), has_header) from exc
        raise DatasetError(f"'{name}' cannot be read as a table ({msg.splitlines()[0][:120]}); "
                           "check that it is a CSV or TSV file.") from exc
    if any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in table.schema):
        raise NotUtf8("a column holds bytes that are not UTF-8")  # pyarrow types them as binary
    return table.to_pandas()


def _text_columns(raw: bytes, read: object, delimiter: str, names: list[str]) -> dict[str, object]:
    """Name -> large_string for the columns pyarrow reads as text in the first 64 KB."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    head = raw[:_SNIFF_CHARS]
    if len(raw) > _SNIFF_CHARS:
        head = head[: head.rfind(b"\n") + 1]
    if not head:
        return {}
    try:
        schema = pacsv.read_csv(io.BytesIO(head), read_options=read, parse_options=pacsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(null_values=NULLS, strings_can_be_null=True,
                                                 quoted_strings_can_be_null=True)).schema
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return {}  # a quoted value cut by the window, a ragged row: pyarrow infers as before
    return {f.name: pa.large_string() for f in schema if pa.types.is_string(f.type) and f.name in names}


def _numeric_where_possible(frame: pd.DataFrame) -> pd.DataFrame:
    for col in frame.columns:
        head = frame[col].dropna().head(100)
        if head.empty or not numeric_mask(head.astype(str)).all():
            continue  # text: never convert a whole text column just to find that out
        converted = pd.to_numeric(frame[col], errors="coerce")
        if converted.notna().sum() == frame[col].notna().sum():
            frame[col] = converted
    return frame


def _ragged(text: str, name: str, delimiter: str, width: int, has_header: bool) -> DatasetError:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    shown = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "bar"}[delimiter]
    for index, row in enumerate(reader):
        if not row:
            continue
        if index == 0 and has_header:
            continue
        if len(row) != width:
            fields = f"{len(row)} field{'s' if len(row) != 1 else ''}"
            return DatasetError(
                f"Line {reader.line_num} of '{name}' has {fields} but the table has {width} "
                f"columns; fix that row (quote values that contain a {shown}) and upload again.")
    return DatasetError(f"'{name}' has rows with different numbers of fields; "
                        f"fix the ragged rows and upload again.")


def infer_type(series: pd.Series) -> str:
    """A plain name for what a column holds: text, category, integer, number, list, …"""
    present = series.dropna()
    if present.empty:
        return "empty"
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "integer" if (present == present.round()).all() else "number"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "date"
    sample = present.head(1000)
    kinds = {_kind(v) for v in sample}
    if len(kinds) > 1:
        return "mixed"
    kind = kinds.pop()
    if kind != "text":
        return kind
    numeric = numeric_mask(present.astype(str))
    if numeric.all():
        return "number"
    if numeric.mean() >= 0.5:
        return "mixed"
    strings = sample.astype(str)
    if strings.nunique() <= max(2, min(50, len(strings) // 5)):
        return "category"
    return "text"


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | np.number):
        return "number"
    if isinstance(value, list | tuple | np.ndarray):
        return "list"
    if isinstance(value, dict):
        return "record"
    return "text"


# Orange's .tab format: row 1 names, row 2 types, row 3 roles (flags); rows 2 and 3 are not data.
_ORANGE_TYPES = {"d", "c", "s", "t", "discrete", "continuous", "string", "text", "time", "basket"}
_ORANGE_FLAG = re.compile(r"^(class|meta|ignore|weight|i|c|m|w|\w+=.*)$", re.IGNORECASE)


def orange_header_rows(frame: pd.DataFrame) -> str | None:
    """The class column's name ('' when none) when the first two rows are Orange type and role rows."""
    if len(frame) < 2 or frame.shape[1] == 0:
        return None
    # Type and role words are short: cut text values in Arrow before Python sees them (a row
    # holding a 150 MB cell was copied whole just to be stripped).
    head = frame.iloc[:2].apply(lambda col: col.str.slice(0, 200)
                                if pd.api.types.is_string_dtype(col) and col.dtype != object else col)
    types = ["" if pd.isna(v) else str(v)[:200].strip() for v in head.iloc[0]]
    flags = ["" if pd.isna(v) else str(v)[:200].strip() for v in head.iloc[1]]
    if not any(types) or not all(t.lower() in _ORANGE_TYPES for t in types if t):
        return None
    if not all(_ORANGE_FLAG.match(f) for f in flags if f):
        return None
    return next((str(c) for c, f in zip(frame.columns, flags, strict=True) if f.lower() == "class"), "")


def drop_orange_header_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The table without Orange's type and role rows, numbers read as numbers again."""
    rest = frame.iloc[2:].reset_index(drop=True)
    for col in rest.columns:
        if not pd.api.types.is_numeric_dtype(rest[col]):
            converted = pd.to_numeric(rest[col], errors="coerce")
            if converted.notna().sum() == rest[col].notna().sum() and rest[col].notna().any():
                rest[col] = converted
    return rest


def read_whitespace_table(text: str) -> tuple[pd.DataFrame, bool] | None:
    """A table whose values are separated by runs of spaces (e.g. scikit-learn's linnerud files).

    Only when every non-empty line splits into the same number (at least two) of fields and
    one column holds numbers, so sentences in a one-column file are never cut into words.
    Returns the frame and whether the first line held column names.
    """
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or any(c in text[:_SNIFF_CHARS] for c in ('"', ",", "\t", ";", "|")):
        return None
    width = len(lines[0])
    if width < 2 or any(len(fields) != width for fields in lines):
        return None
    has_header = looks_like_header(lines[0], lines[1:201])
    names, _notes = unique_names(lines[0]) if has_header else (
        [f"column_{i + 1}" for i in range(width)], [])
    frame = _numeric_where_possible(pd.DataFrame(lines[1:] if has_header else lines, columns=names))
    if not any(pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns):
        return None  # words in equal numbers per line are more likely short texts than a table
    return frame, has_header
