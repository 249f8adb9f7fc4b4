"""The scripts and language of a text column, and whether the chosen model's vocabulary reads them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.data.datasets import SplitConfig, check_dataset, frame_to_parsed
from core.data.language import script_shares
from core.text.scripts import guess_language, has_word_separators, script_counts

CHINESE = ["这部电影非常好看，演员的表演很出色", "剧情很无聊，浪费时间", "画面漂亮，音乐也很好听",
           "我不推荐这部电影，太长了", "故事感人，值得一看", "导演讲故事的方式让人失望"]


def _codes(report) -> dict:
    return {f.code: f for f in report.findings}


def test_scripts_and_languages_are_named() -> None:
    assert guess_language(script_counts(CHINESE)) == "Chinese"
    assert guess_language(script_counts(["この映画はとても面白かったです"])) == "Japanese"
    assert guess_language(script_counts(["이 영화 정말 재미있어요"])) == "Korean"
    assert guess_language(script_counts(["The plot was dull"])) is None
    assert script_shares(["Этот фильм"]) == {"CYRILLIC": 1.0}
    assert not has_word_separators(CHINESE) and has_word_separators(["Этот фильм очень хороший"])


def test_minilm_on_chinese_warns_and_names_a_model_that_reads_it(home: Path) -> None:
    frame = pd.DataFrame({"text": [f"{t}{i}" for i in range(10) for t in CHINESE],
                          "label": ["pos", "neg"] * 30})
    report = check_dataset(frame_to_parsed(frame, "cn.csv"), {"text": "text", "label": "label"},
                           task="classification", split=SplitConfig(), model_key="minilm-l6")
    found = _codes(report)
    warning = found["unknown_tokens"]
    assert warning.severity == "warning" and "MiniLM-L6" in warning.message
    assert "SmolLM2-135M-Instruct (0% unknown" in warning.message  # it reads Chinese
    assert "xlm-roberta-base" in warning.message
    assert report.stats["vocabulary"]["unknown_share"] > 0.5
    assert "it looks like Chinese" in found["scripts"].message
    assert report.stats["language"] == "Chinese"


def test_english_text_has_no_language_warning(home: Path) -> None:
    frame = pd.DataFrame({"text": [f"review {i} says the plot was {'good' if i % 2 else 'bad'}"
                                   for i in range(60)], "label": ["pos", "neg"] * 30})
    report = check_dataset(frame_to_parsed(frame, "en.csv"), {"text": "text", "label": "label"},
                           task="classification", split=SplitConfig())
    found = _codes(report)
    assert "unknown_tokens" not in found and "scripts" not in found
    assert report.stats["vocabulary"]["unknown_share"] == 0.0
    assert report.stats["vocabulary"]["chars_per_token"] > 3


def test_the_catalogue_lists_the_languages_each_text_model_reads(home: Path) -> None:
    from core.models import catalog

    models = {m.key: m for m in catalog.list_models()}
    assert "English" in models[catalog.MINILM_KEY].languages
    assert "any script" in models[catalog.SMOLLM2_KEY].languages
