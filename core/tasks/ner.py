"""Token-classification data: parsing files into sentences, tag schemes, and the NER quality checks.

Every format ends as the canonical frame: one row per sentence with list columns ``tokens`` and
``tags`` (plus ``split``/``group`` when the source has them). Tags are converted to IOB2 for
training whatever scheme the file uses (IOB2, IOB1, IOBES/BILOU or plain types without prefixes).
Pure Python and pandas: no torch here.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

from core.errors import DatasetError
from core.text.encoding import decode_text
from core.text.jsonl import read_jsonl
from core.text.scripts import UNSPACED, script_of

TEXT_EXTENSIONS = (".conll", ".conllu", ".txt", ".iob", ".iob2", ".bio", ".bioes", ".ner")
JSON_EXTENSIONS = (".jsonl", ".json")
PASSTHROUGH = ("split", "group")
KNOWN_PREFIXES = frozenset("BIESLUM")  # L/U are BILOU's names for E/S; M is BMES's I
_PREFIXED = re.compile(r"^([A-Za-z])-(.+)$")
SENTENCE_COLUMN_NAMES = ("sentence_id", "sentence", "sentence #", "sent_id", "sentence_idx", "sid")


# ---------------------------------------------------------------- parsing


def parse_conll(text: str) -> pd.DataFrame:
    """Read CoNLL-style text (token first, tag in the last column, blank line between sentences)."""
    sentences: list[tuple[list[str], list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("-DOCSTART-") or not stripped:
            if tokens:
                sentences.append((tokens, tags))
            tokens, tags = [], []
            continue
        columns = stripped.split("\t") if "\t" in stripped else stripped.split()
        tokens.append(columns[0].strip())
        if len(columns) > 1:  # a lone token keeps its sentence's tag list short: reported as a mismatch
            tags.append(columns[-1].strip())
    if tokens:
        sentences.append((tokens, tags))
    return pd.DataFrame({"tokens": [s[0] for s in sentences], "tags": [s[1] for s in sentences]})


def _cell_list(value: Any, what: str, row: int) -> list[str]:
    """A cell holding a list of strings: a real list, a JSON/Python list literal, or space-separated text."""
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        items = list(value.tolist() if hasattr(value, "tolist") else value)
    elif value is None or (isinstance(value, float) and math.isnan(value)):
        items = []
    elif isinstance(value, str) and value.strip().startswith("["):
        try:
            items = json.loads(value)
        except ValueError:
            try:
                items = ast.literal_eval(value)  # literals only: safe on user text
            except (ValueError, SyntaxError) as exc:
                raise DatasetError(
                    f"Row {row + 1} has a {what} cell that starts like a list but is not one; "
                    'write it as a JSON list such as ["Paris", "is"].'
                ) from exc
        if not isinstance(items, list):
            raise DatasetError(
                f"Row {row + 1} has a {what} cell that is not a list; write it as a JSON list."
            )
    else:
        items = str(value).split()
    return [_cell_text(item) for item in items]


def _cell_text(value: Any) -> str:
    """One token or tag as text (pandas reads 2024 as 2024.0 when a column has blanks)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def frame_from_token_rows(
    frame: pd.DataFrame, sentence_col: str, token_col: str, tag_col: str
) -> pd.DataFrame:
    """Group a one-token-per-row frame into sentences, in the order of the file.

    Sentence ids are forward-filled, so files that name the sentence only on its first token
    (the Kaggle "Sentence #" layout) work; fully blank rows are skipped.
    """
    for column in (sentence_col, token_col, tag_col):
        if column not in frame.columns:
            raise DatasetError(
                f"The file has no column '{column}'. Columns found: {', '.join(map(str, frame.columns))}."
            )
    rows = frame.dropna(subset=[token_col, tag_col], how="all").copy()
    rows[sentence_col] = rows[sentence_col].ffill()
    if rows.empty or rows[sentence_col].isna().all():
        raise DatasetError(
            f"The column '{sentence_col}' has no sentence ids; choose the column "
            "that says which sentence each token belongs to."
        )
    rows = rows.dropna(subset=[sentence_col])
    keep = [c for c in PASSTHROUGH if c in rows.columns and c not in (sentence_col, token_col, tag_col)]
    out = []
    for _, group in rows.groupby(sentence_col, sort=False):
        record = {
            "tokens": [_cell_text(v) for v in group[token_col]],
            "tags": [_cell_text(v) for v in group[tag_col]],
        }
        record.update({c: group[c].iloc[0] for c in keep})
        out.append(record)
    return pd.DataFrame(out, columns=["tokens", "tags", *keep])


def guess_sentence_column(columns: Sequence[str]) -> str | None:
    """The column that most likely holds sentence ids in a one-token-per-row file, if any."""
    by_lower = {str(c).strip().lower(): c for c in columns}
    return next((by_lower[name] for name in SENTENCE_COLUMN_NAMES if name in by_lower), None)


def normalize_token_frame(
    frame: pd.DataFrame,
    tokens_column: str = "tokens",
    tags_column: str = "tags",
    sentence_column: str | None = None,
) -> pd.DataFrame:
    """Turn a frame (list columns, or one token per row with a sentence id) into the canonical frame."""
    for column in (tokens_column, tags_column):
        if column not in frame.columns:
            raise DatasetError(
                f"The file has no column '{column}'. Columns found: {', '.join(map(str, frame.columns))}."
            )
    first = frame[tokens_column].dropna()
    looks_listed = not first.empty and (
        isinstance(first.iloc[0], (list, tuple))
        or hasattr(first.iloc[0], "tolist")
        or (
            isinstance(first.iloc[0], str) and (first.iloc[0].strip().startswith("[") or " " in first.iloc[0])
        )
    )
    if sentence_column or not looks_listed:
        sentence_column = sentence_column or guess_sentence_column(list(frame.columns))
        if not sentence_column:
            raise DatasetError(
                "The file has one token per row but no sentence id column; choose the column "
                "that says which sentence each token belongs to."
            )
        return frame_from_token_rows(frame, sentence_column, tokens_column, tags_column)
    keep = [c for c in PASSTHROUGH if c in frame.columns]
    out = pd.DataFrame(
        {
            "tokens": [_cell_list(v, "tokens", i) for i, v in enumerate(frame[tokens_column])],
            "tags": [_cell_list(v, "tags", i) for i, v in enumerate(frame[tags_column])],
        }
    )
    for column in keep:
        out[column] = frame[column].to_numpy()
    return out


def _decode(data: bytes | str, filename: str) -> str:
    if isinstance(data, str):
        return data
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DatasetError(f"'{filename}' is not a text file; upload CoNLL text, JSONL, CSV or Parquet.")
    return decode_text(data, filename)[0]


def looks_like_conll(text: str, sample_lines: int = 200) -> bool:
    """Whether text reads as CoNLL (most lines 'token ... TAG' with an O/B-/I-style last column)."""
    lines = [line.strip() for line in text.splitlines()[:sample_lines]]
    rows = [line.split() for line in lines if line and not line.startswith("-DOCSTART-")]
    if len(rows) < 2 or any("," in line and "\t" not in line and " " not in line for line in lines[:3]):
        return False
    tagged = sum(len(r) >= 2 and (r[-1] == "O" or _PREFIXED.match(r[-1]) is not None) for r in rows)
    return tagged >= 0.9 * len(rows) and any(r[-1] == "O" for r in rows)


def read_token_file(data: bytes | str, filename: str) -> pd.DataFrame:
    """Read a CoNLL-style text file (.conll/.txt/.iob/...) or a JSONL file with tokens/tags into sentences."""
    name = filename.lower()
    text = _decode(data, filename)
    if name.endswith(JSON_EXTENSIONS):
        records = [line.value for line in read_jsonl(text, lambda number, _: DatasetError(
            f"Line {number} of '{filename}' is not valid JSON; each line needs an "
            'object such as {"tokens": [...], "tags": [...]}.'))]
        if not records or not all(isinstance(r, dict) for r in records):
            raise DatasetError(f"'{filename}' needs one JSON object per line with 'tokens' and 'tags' lists.")
        frame = normalize_token_frame(pd.DataFrame(records))
    elif name.endswith(TEXT_EXTENSIONS):
        frame = parse_conll(text)
    else:
        raise DatasetError(
            f"'{filename}' is not a token file this app reads; use .conll, .txt, .iob or .jsonl."
        )
    if frame.empty:
        raise DatasetError(
            f"'{filename}' has no sentences; write one token and its tag per line, "
            "with a blank line between sentences."
        )
    return frame


# ---------------------------------------------------------------- tag schemes


def split_tag(tag: str) -> tuple[str, str]:
    """A tag's prefix and type: ('O', '') outside, ('', type) for a plain tag, ('?', tag) if unknown."""
    if tag == "O":
        return "O", ""
    match = _PREFIXED.match(tag)
    if match:
        prefix, kind = match.groups()
        if prefix == "M":  # BMES (common in Chinese NER): M- is a middle token, as I- is
            return "I", kind
        return (prefix, kind) if prefix in KNOWN_PREFIXES else ("?", tag)
    return ("", tag) if tag and tag == tag.strip() else ("?", tag)


def detect_scheme(tag_lists: Sequence[Sequence[str]]) -> str:
    """'IOB2', 'IOB1', 'IOBES' or 'plain': which tagging scheme the sentences use."""
    prefixes: set[str] = set()
    inside_starts = begin_starts = 0
    plain = False
    for tags in tag_lists:
        previous = "O"
        for tag in tags:
            prefix, kind = split_tag(tag)
            prefixes.add(prefix)
            plain |= prefix == ""
            prev_prefix, prev_kind = split_tag(previous)
            continues = prev_kind == kind and prev_prefix in ("B", "I")
            inside_starts += prefix == "I" and not continues
            begin_starts += prefix == "B" and not continues
            previous = tag
    if prefixes & {"E", "S", "L", "U"}:
        return "IOBES"
    if not prefixes & {"B", "I"}:
        return "plain" if plain else "IOB2"
    # IOB1 starts entities with I- and uses B- only between two touching entities of one type.
    return "IOB1" if inside_starts > begin_starts else "IOB2"


def to_iob2(tags: Sequence[str], scheme: str = "IOB2") -> list[str]:
    """One sentence's tags in IOB2 (an I- that follows nothing of its type becomes B-; unknown -> O)."""
    out: list[str] = []
    open_kind: str | None = None
    for tag in tags:
        prefix, kind = split_tag(tag)
        if prefix in ("O", "?"):
            out.append("O")
            open_kind = None
            continue
        begins = prefix in ("B", "S", "U") or open_kind != kind
        if scheme == "plain" or prefix == "":
            begins = open_kind != kind  # plain tags: touching tokens of one type are one entity
        out.append(("B-" if begins else "I-") + kind)
        open_kind = None if prefix in ("E", "L", "S", "U") else kind
    return out


def join_tokens(tokens: Sequence[str]) -> tuple[str, list[int]]:
    """The tokens as one text and each token's start offset.

    Tokens are joined by spaces, except between two characters of a script written without
    spaces (a Chinese or Japanese sentence tagged one character per line reads as it is written).
    """
    parts: list[str] = []
    starts: list[int] = []
    position = 0
    for i, token in enumerate(tokens):
        if i and not (_unspaced(tokens[i - 1]) and _unspaced(token)):
            parts.append(" ")
            position += 1
        starts.append(position)
        parts.append(token)
        position += len(token)
    return "".join(parts), starts


def _unspaced(token: str) -> bool:
    """A token of one or two characters of an unspaced script (or CJK punctuation)."""
    if not token or len(token) > 2:
        return False
    return all(script_of(ch) in UNSPACED or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef"
               for ch in token)


def entity_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entities in IOB2 tags as (type, start, end) token positions, end exclusive."""
    spans: list[tuple[str, int, int]] = []
    for position, tag in enumerate(to_iob2(tags)):
        if tag.startswith("B-"):
            spans.append((tag[2:], position, position + 1))
        elif tag.startswith("I-"):
            kind, start, _ = spans[-1]
            spans[-1] = (kind, start, position + 1)
    return spans


def label_list(tag_lists: Sequence[Sequence[str]]) -> list[str]:
    """The IOB2 label set for training: 'O' first, then B-/I- for each entity type in name order."""
    kinds = sorted({tag[2:] for tags in tag_lists for tag in tags if tag != "O"})
    return ["O"] + [f"{p}-{k}" for k in kinds for p in ("B", "I")]


def prepare_token_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The sentences ready for training: unusable ones dropped, tags converted to IOB2."""

    def size(value: Any) -> int:  # a missing cell (None/NaN) counts as an empty sentence
        return len(value) if hasattr(value, "__len__") else 0

    usable = frame[
        [size(t) > 0 and size(t) == size(g) for t, g in zip(frame["tokens"], frame["tags"], strict=True)]
    ]
    scheme = detect_scheme([list(g) for g in usable["tags"]])
    out = usable.copy()
    out["tokens"] = [list(t) for t in usable["tokens"]]
    out["tags"] = [to_iob2(list(g), scheme) for g in usable["tags"]]
    return out.reset_index(drop=True)
