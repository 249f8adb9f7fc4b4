"""The languages a model reads, measured with its own tokenizer on the chat corpus and cached."""

from __future__ import annotations

import json

import pytest

from core.models import languages
from core.text.scripts import script_counts


def _by_language(readings: list[languages.LanguageReading]) -> dict[str, languages.LanguageReading]:
    return {r.language: r for r in readings}


def test_every_corpus_language_has_a_sample_in_its_own_script() -> None:
    samples = languages.language_samples()
    assert len(samples) == len(languages.CORPUS_LANGUAGES) == 27
    assert all(10 <= len(texts) <= languages.SAMPLE_TEXTS for texts in samples.values())  # Thai has 20
    for language, script in (("Chinese (simplified)", "CJK"), ("Thai", "THAI"), ("Russian", "CYRILLIC"),
                             ("Hindi", "DEVANAGARI"), ("Korean", "HANGUL")):
        assert script_counts(samples[language]).most_common(1)[0][0] == script


def test_minilm_is_measured_reading_english_but_not_chinese_or_thai(home) -> None:
    found = _by_language(languages.model_languages("minilm-l6"))
    assert found["English"].verdict == "reads" and found["English"].unknown_share == 0.0
    assert found["English"].chars_per_token > 3
    assert found["Chinese (simplified)"].unknown_share > 0.5  # the [UNK] share the dataset check warns of
    assert found["Chinese (simplified)"].verdict == found["Thai"].verdict == "cannot read"
    assert found["Russian"].verdict == "spells out"  # no [UNK], but one Cyrillic letter per token
    text = languages.summary(list(found.values()))
    assert text.startswith("Measured on 27 languages: reads English, French")
    assert "cannot read (unknown tokens)" in text and "Chinese (simplified) (66%)" in text


def test_the_measurement_is_cached_until_the_tokenizer_changes(home, monkeypatch) -> None:
    first = languages.model_languages("minilm-l6")
    cache = json.loads((home / "models" / languages.CACHE_FILE).read_text(encoding="utf-8"))
    assert cache["minilm-l6"]["languages"][0]["language"] == "English"

    def refuse(*_args: object) -> list:
        raise AssertionError("measured again although nothing changed")

    monkeypatch.setattr(languages, "measure", refuse)
    assert languages.model_languages("minilm-l6") == first
    assert languages.cached_languages("minilm-l6") == first
    monkeypatch.setattr(languages, "_fingerprint", lambda path: "another tokenizer")
    with pytest.raises(AssertionError, match="measured again"):
        languages.model_languages("minilm-l6")


def test_models_without_a_tokenizer_have_no_languages(home) -> None:
    assert languages.model_languages("mlp") is None
    assert languages.model_languages("no-such-model") is None
    assert languages.summary(None) == ""
