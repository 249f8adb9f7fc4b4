"""Writing systems of characters: which script a letter belongs to, and how usual it is.

Used to judge a decoding (common letters of one script read as text, rare symbols as noise)
and to name the scripts and likely languages of a text column.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

# Unicode name prefixes of the scripts we name; everything else is "OTHER".
SCRIPTS = ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "GEORGIAN", "ARABIC", "HEBREW", "THAI",
           "DEVANAGARI", "BENGALI", "TAMIL", "TELUGU", "KANNADA", "MALAYALAM", "GUJARATI",
           "GURMUKHI", "KHMER", "LAO", "MYANMAR", "ETHIOPIC", "CJK", "HIRAGANA", "KATAKANA",
           "HANGUL")
SCRIPT_NAMES = {"LATIN": "Latin", "CYRILLIC": "Cyrillic", "GREEK": "Greek", "ARMENIAN": "Armenian",
                "GEORGIAN": "Georgian", "ARABIC": "Arabic", "HEBREW": "Hebrew", "THAI": "Thai",
                "DEVANAGARI": "Devanagari", "BENGALI": "Bengali", "TAMIL": "Tamil",
                "TELUGU": "Telugu", "KANNADA": "Kannada", "MALAYALAM": "Malayalam",
                "GUJARATI": "Gujarati", "GURMUKHI": "Gurmukhi", "KHMER": "Khmer", "LAO": "Lao",
                "MYANMAR": "Myanmar", "ETHIOPIC": "Ethiopic", "CJK": "Han (Chinese characters)",
                "HIRAGANA": "Hiragana", "KATAKANA": "Katakana", "HANGUL": "Hangul"}
# Scripts written without spaces between words.
UNSPACED = {"CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR"}
# Name prefixes of letters that belong to a named script: ー, 々, ﾞ.
_ALSO = {"KATAKANA-HIRAGANA": "KATAKANA", "IDEOGRAPHIC": "CJK", "VERTICAL": "CJK"}
COMMON_PUNCT = frozenset("’‘“”„–—…«»•·¡¿€£¥©®°×、。，！？：；（）「」『』【】《》〈〉・ー～　")
_COMMON_PUNCT = COMMON_PUNCT


@lru_cache(maxsize=65536)
def script_of(ch: str) -> str | None:
    """The script of a letter ('CJK', 'LATIN', …), 'OTHER' for other letters, None otherwise."""
    if not ch.isalpha():
        return None
    name = unicodedata.name(ch, "")
    if name.startswith("HALFWIDTH KATAKANA"):
        return "KATAKANA"
    if name.startswith(("HALFWIDTH HANGUL", "HANGUL")):
        return "HANGUL"
    first = name.split(" ", 1)[0]
    return first if first in SCRIPTS else _ALSO.get(first, "OTHER")


@lru_cache(maxsize=65536)
def char_weight(ch: str) -> tuple[float, str | None]:
    """How usual a non-ASCII character is in real text (1 usual … -3 never), and its script."""
    script = script_of(ch)
    if script is not None:
        return _letter_weight(ch, script), script
    if ch in _COMMON_PUNCT:
        return 1.0, None
    category = unicodedata.category(ch)
    if category in ("Cc", "Co", "Cn", "Cs") or ch == "\ufffd":
        return -3.0, None
    if category.startswith("M") or category == "Nd":
        return 0.7, None
    if category in ("Zs", "Cf") or category.startswith("P"):
        return 0.5, None
    if category in ("No", "Sk"):  # ² ¼ ´ ¨ ¸: rare in text, common in mis-decoded bytes
        return -0.5, None
    return 0.0, None


def _letter_weight(ch: str, script: str) -> float:
    if script == "CJK":
        return 1.0 if _common_han(ch) else 0.25
    if script == "HANGUL":
        return 1.0 if _encodes(ch, "euc_kr") else 0.25
    if script == "KATAKANA" and "HALFWIDTH" in unicodedata.name(ch, ""):
        return 0.1  # single Shift-JIS bytes: what a Western file read as Japanese shows
    if script == "OTHER":
        return 0.2  # ª º µ and letters of scripts we do not name
    return 1.0


def _encodes(ch: str, codec: str) -> bytes | None:
    try:
        return ch.encode(codec)
    except UnicodeEncodeError:
        return None


def _common_han(ch: str) -> bool:
    """In the frequent-character block of GB2312, Big5 or JIS X 0208 (about 3,000–5,400 each)."""
    gb = _encodes(ch, "gb2312")
    if gb is not None and 0xB0 <= gb[0] <= 0xD7:
        return True
    big5 = _encodes(ch, "big5")
    if big5 is not None and 0xA4 <= big5[0] <= 0xC6:
        return True
    sjis = _encodes(ch, "shift_jis")
    return sjis is not None and 0x88 <= sjis[0] <= 0x98


def script_counts(texts: Iterable[str], limit_chars: int = 400) -> Counter[str]:
    """Letters per script over texts (each text's first ``limit_chars`` characters)."""
    counts: Counter[str] = Counter()
    for text in texts:
        for ch in str(text)[:limit_chars]:
            if ch.isascii():
                if ch.isalpha():
                    counts["LATIN"] += 1
                continue
            script = script_of(ch)
            if script:
                counts[script] += 1
    return counts


def guess_language(counts: Counter[str]) -> str | None:
    """A language the script mix points to, where a script points to one ('Japanese' for kana)."""
    total = sum(counts.values()) or 1
    kana = counts["HIRAGANA"] + counts["KATAKANA"]
    if kana / total > 0.05:
        return "Japanese"
    if counts["HANGUL"] / total > 0.3:
        return "Korean"
    if counts["CJK"] / total > 0.3:
        return "Chinese"
    for script, language in (("THAI", "Thai"), ("GREEK", "Greek"), ("HEBREW", "Hebrew"),
                             ("ARMENIAN", "Armenian"), ("GEORGIAN", "Georgian")):
        if counts[script] / total > 0.3:
            return language
    return None


def has_word_separators(texts: Iterable[str]) -> bool:
    """False when most letters belong to scripts written without spaces (Chinese, Japanese, Thai)."""
    counts = script_counts(texts)
    total = sum(counts.values())
    return not total or sum(v for k, v in counts.items() if k in UNSPACED) / total < 0.5


# The most frequent letters of languages in non-Latin scripts, most frequent first: evidence that
# tells two readings of the same bytes apart (a wrong reading is made of a language's rare
# letters, or of letters that fit no language). Alphabets and the Han lists come from
# charset-normalizer's frequency tables; traditional forms and Korean syllables are added here.
_TRADITIONAL = "這個們來為國說時會對種過發後裡經麼現當沒動還進從實開樣與學見長間東氣話書電語無點問題"
_KOREAN = ("이다는의에하고을가지기한로서사대리도인일시를수자어정아있나해그들보요게니으상주부거내만전적"
           "라것면장제원무구동화성소여세비공경계우오과문했었조연관신마모중생국되없위미치개실학분와스발"
           "방회물당안저던까데금말선용유식명단통결께렇할된")
# Languages written with each script, with how much of real text their listed letters cover.
_PROFILES: tuple[tuple[str, frozenset[str], str, float], ...] = ()


def _profiles() -> tuple[tuple[str, frozenset[str], str, float], ...]:
    """(language, script group, frequent letters, share of letters they cover in real text)."""
    global _PROFILES
    if _PROFILES:
        return _PROFILES
    try:
        from charset_normalizer.constant import FREQUENCIES
    except ImportError:  # pragma: no cover - a pinned dependency
        FREQUENCIES = {}  # noqa: N806
    han = "".join(FREQUENCIES.get("Chinese", [])) + _TRADITIONAL
    kana = "".join(FREQUENCIES.get("Japanese——", [])[:45] + FREQUENCIES.get("Japanese—", [])[:45])
    profiles: list[tuple[str, frozenset[str], str, float]] = [
        ("Chinese", frozenset({"CJK"}), han, 0.30),
        ("Japanese", frozenset({"CJK", "HIRAGANA", "KATAKANA"}),
         kana + "".join(FREQUENCIES.get("Japanese", [])) + han, 0.55),
        ("Korean", frozenset({"HANGUL"}), _KOREAN, 0.45),
    ]
    for language in ("Russian", "Ukrainian", "Bulgarian", "Serbian", "Greek", "Hebrew",
                     "Arabic", "Farsi", "Thai"):
        letters = "".join(ch for ch in FREQUENCIES.get(language, []) if not ch.isascii())[:10]
        if letters:
            profiles.append((language, frozenset({script_of(letters[0]) or "OTHER"}), letters, 0.5))
    _PROFILES = tuple(profiles)
    return _PROFILES


def language_fit(text: str) -> tuple[str | None, float]:
    """The language whose most frequent letters best explain the non-ASCII letters of ``text``,
    and how well (1: as often as in real text, up to 1.5; 0: never). (None, 0.5) when no listed language
    uses the text's script (Latin, or too few letters to tell)."""
    letters: Counter[str] = Counter(ch.lower() for ch in text if ch.isalpha() and not ch.isascii())
    by_script: Counter[str] = Counter()
    for ch, n in letters.items():
        by_script[script_of(ch) or "OTHER"] += n
    total = sum(letters.values())
    if not total:
        return None, 0.5
    # Real writing is mostly lower case; a sibling code page often swaps the cases.
    cased = [ch for ch in text if ch.isalpha() and not ch.isascii() and ch.lower() != ch.upper()]
    upper = sum(ch.isupper() for ch in cased) / len(cased) if len(cased) >= 8 else 0.0
    case_factor = min(1.0, 2.0 * (1.0 - upper))
    best: tuple[str | None, float] = (None, 0.5 * case_factor)
    best_value = -1.0
    for language, scripts, frequent, expected in _profiles():
        own = sum(by_script[s] for s in scripts)
        if own < 0.5 * total:
            continue
        hits = sum(n for ch, n in letters.items() if ch in frequent)
        if language == "Japanese":  # Han that Japanese codecs cannot write: not Japanese text
            hits -= sum(n for ch, n in letters.items()
                        if script_of(ch) == "CJK" and _encodes(ch, "cp932") is None)
        fit = max(0.0, min(1.5, hits / total / expected)) * case_factor
        if fit > best_value:
            best, best_value = (language, fit), fit
    return best
