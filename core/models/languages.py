"""The languages a model reads, measured on a sample of each language rather than declared.

For every language of the bundled chat corpus (``chatterbot-corpus``: 27 languages, from English
to Chinese, Thai, Hindi and Yoruba) the model's own tokenizer reads the first ``SAMPLE_TEXTS``
texts; the figures are its unknown-token share (letters it has no token for: ``[UNK]``) and the
characters per token (what a text costs in context and speed). A model *reads* a language when at
most ``READS_WELL`` of its tokens are unknown, *reads it poorly* up to ``UNREADABLE``, and cannot
above that. No unknown tokens is not yet reading in words: MiniLM spells Russian letter by letter
(1.0 character per token) and a byte-level tokenizer (SmolLM2) never says unknown but cuts Chinese
into byte pieces (0.6). Below ``WORD_PIECES`` characters per token a language it reads is reported
as spelt out in pieces: more tokens per text, and little of the language learnt in pre-training.

Results are cached in ``UCLAB_HOME/models/languages.json`` per model, keyed by a fingerprint of
its tokenizer file and the sample version, so a model is measured once (a second or two).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.config import get_settings
from core.models.assets import package_file

SAMPLE_TEXTS = 40
SAMPLE_VERSION = 1  # raise when the sample changes, so cached figures are measured again
READS_WELL = 0.01
UNREADABLE = 0.05
WORD_PIECES = 1.5  # characters per token: below it a read language is spelt out letter by letter
CACHE_FILE = "languages.json"
# chatterbot-corpus folder -> the language's name; Hinglish (Hindi in Latin letters) is left out.
CORPUS_LANGUAGES = {
    "english": "English", "french": "French", "german": "German", "spanish": "Spanish",
    "italian": "Italian", "portuguese": "Portuguese", "dutch": "Dutch", "swedish": "Swedish",
    "indonesian": "Indonesian", "turkish": "Turkish", "yoruba": "Yoruba", "russian": "Russian",
    "ukrainian": "Ukrainian", "hebrew": "Hebrew", "persian": "Persian", "urdu": "Urdu",
    "hindi": "Hindi", "marathi": "Marathi", "bengali": "Bengali", "oriya": "Odia", "tamil": "Tamil",
    "telugu": "Telugu", "thai": "Thai", "chinese": "Chinese (simplified)",
    "traditionalchinese": "Chinese (traditional)", "japanese": "Japanese", "korean": "Korean"}
_lock = threading.Lock()


@dataclass(frozen=True)
class LanguageReading:
    """How one model's tokenizer reads one language's sample."""

    language: str
    texts: int
    tokens: int
    unknown_share: float
    chars_per_token: float

    @property
    def verdict(self) -> str:
        """'reads', 'spells out', 'reads poorly' or 'cannot read'."""
        if self.unknown_share <= READS_WELL:
            return "reads" if self.chars_per_token >= WORD_PIECES else "spells out"
        return "reads poorly" if self.unknown_share <= UNREADABLE else "cannot read"


@lru_cache(maxsize=1)
def language_samples() -> dict[str, list[str]]:
    """Per language, its first SAMPLE_TEXTS prompts and answers of the chat corpus (files in name order)."""
    import yaml

    root = package_file("chatterbot-corpus", "chatterbot_corpus/data")
    out: dict[str, list[str]] = {}
    for folder, language in CORPUS_LANGUAGES.items():
        texts: list[str] = []
        for f in sorted((root / folder).glob("*.yml")):
            for conv in yaml.safe_load(f.read_text(encoding="utf-8")).get("conversations", []) or []:
                texts += [str(t) for t in conv if isinstance(t, str | int | float) and str(t).strip()]
        if texts:
            out[language] = texts[:SAMPLE_TEXTS]
    return out


def _tokenizer_file(model_key: str) -> Path | None:
    """The model's own tokenizer.json, or None (no stand-in: a measurement must be the model's own)."""
    from core.models.tokenlength import _tokenizer_path

    path, used, _ = _tokenizer_path(model_key)
    return Path(path) if used == model_key else None


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return f"{digest}-v{SAMPLE_VERSION}-{SAMPLE_TEXTS}"


def measure(tokenizer: Any, samples: dict[str, list[str]]) -> list[LanguageReading]:
    """The unknown-token share and characters per token of a ``tokenizers.Tokenizer`` per language."""
    unk_token = getattr(tokenizer.model, "unk_token", None)
    unk_id = tokenizer.token_to_id(unk_token) if unk_token else None
    out = []
    for language, texts in samples.items():
        encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False)
        tokens = sum(len(e.ids) for e in encodings)
        if not tokens:
            continue
        unknown = sum(e.ids.count(unk_id) for e in encodings) if unk_id is not None else 0
        chars = sum(len("".join(t.split())) for t in texts)
        out.append(LanguageReading(language, len(texts), tokens, round(unknown / tokens, 4),
                                   round(chars / tokens, 2)))
    return out


def _cache_path() -> Path:
    return get_settings().models_dir / CACHE_FILE


def _read_cache() -> dict[str, Any]:
    try:
        return json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def cached_languages(model_key: str) -> list[LanguageReading] | None:
    """The cached measurement of a model (whatever its fingerprint), or None; never measures."""
    entry = _read_cache().get(model_key)
    return [LanguageReading(**r) for r in entry["languages"]] if entry else None


def model_languages(model_key: str) -> list[LanguageReading] | None:
    """The model's reading of every sample language, measured once and cached; None when the model
    has no tokenizer of its own (tabular models) or cannot be found."""
    from core.models.tokenlength import _load

    try:
        path = _tokenizer_file(model_key)
    except Exception:  # noqa: BLE001 - an unknown or broken model has nothing to measure
        return None
    if path is None:
        return None
    stamp = _fingerprint(path)
    with _lock:
        cache = _read_cache()
        entry = cache.get(model_key)
        if entry and entry.get("fingerprint") == stamp:
            return [LanguageReading(**r) for r in entry["languages"]]
        readings = measure(_load(str(path)), language_samples())
        cache[model_key] = {"fingerprint": stamp, "languages": [asdict(r) for r in readings],
                            "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
        target = _cache_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(target)
    return readings


def summary(readings: list[LanguageReading] | None) -> str:
    """One line: the languages it reads in words, spells out in pieces, reads poorly, cannot read."""
    if not readings:
        return ""
    cheap = [r.language for r in readings if r.verdict == "reads"]
    costly = [f"{r.language} ({r.chars_per_token:.1f})" for r in readings if r.verdict == "spells out"]
    poor = [f"{r.language} ({r.unknown_share:.0%} unknown)" for r in readings if r.verdict == "reads poorly"]
    cannot = [f"{r.language} ({r.unknown_share:.0%})" for r in readings if r.verdict == "cannot read"]
    parts = []
    if cheap:
        parts.append(f"reads {', '.join(cheap)}")
    if costly:
        parts.append(f"spells out letter by letter or in byte pieces (characters per token) "
                     f"{', '.join(costly)}")
    if poor:
        parts.append(f"reads poorly {', '.join(poor)}")
    if cannot:
        parts.append(f"cannot read (unknown tokens) {', '.join(cannot)}")
    text = "; ".join(parts)
    return f"Measured on {len(readings)} languages: {text}." if text else ""
