"""Files saved in the encodings of Windows, Excel and old Unix systems import intact or are refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.data.datasets import SplitConfig, read_upload, save_dataset
from core.errors import DatasetError
from core.text.encoding import ENCODINGS, decode_bytes, encoding_label

REVIEWS = {
    "gbk": ["这部电影非常好看，演员的表演很出色", "剧情很无聊，浪费时间", "画面漂亮，音乐也很好听",
            "我不推荐这部电影，太长了", "故事感人，值得一看", "导演讲故事的方式让人失望"],
    "big5": ["這部電影非常好看，演員的表演很出色", "劇情很無聊，浪費時間", "畫面漂亮，音樂也很好聽",
             "我不推薦這部電影，太長了", "故事感人，值得一看", "導演講故事的方式讓人失望"],
    "shift_jis": ["この映画はとても面白かったです", "ストーリーが退屈でした", "俳優の演技が素晴らしい",
                  "長すぎて眠くなりました", "音楽がとても美しい映画です", "もう一度見たいとは思いません"],
    "euc_kr": ["이 영화 정말 재미있어요", "줄거리가 지루했어요", "배우들의 연기가 훌륭해요",
               "너무 길어서 졸렸어요", "음악이 정말 아름다워요", "다시 보고 싶지 않아요"],
    "cp1251": ["Этот фильм очень хороший, актёры прекрасны", "Сюжет скучный, зря потратил время",
               "Красивая музыка и съёмки", "Слишком длинный и затянутый",
               "Трогательная история, советую", "Режиссёр разочаровал"],
    "cp1252": ["Très bon film, j’ai adoré", "Ennuyeux… quel dommage", "Les acteurs sont géniaux",
               "Trop long, je me suis endormi", "Une histoire émouvante, à voir", "Ça ne vaut pas le détour"],
    "utf-16": ["Fußball-Film: großartig", "这部电影非常好看", "Этот фильм очень хороший",
               "この映画は面白い", "너무 길어요", "Ennuyeux… quel dommage"],
}
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg"]
EXPECTED = {"gbk": "gbk", "big5": "cp950", "shift_jis": "cp932", "euc_kr": "cp949",
            "cp1251": "cp1251", "cp1252": "cp1252", "utf-16": "utf-16"}


def _csv(encoding: str, repeat: int = 5) -> tuple[bytes, list[str]]:
    texts = [f"{t} ({i})" for i in range(repeat) for t in REVIEWS[encoding]]
    labels = LABELS * repeat
    body = "text,label\n" + "".join(f'"{t}",{lab}\n' for t, lab in zip(texts, labels, strict=True))
    return body.encode(encoding), texts


@pytest.mark.parametrize("encoding", list(REVIEWS))
def test_each_encoding_is_stored_intact(home: Path, encoding: str) -> None:
    data, texts = _csv(encoding)
    parsed = read_upload(data, f"reviews-{encoding}.csv")
    assert parsed.encoding == EXPECTED[encoding]
    assert parsed.frame["text"].tolist() == texts
    saved = save_dataset(parsed, {"text": "text", "label": "label"}, name=f"r {encoding}",
                         task="classification", split=SplitConfig(0.2, 0.2, seed=1))
    stored = pd.read_parquet(home / saved.path)
    assert sorted(stored["text"]) == sorted(texts)  # the Parquet holds the original strings
    assert saved.info["encoding"] == EXPECTED[encoding]


@pytest.mark.parametrize("encoding", ["gbk", "big5", "shift_jis", "euc_kr", "cp1251"])
def test_the_guess_is_named_and_not_uncertain_with_enough_text(home: Path, encoding: str) -> None:
    data, _ = _csv(encoding)
    parsed = read_upload(data, "reviews.csv")
    label = encoding_label(EXPECTED[encoding])
    assert parsed.encoding_label == label
    assert any(f"read as {label}" in n for n in parsed.notes)  # never silent, but calm
    assert not any("not UTF-8" in w for w in parsed.warnings)  # no alarm for a confident read
    assert parsed.encoding_uncertain is None


def test_gbk_is_read_as_gbk_not_as_mojibake(home: Path) -> None:
    data = "text,label\n这部电影非常好看,pos\n剧情很无聊，浪费时间,neg\n".encode("gbk")
    parsed = read_upload(data, "cn.csv")
    assert "Õâ²¿µçÓ°" not in parsed.frame["text"].iloc[0]
    assert parsed.frame["text"].iloc[0] == "这部电影非常好看"
    assert parsed.encoding_label == "GBK (Chinese, simplified)"


def test_a_guess_from_few_characters_says_so(home: Path) -> None:
    rows = "".join(f"review {i},pos\n" for i in range(200))
    data = ("text,label\n" + rows).encode() + "café crème,neg\n".encode("cp1252")
    parsed = read_upload(data, "few.csv")
    assert parsed.frame["text"].iloc[-1] == "café crème"
    assert parsed.encoding_uncertain and "guess" in parsed.encoding_uncertain


def test_the_user_can_override_the_guess(home: Path) -> None:
    data, texts = _csv("cp1251")
    wrong = read_upload(data, "ru.csv", encoding="cp1252")
    assert wrong.encoding == "cp1252" and wrong.frame["text"].tolist() != texts
    right = read_upload(data, "ru.csv", encoding="cp1251")
    assert right.frame["text"].tolist() == texts


def test_an_override_that_cannot_decode_is_one_sentence(home: Path) -> None:
    data, _ = _csv("gbk")
    with pytest.raises(DatasetError) as err:
        read_upload(data, "cn.csv", encoding="utf-8")
    assert "cannot be read as UTF-8" in str(err.value) and "pick another encoding" in str(err.value)
    with pytest.raises(DatasetError, match="not an encoding this app knows"):
        read_upload(data, "cn.csv", encoding="klingon")


def test_undecodable_bytes_are_refused_and_nothing_is_stored(home: Path) -> None:
    data = b"text,label\n" + bytes(range(0x80, 0x100)) * 4 + b"\x01\x02,pos\n"
    with pytest.raises(DatasetError, match="does not read as text in any encoding"):
        read_upload(data, "noise.csv")
    assert not (home / "datasets").exists() or not any((home / "datasets").iterdir())


def test_utf32_with_bom_and_json_in_gbk(home: Path) -> None:
    parsed = read_upload("text,label\n好看,pos\n无聊,neg\n".encode("utf-32"), "u32.csv")
    assert parsed.encoding == "utf-32" and parsed.frame["text"].tolist() == ["好看", "无聊"]
    rows = "".join(f'{{"text": "{t}", "label": "pos"}}\n' for t in REVIEWS["gbk"])
    parsed = read_upload(rows.encode("gbk"), "cn.jsonl")
    assert parsed.encoding == "gbk" and parsed.frame["text"].tolist() == REVIEWS["gbk"]


def test_every_offered_encoding_exists() -> None:
    for codec in ENCODINGS:
        text, how = decode_bytes("abc".encode(codec), "x.csv", codec)
        assert text == "abc" and how.encoding == codec
