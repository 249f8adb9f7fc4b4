"""Mojibake: text whose bytes were read in the wrong encoding ('Õâ²¿µçÓ°' for '这部电影').

A text is mojibake of a pair (true, read as) when encoding it back as "read as" and decoding the
bytes as "true" succeeds and reads clearly better as text: plausibility plus the language
evidence of ``core.text.encoding.score_reading``, so Japanese read as Korean ('궞궻뎕됪궼') or
Simplified Chinese read as Big5 are caught although both readings are made of real characters.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.text.encoding import encoding_label, score_reading

# (the file's real encoding, the encoding it was read as): the pairs seen in practice.
PAIRS = (("utf-8", "cp1252"), ("utf-8", "latin-1"), ("utf-8", "cp1251"), ("utf-8", "gbk"),
         ("utf-8", "cp932"), ("utf-8", "cp949"), ("utf-8", "cp950"), ("gbk", "cp1252"),
         ("cp950", "cp1252"), ("cp932", "cp1252"), ("cp949", "cp1252"), ("cp1251", "cp1252"),
         ("cp1252", "cp1251"), ("cp1251", "koi8-r"), ("cp932", "cp949"), ("euc-jp", "gbk"),
         ("gbk", "cp950"), ("cp950", "gbk"), ("cp1255", "cp1251"), ("koi8-u", "koi8-r"),
         ("iso8859-7", "cp1253"))
_BETTER_BY = 0.3


@dataclass(frozen=True)
class Repair:
    """What a garbled text would read as, and which mix-up made it."""

    fixed: str
    true_encoding: str
    read_as: str

    @property
    def sentence(self) -> str:
        return f"{encoding_label(self.true_encoding)} text read as {encoding_label(self.read_as)}"


def find_repair(text: str, limit_chars: int = 300) -> Repair | None:
    """The pair that turns ``text`` into clearly better text, or None if it reads fine."""
    text = text[:limit_chars]
    if text.isascii():
        return None
    current: float | None = None
    for true, read_as in PAIRS:
        try:
            fixed = text.encode(read_as).decode(true)
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if fixed == text:
            continue
        if current is None:
            current = score_reading(text)[0]
        if score_reading(fixed)[0] >= current + _BETTER_BY:
            return Repair(fixed, true, read_as)
    return None
