"""Decode uploaded bytes to text, and say how sure the guess is.

Order: a BOM (UTF-8, UTF-32, UTF-16), then strict UTF-8, then a guess among the encodings
spreadsheets are saved in. Each candidate that decodes the non-ASCII lines is scored by how
much the result reads like text (``plausibility``); charset-normalizer's ranking breaks ties,
and a Western single-byte guess counts as sure only when the detector agrees with it. A file
no candidate decodes, or that reads as noise in every one, is refused with a sentence.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import lru_cache

from core.errors import DatasetError
from core.text.scripts import char_weight

# Codec -> what a person calls it. The order is the override list the datasets page offers.
ENCODINGS: dict[str, str] = {
    "utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "utf-16": "UTF-16", "utf-32": "UTF-32",
    "cp1252": "Windows-1252 (Western European)", "latin-1": "Latin-1 (ISO-8859-1)",
    "cp1250": "Windows-1250 (Central European)", "cp1251": "Windows-1251 (Cyrillic)",
    "koi8-r": "KOI8-R (Russian)", "cp1253": "Windows-1253 (Greek)",
    "cp1254": "Windows-1254 (Turkish)", "cp1255": "Windows-1255 (Hebrew)",
    "cp1256": "Windows-1256 (Arabic)", "cp1257": "Windows-1257 (Baltic)",
    "cp1258": "Windows-1258 (Vietnamese)", "cp874": "Windows-874 (Thai)",
    "gbk": "GBK (Chinese, simplified)", "gb18030": "GB18030 (Chinese, simplified)",
    "cp950": "Big5 (Chinese, traditional)", "big5hkscs": "Big5-HKSCS (Chinese, Hong Kong)",
    "cp932": "Shift-JIS (Japanese)", "euc-jp": "EUC-JP (Japanese)",
    "cp949": "EUC-KR (Korean)", "mac-roman": "Mac Roman (Western European)",
}
# Guessed when a file is not UTF-8, in the order ties are broken (most common first).
_GUESSES = ("cp1252", "gbk", "gb18030", "cp950", "cp932", "cp949", "euc-jp",
            "cp1251", "koi8-r", "cp1250", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257",
            "cp874", "cp1258")
_WESTERN = {"cp1252", "cp1250", "cp1254", "cp1257", "cp1258", "latin-1", "mac-roman"}
_SAMPLE_BYTES = 8_000  # non-ASCII lines scored per candidate: enough to tell encodings apart
_HIGH_LINE = re.compile(rb"[^\n]*[\x80-\xff][^\n]*")
_MIN_CLUES = 12  # fewer non-ASCII characters than this: the guess is a guess


@dataclass(frozen=True)
class Decoding:
    """How bytes were read: the codec, its name for people, and doubt about the guess."""

    encoding: str
    label: str
    uncertain: str | None = None  # one sentence when the guess could be wrong
    warnings: tuple[str, ...] = ()


def encoding_label(codec: str | None) -> str:
    """'GBK (Chinese, simplified)' for 'gbk'; the codec itself when it has no name here."""
    if not codec:
        return "not applicable"
    return ENCODINGS.get(_canonical(codec) or codec, codec)


def _canonical(codec: str) -> str | None:
    try:
        name = codecs.lookup(codec).name
    except LookupError:
        return None
    for known in ENCODINGS:
        if codecs.lookup(known).name == name:
            return known
    return name


def _line_of(data: bytes, pos: int) -> int:
    return data[:pos].count(b"\n") + 1


def decode_text(data: bytes, name: str, encoding: str | None = None) -> tuple[str, str, list[str]]:
    """Text, codec and warnings (the uncertainty sentence among them) of uploaded bytes."""
    text, how = decode_bytes(data, name, encoding)
    return text, how.encoding, list(how.warnings)


def decode_bytes(data: bytes, name: str, encoding: str | None = None) -> tuple[str, Decoding]:
    """Decode bytes, guessing the encoding unless one is given; DatasetError when impossible."""
    if encoding:
        return _forced(data, name, encoding)
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"),
                       (b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe", "utf-16"),
                       (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(codec), Decoding(codec, ENCODINGS[codec])
            except UnicodeDecodeError as exc:
                raise DatasetError(
                    f"'{name}' starts like {ENCODINGS[codec]} text but byte {exc.start} is not "
                    f"{ENCODINGS[codec]}; save it again as CSV UTF-8 and upload that.") from exc
    try:
        return data.decode("utf-8"), Decoding("utf-8", "UTF-8")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    return _guess(data, name, first_bad)


def _forced(data: bytes, name: str, encoding: str) -> tuple[str, Decoding]:
    codec = _canonical(encoding)
    if codec is None:
        raise DatasetError(f"'{encoding}' is not an encoding this app knows; pick one of "
                           f"{', '.join(ENCODINGS)}.")
    if codec == "utf-8" and data.startswith(b"\xef\xbb\xbf"):
        codec = "utf-8-sig"
    label = encoding_label(codec)
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"'{name}' cannot be read as {label}: byte 0x{data[exc.start]:02x} on "
                           f"line {_line_of(data, exc.start)} is not {label}; pick another "
                           "encoding.") from exc
    if codec.startswith("utf-8"):
        return text, Decoding(codec, label)
    return text, Decoding(codec, label, warnings=(f"'{name}' was read as {label}, as chosen.",))


@dataclass(frozen=True)
class _Candidate:
    codec: str
    text: str
    score: float
    script: str
    detector_rank: int | None


def rank_encodings(sample: bytes) -> list[_Candidate]:
    """Encodings that decode ``sample``, best first, each with its plausibility score."""
    detector = _detector_ranks(sample)
    seen: dict[str, _Candidate] = {}
    # Only encodings people save spreadsheets in: DOS and Mac code pages decode any byte.
    for codec in (*_GUESSES, *[c for c in detector if c in ENCODINGS and c not in _GUESSES]):
        try:
            text = sample.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        if text in seen:  # the same reading under another name: keep the commoner name
            continue
        score, script = plausibility_and_script(text, codec)
        ranks = [r for c, r in detector.items() if c == codec]
        seen[text] = _Candidate(codec, text, score, script, ranks[0] if ranks else None)
    order = {c: i for i, c in enumerate(_GUESSES)}
    best = max((c.score for c in seen.values()), default=0.0)
    # Close scores (within 0.05) are a tie: one the detector agrees with, then the commoner.
    return sorted(seen.values(), key=lambda c: (
        c.score < best - 0.05, c.detector_rank is None, order.get(c.codec, 99), -c.score))


def _detector_ranks(sample: bytes) -> dict[str, int]:
    """charset-normalizer's near-best readings: codec -> rank (0 best)."""
    try:
        from charset_normalizer import from_bytes

        matches = list(from_bytes(sample))
    except Exception:  # noqa: BLE001 - a failed detector just means no opinion
        return {}
    if not matches:
        return {}
    floor = matches[0].chaos + 0.05
    ranks: dict[str, int] = {}
    for rank, match in enumerate(m for m in matches if m.chaos <= floor):
        for codec in (match.encoding, *match.could_be_from_charset):
            known = _canonical(codec)
            if known and known not in ranks and not known.startswith("utf"):
                ranks[known] = rank
    return ranks


def _sample(data: bytes) -> bytes:
    """The lines that hold non-ASCII bytes (where encodings differ), up to a budget."""
    parts, size = [], 0
    for match in _HIGH_LINE.finditer(data):
        parts.append(match.group())
        size += len(parts[-1]) + 1
        if size >= _SAMPLE_BYTES:
            break
    return b"\n".join(parts)


def _guess(data: bytes, name: str, first_bad: int) -> tuple[str, Decoding]:
    sample = _sample(data)
    ranked = rank_encodings(sample)
    for cand in ranked:
        if cand.score < 0.55:
            break  # reads as noise in this and every later candidate
        try:
            text = data.decode(cand.codec)
        except UnicodeDecodeError:
            continue  # a byte beyond the sample does not fit this one
        label = encoding_label(cand.codec)
        doubt = _doubt(name, cand, ranked, sample)
        note = (f"'{name}' is not UTF-8 (byte 0x{data[first_bad]:02x} on line "
                f"{_line_of(data, first_bad)}), so it was read as {label}; check the preview, "
                "or pick the right encoding under 'Read the file as'.")
        return text, Decoding(cand.codec, label, doubt, (note,) + ((doubt,) if doubt else ()))
    raise DatasetError(
        f"'{name}' is not UTF-8 (byte 0x{data[first_bad]:02x} on line "
        f"{_line_of(data, first_bad)}) and does not read as text in any encoding this app "
        "knows; save it as CSV UTF-8 and upload it again.")


def _doubt(name: str, chosen: _Candidate, ranked: list[_Candidate], sample: bytes) -> str | None:
    """A sentence when the guess could well be wrong, else None."""
    clues = sum(1 for ch in chosen.text if ord(ch) > 127)
    label = encoding_label(chosen.codec)
    if clues < _MIN_CLUES:
        return (f"The encoding of '{name}' is a guess ({label}) from only {clues} non-ASCII "
                "character(s); check those texts in the preview.")
    # A rival counts unless the detector backs the choice and not the rival.
    rivals = [c for c in ranked if c is not chosen and c.script != chosen.script
              and c.score >= chosen.score - 0.15
              and (c.detector_rank is not None or chosen.detector_rank is None)]
    if rivals:
        return (f"The encoding of '{name}' is uncertain: it reads almost as well as "
                f"{encoding_label(rivals[0].codec)} as it does as {label}; check the preview.")
    if chosen.codec in _WESTERN and chosen.detector_rank is None:
        return (f"The encoding of '{name}' is uncertain: {label} is the app's guess but the "
                "charset detector does not agree; check accented characters in the preview.")
    return None


def plausibility(text: str, codec: str | None = None) -> float:
    """How much text reads like writing (1) rather than noise (below 0), per non-ASCII byte."""
    return plausibility_and_script(text, codec)[0]


_WORDS = re.compile(r"[^\W\d_]+|\S")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plausibility_and_script(text: str, codec: str | None = None) -> tuple[float, str]:
    """The plausibility score and the main script of the non-ASCII letters."""
    total = weight = 0.0
    scripts: dict[str, int] = {}
    for match in _WORDS.finditer(text):
        token = match.group()
        if token.isascii():
            continue
        for ch, w, script in _token_weights(token):
            size = _byte_size(ch, codec)
            total += size
            weight += w * size
            if script:
                scripts[script] = scripts.get(script, 0) + 1
    controls = len(_CONTROL.findall(text))  # never in text, common in binary data
    total += controls
    weight -= 3.0 * controls
    if not total:
        return 1.0, "ASCII"
    main = max(scripts, key=scripts.__getitem__) if scripts else "OTHER"
    return weight / total, main


def _token_weights(token: str) -> list[tuple[str, float, str | None]]:
    """(char, weight, script) for each non-ASCII char of a word or a lone symbol."""
    out = [(ch, *char_weight(ch)) for ch in token if ord(ch) > 127]
    if len(token) == 1 or not token[0].isalpha():
        return out
    groups = {_group(s) for _, _, s in out if s}
    ascii_letters = sum(ch.isascii() for ch in token)
    if len(groups) > 1 or (ascii_letters and groups - {"LATIN", "CJK", "HANGUL"}):
        return [(ch, 0.0, s) for ch, _, s in out]  # scripts mixed inside one word
    if any(a.islower() and b.isupper() for a, b in zip(token, token[1:], strict=False)):
        return [(ch, 0.0, s) for ch, _, s in out]  # "ÕâÓ°", "ьФПФ": case flips mid-word
    if ascii_letters and groups & {"CJK", "HANGUL"}:
        return [(ch, w * 0.5, s) for ch, w, s in out]  # "iPhone手机", or trail bytes as letters
    if groups == {"LATIN"} and len(out) / len(token) > 0.8 and len(token) >= 3:
        return [(ch, w * 0.3, s) for ch, w, s in out]  # "Ýòîò": every letter accented
    return out


def _group(script: str) -> str:
    return "CJK" if script in ("CJK", "HIRAGANA", "KATAKANA") else script


@lru_cache(maxsize=65536)
def _byte_size(ch: str, codec: str | None) -> int:
    if codec is None:
        return 1
    try:
        return len(ch.encode(codec))
    except (UnicodeEncodeError, LookupError):
        return 1
