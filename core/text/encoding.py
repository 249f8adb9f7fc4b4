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
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from core.errors import DatasetError
from core.text.scripts import COMMON_PUNCT as _COMMON_PUNCT
from core.text.scripts import SCRIPTS as _SCRIPT_NAMES
from core.text.scripts import char_weight, language_fit, script_of

# Codec -> what a person calls it. The order is the override list the datasets page offers.
ENCODINGS: dict[str, str] = {
    "utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "utf-16": "UTF-16",
    "utf-16-le": "UTF-16 LE (no BOM)", "utf-16-be": "UTF-16 BE (no BOM)", "utf-32": "UTF-32",
    "cp1252": "Windows-1252 (Western European)", "latin-1": "Latin-1 (ISO-8859-1)",
    "cp1250": "Windows-1250 (Central European)", "cp1251": "Windows-1251 (Cyrillic)",
    "koi8-r": "KOI8-R (Russian)", "koi8-u": "KOI8-U (Ukrainian)", "cp1253": "Windows-1253 (Greek)",
    "iso8859-7": "ISO-8859-7 (Greek)",
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
            "cp1251", "koi8-r", "koi8-u", "cp1250", "cp1253", "iso8859-7", "cp1254", "cp1255",
            "cp1256", "cp1257", "cp874", "cp1258")
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
    notes: tuple[str, ...] = ()  # calm facts: how a confidently guessed encoding was chosen


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
    wide = utf16_without_bom(data)
    if wide:
        try:
            label = ENCODINGS[wide]
            return data.decode(wide), Decoding(wide, label, notes=(
                f"'{name}' has no byte-order mark, but every other byte is zero as in UTF-16 text; "
                f"it was read as {label}.",))
        except UnicodeDecodeError:
            pass  # NUL bytes that are not UTF-16: the binary check refuses them
    try:
        return data.decode("utf-8"), Decoding("utf-8", "UTF-8")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    return _guess(data, name, first_bad)


# Codecs Python reads text with that are escapes or transforms, not a file's character set.
_NOT_CHARSETS = {"unicode-escape", "raw-unicode-escape", "punycode", "idna", "undefined"}


def check_encoding_name(encoding: str) -> str:
    """The codec's canonical name, or DatasetError when it is not a character set for text
    files (unknown names, and transforms such as rot13, zlib_codec or unicode_escape)."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        what = ("is not an encoding this app knows" if info is None else
                "is not a text encoding (it transforms data rather than naming a file's characters)")
        raise DatasetError(f"'{encoding}' {what}; pick one of {', '.join(ENCODINGS)}.")
    return _canonical(encoding) or info.name


def utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when the first bytes are UTF-16 text without a byte-order mark:
    ASCII characters leave a NUL in every other byte, always on the same side."""
    head = data[:4096]
    pairs = len(head) // 2
    if pairs < 4:
        return None
    even, odd = head[0:2 * pairs:2].count(0), head[1:2 * pairs:2].count(0)
    # Text in Han or Hangul has few ASCII characters, so few NULs: one in ten pairs is enough
    # when the other side has (almost) none, and the result must read as text, not controls.
    codec = ("utf-16-le" if odd >= 0.1 * pairs and even <= 0.01 * pairs else
             "utf-16-be" if even >= 0.1 * pairs and odd <= 0.01 * pairs else None)
    if codec is None:
        return None
    text = head[:2 * pairs].decode(codec, errors="replace")
    bad = len(_CONTROL.findall(text)) + text.count("\ufffd") + text.count("\x00")
    return codec if bad <= 0.01 * len(text) + 1 else None


def _forced(data: bytes, name: str, encoding: str) -> tuple[str, Decoding]:
    codec = check_encoding_name(encoding)
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
class Reading:
    """One way to read the bytes: the codec, its name, the language it looks like, a preview."""

    codec: str
    label: str
    language: str | None
    preview: tuple[str, ...]


class EncodingQuestion(DatasetError):
    """Two readings of a file are both plausible text: the person must pick one."""

    def __init__(self, name: str, readings: tuple[Reading, ...]) -> None:
        first, second = readings[0], readings[1]
        super().__init__(
            f"'{name}' reads as plausible text in two encodings: {_describe(first)} and "
            f"{_describe(second)}; the app will not guess. Pick one: --encoding {first.codec} or "
            f"--encoding {second.codec} (on the Datasets page: 'Read the file as').")
        self.readings = readings


def _describe(reading: Reading) -> str:
    language = f"{reading.language} " if reading.language else ""
    example = reading.preview[0][:40] if reading.preview else ""
    return f"{language}in {reading.label} ('{example}')"


@dataclass(frozen=True)
class _Candidate:
    codec: str
    text: str
    score: float  # plausibility plus language evidence, over the whole sample
    plausibility: float
    script: str
    language: str | None
    detector_rank: int | None


_FIT_WEIGHT = 0.6  # how much the language evidence counts next to plausibility
_MARGIN = 0.2  # a rival closer than this on the text where the readings differ: ask


def score_reading(text: str, codec: str | None = None) -> tuple[float, float, str, str | None]:
    """Score (plausibility + weighted language fit), plausibility, main script and language."""
    plaus, script = plausibility_and_script(text, codec)
    language, fit = language_fit(text)
    return plaus + _FIT_WEIGHT * fit, plaus, script, language


def rank_encodings(sample: bytes) -> list[_Candidate]:
    """Encodings that decode ``sample``, best first (by score, then the detector, then commonness)."""
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
        score, plaus, script, language = score_reading(text, codec)
        ranks = [r for c, r in detector.items() if c == codec]
        seen[text] = _Candidate(codec, text, score, plaus, script, language,
                                ranks[0] if ranks else None)
    order = {c: i for i, c in enumerate(_GUESSES)}
    return sorted(seen.values(), key=lambda c: (
        -round(c.score, 2), c.detector_rank is None, order.get(c.codec, 99)))


_SPLIT = re.compile(r"[ \t\n\r,;|\"]+")


def duel(a: str, b: str, codec_a: str, codec_b: str) -> float:
    """How much better reading ``a`` is than ``b`` (negative: worse), judged on the words where
    they differ, so that two readings that differ in one letter in a thousand are judged on it."""
    words_a, words_b = _SPLIT.split(a), _SPLIT.split(b)
    if len(words_a) == len(words_b):
        pairs = [(x, y) for x, y in zip(words_a, words_b, strict=True) if x != y]
        if not pairs:
            return 0.0
        a, b = " ".join(x for x, _ in pairs), " ".join(y for _, y in pairs)
    return score_reading(a, codec_a)[0] - score_reading(b, codec_b)[0]


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


def _preview(text: str, lines: int = 5) -> tuple[str, ...]:
    return tuple(line.strip()[:120] for line in text.splitlines() if not line.isascii())[:lines]


def _guess(data: bytes, name: str, first_bad: int) -> tuple[str, Decoding]:
    sample = _sample(data)
    ranked = [c for c in rank_encodings(sample) if c.plausibility >= 0.55]
    while True:  # only the chosen reading of the whole file is kept in memory
        if not ranked:
            raise DatasetError(
                f"'{name}' is not UTF-8 (byte 0x{data[first_bad]:02x} on line "
                f"{_line_of(data, first_bad)}) and does not read as text in any encoding this app "
                "knows; save it as CSV UTF-8 and upload it again.")
        best = ranked[0]
        for cand in ranked[1:]:  # a rival that reads better where the two differ takes over
            if cand.score >= best.score - 0.5 and duel(cand.text, best.text, cand.codec, best.codec) > 0:
                best = cand
        try:
            text = data.decode(best.codec)
            break
        except UnicodeDecodeError:
            ranked.remove(best)  # a byte beyond the sample does not fit this one
    close = [c for c in ranked if c is not best and c.score >= best.score - 0.5
             and duel(best.text, c.text, best.codec, c.codec) < _MARGIN and _decodes(data, c.codec)]
    foreign = [c for c in close if not (c.script in _LATINISH and best.script in _LATINISH)]
    if foreign:
        rival = foreign[0]
        raise EncodingQuestion(name, tuple(
            Reading(c.codec, encoding_label(c.codec), c.language, _preview(c.text))
            for c in (best, rival)))
    label = encoding_label(best.codec)
    doubt = _doubt(name, best, close)
    language = f" {best.language}" if best.language else ""
    note = (f"'{name}' is not UTF-8, so it was read as {label}: it reads as{language} text in that "
            "encoding and clearly worse in any other." if doubt is None else
            f"'{name}' is not UTF-8 (byte 0x{data[first_bad]:02x} on line "
            f"{_line_of(data, first_bad)}), so it was read as {label}; check the preview, "
            "or pick the right encoding under 'Read the file as'.")
    if doubt is None:
        return text, Decoding(best.codec, label, None, (), (note,))
    return text, Decoding(best.codec, label, doubt, (note, doubt))


_LATINISH = {"LATIN", "ASCII", "OTHER"}


def _decodes(data: bytes, codec: str) -> bool:
    """Whether every byte of ``data`` is valid in ``codec`` (checked in 1 MB steps)."""
    decoder = codecs.getincrementaldecoder(codec)()
    step = 2**20
    try:
        for start in range(0, len(data), step):
            decoder.decode(data[start:start + step], final=start + step >= len(data))
    except UnicodeDecodeError:
        return False
    return True


def _doubt(name: str, chosen: _Candidate, close: list[_Candidate]) -> str | None:
    """A sentence when the (Latin) guess could well be wrong, else None."""
    clues = sum(1 for ch in chosen.text if ord(ch) > 127)
    label = encoding_label(chosen.codec)
    if clues < _MIN_CLUES:
        return (f"The encoding of '{name}' is a guess ({label}) from only {clues} non-ASCII "
                "character(s); check those texts in the preview.")
    if close:
        return (f"The encoding of '{name}' is uncertain: it reads almost as well as "
                f"{encoding_label(close[0].codec)} as it does as {label}; check the preview.")
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
    weight -= 3.0 * stray_symbols(text)
    if not total:
        return 1.0, "ASCII"
    main = max(scripts, key=scripts.__getitem__) if scripts else "OTHER"
    return weight / total, main


_OPENING_QUOTES = "’‘"


def stray_symbols(text: str) -> int:
    """Symbols glued to a letter of a non-Latin script ('¶νοιξε', 'п╕ять', '’νοιξε' at a word's
    start) and word-final letters inside a word ('ας' fine, 'ςα' not): the marks of bytes read in
    a sibling code page, never seen in real writing."""
    count = 0
    for i, ch in enumerate(text):
        if ch.isascii() or ch.isalnum() or (ch in _COMMON_PUNCT and ch not in _OPENING_QUOTES):
            continue
        if unicodedata.category(ch)[0] == "M":  # a Thai tone mark on a Latin letter: 'Tr่s'
            own = unicodedata.name(ch, "").split(" ", 1)[0]
            before = text[i - 1] if i else ""
            if own in _SCRIPT_NAMES and before.isalpha() and (script_of(before) or "") != own:
                count += 1
            continue
        after = text[i + 1] if i + 1 < len(text) else ""
        before = text[i - 1] if i else ""
        if ch in _OPENING_QUOTES:  # an apostrophe opens no word of a non-Latin script
            if _foreign_letter(after) and not before.isalpha():
                count += 1
        elif unicodedata.category(ch)[0] in "SP" and (_foreign_letter(after) or _foreign_letter(before)):
            count += 1
    return count + len(_FINAL_INSIDE.findall(text))


# Letters that only end a word, followed by a letter: 'ς' inside a Greek word, a Hebrew final form.
_FINAL_INSIDE = re.compile(r"ς(?=[\u0370-\u03ff])|[ךםןףץ](?=[\u05d0-\u05ea])")


def _foreign_letter(ch: str) -> bool:
    return bool(ch) and not ch.isascii() and ch.isalpha() and script_of(ch) not in ("LATIN", None)


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
