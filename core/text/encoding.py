"""Decode uploaded text: UTF-8 (with or without BOM), UTF-16, else cp1252/Latin-1 with a warning."""

from __future__ import annotations

import re

from core.errors import DatasetError

_C1 = re.compile(r"[\x80-\x9f]")  # C1 controls: Latin-1 "decoded" bytes that are not text


def _line_of(data: bytes, pos: int) -> int:
    return data[:pos].count(b"\n") + 1


def decode_text(data: bytes, name: str) -> tuple[str, str, list[str]]:
    """Decode UTF-8 (with or without BOM) or UTF-16, else cp1252/Latin-1 with a warning."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig", []
        except UnicodeDecodeError as exc:
            raise _undecodable(name, data, exc.start + 3) from exc
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16", []
        except UnicodeDecodeError as exc:
            raise DatasetError(f"'{name}' starts like UTF-16 text but has bytes that are not "
                               "UTF-16; save it again as CSV UTF-8.") from exc
    try:
        return data.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    note = (f"'{name}' is not UTF-8 (byte 0x{data[first_bad]:02x} on line "
            f"{_line_of(data, first_bad)}), so it was read as {{enc}}; check accented "
            "characters in the preview, or save the file as CSV UTF-8.")
    try:
        return data.decode("cp1252"), "cp1252", [note.format(enc="Windows-1252 (cp1252)")]
    except UnicodeDecodeError:
        pass
    guess = _charset_guess(data)
    if guess:
        text, enc = guess
        return text, enc, [note.format(enc=enc)]
    text = data.decode("latin-1")
    bad = _C1.search(text)
    if bad:
        raise _undecodable(name, data, bad.start())
    return text, "latin-1", [note.format(enc="Latin-1")]


def _charset_guess(data: bytes) -> tuple[str, str] | None:
    """Ask charset-normalizer; accept its guess only if it decodes to clean text."""
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200_000]).best()
    except Exception:  # noqa: BLE001 - a failed guess just means "not detected"
        return None
    # On a few stray bytes the detector guesses wildly (cp932 for garbage), so trust it only
    # when there is plenty of non-ASCII text and it reads as coherent.
    high = sum(b > 0x7F for b in data[:200_000])
    if best is None or best.encoding in ("utf_8", "ascii") or high < 32 or best.chaos > 0.05:
        return None
    try:
        text = data.decode(best.encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    if _C1.search(text) or "\x00" in text:
        return None
    return text, best.encoding


def _undecodable(name: str, data: bytes, pos: int) -> DatasetError:
    return DatasetError(
        f"'{name}' has bytes that are not text in UTF-8, Windows-1252 or Latin-1 (byte "
        f"0x{data[pos]:02x} on line {_line_of(data, pos)}); save the file as CSV UTF-8 "
        "and upload it again.")
