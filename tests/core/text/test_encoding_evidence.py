"""The decoder decides between readings of one file with evidence that separates them, and asks
when the evidence is thin. Each case here was stored wrong, or refused, before."""

from __future__ import annotations

import pytest

from core.data.ingest import read_upload
from core.errors import DatasetError
from core.text.encoding import EncodingQuestion, decode_bytes, duel, stray_symbols
from core.text.mojibake import find_repair
from core.text.scripts import language_fit

SHORT_JAPANESE = ["この映画は面白かった", "また見たいです", "音が大きすぎる", "子供と一緒に楽しめた",
                  "少し長いと思う", "最後の場面で泣いた"]


def _csv(texts: list[str], codec: str) -> bytes:
    return ("text,label\n" + "".join(f'"{t}",{"ab"[i % 2]}\n' for i, t in enumerate(texts))).encode(codec)


def test_thirty_short_japanese_reviews_in_shift_jis_are_not_stored_as_korean() -> None:
    texts = [f"{t}{'!' * (i % 3)}" for i in range(5) for t in SHORT_JAPANESE]
    data = _csv(texts, "shift_jis")
    assert data.decode("cp949")  # the Korean misreading decodes too: evidence must separate them
    parsed = read_upload(data, "ja.csv")
    assert parsed.encoding == "cp932" and parsed.frame["text"].tolist() == texts


def test_iso_8859_7_greek_keeps_its_capital_alpha_with_tonos() -> None:
    texts = ["Άνοιξε το παράθυρο, κάνει ζέστη", "Άργησε το λεωφορείο πάλι σήμερα",
             "Έφτασε το δέμα χωρίς ζημιές", "Άψογη δουλειά, ευχαριστώ πολύ"]
    data = _csv(texts, "iso8859_7")
    assert data.decode("cp1253").count("¶") == 3  # what was stored before
    parsed = read_upload(data, "el.csv")
    assert parsed.frame["text"].tolist() == texts


def test_windows_1255_hebrew_is_hebrew_not_cyrillic() -> None:
    texts = ["הספר הגיע בזמן ובמצב מצוין", "השירות היה איטי מאוד היום", "אני ממליץ על החנות הזאת לכולם",
             "המחיר גבוה מדי לאיכות הזאת", "תודה רבה על העזרה בטלפון"]
    parsed = read_upload(_csv(texts, "cp1255"), "he.csv")
    assert parsed.encoding == "cp1255" and parsed.frame["text"].tolist() == texts


def test_koi8_u_ukrainian_keeps_its_own_letters() -> None:
    texts = ["Дякую, усе прийшло вчасно", "Їжа була смачна, але холодна", "Ґанок треба пофарбувати",
             "Єдине, що не сподобалось, це ціна", "Із задоволенням замовлю ще"]
    data = _csv(texts, "koi8_u")
    parsed = read_upload(data, "uk.csv")
    assert parsed.encoding == "koi8-u" and parsed.frame["text"].tolist() == texts


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_read_with_and_without_the_option(codec: str) -> None:
    texts = ["Grüße aus Köln", "这部电影非常好看", "Этот фильм хороший", "حلو جدا"]
    data = _csv(texts, codec)
    assert read_upload(data, "u16.csv").frame["text"].tolist() == texts
    assert read_upload(data, "u16.csv", encoding=codec).frame["text"].tolist() == texts
    assert read_upload(data, "u16.csv", encoding=codec.replace("-", "_")).encoding == codec


@pytest.mark.parametrize("codec", ["rot13", "zlib_codec", "unicode_escape", "base64", "punycode"])
def test_only_text_encodings_are_accepted(codec: str) -> None:
    with pytest.raises(DatasetError, match=f"'{codec}' is not a text encoding") as err:
        read_upload(b"text,label\nhello,a\nworld,b\n", "x.csv", encoding=codec)
    assert "pick one of utf-8" in str(err.value)


def test_a_close_call_is_a_question_naming_both_readings_and_the_option() -> None:
    data = _csv(["配送が早い", "助かりました"], "euc_jp")  # kana read the same in GBK; kanji differ
    with pytest.raises(EncodingQuestion) as err:
        decode_bytes(data, "few.csv")
    codecs = {r.codec for r in err.value.readings}
    assert codecs == {"euc-jp", "gbk"}
    message = str(err.value)
    assert "--encoding euc-jp" in message and "--encoding gbk" in message
    assert all(r.preview for r in err.value.readings)


def test_a_confident_reading_is_a_calm_note_not_a_warning() -> None:
    texts = ["这家店的服务很周到，下次还来", "快递太慢了，等了一个星期", "质量不错，价格也合理"] * 3
    parsed = read_upload(_csv(texts, "gbk"), "cn.csv")
    assert parsed.encoding == "gbk" and parsed.encoding_uncertain is None
    assert any("read as GBK" in n for n in parsed.notes)
    assert not any("byte 0x" in w for w in parsed.warnings)


def test_evidence_separates_simplified_from_traditional_chinese() -> None:
    simplified = "这家店的服务很周到，下次还来。快递太慢了，等了一个星期。"
    as_big5 = simplified.encode("gbk").decode("cp950", errors="replace")
    assert duel(simplified, as_big5, "gbk", "cp950") > 0.5
    traditional = "這家店的服務很周到，下次還來。快遞太慢了，等了一個星期。"
    assert language_fit(traditional)[0] == "Chinese" and language_fit(traditional)[1] >= 1.0


def test_glued_symbols_and_misplaced_final_letters_are_counted() -> None:
    assert stray_symbols("¶νοιξε το παράθυρο") == 1
    assert stray_symbols("Ст╕лець") == 1
    assert stray_symbols("ςα") == 1 and stray_symbols("ας") == 0
    assert stray_symbols("Άνοιξε, «ναι» είπε") == 0 and stray_symbols("l’été, don’t") == 0


def test_japanese_read_as_korean_is_repaired_in_the_quality_report() -> None:
    garbled = "この映画はとても面白かった".encode("cp932").decode("cp949")
    fix = find_repair(garbled)
    assert fix is not None and fix.fixed == "この映画はとても面白かった" and fix.true_encoding == "cp932"
