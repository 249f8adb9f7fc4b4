"""The Playground page: classifier (one text, a file, CSV download), generation (streamed), entities.

The model calls are replaced by fakes: these tests check the page, the services are tested in core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.inference import generation, ner_predict, predict, tabular_predict
from tests.pages.seed import save_reviews, seed_run
from ui import playground_generate


def _fake_predict_texts(run_id: int, texts: list[str], batch_size: int = 64) -> pd.DataFrame:
    return pd.DataFrame({"text": texts, "label": ["fresh"] * len(texts), "confidence": [0.8] * len(texts),
                         "p:fresh": [0.8] * len(texts), "p:rotten": [0.2] * len(texts),
                         "latency_ms": [12.0] * len(texts)})


@pytest.fixture
def classifier(monkeypatch: pytest.MonkeyPatch, home: Any) -> int:
    """A succeeded classification run whose predictions come from a fake."""
    monkeypatch.setattr(predict, "predict_texts", _fake_predict_texts)
    return seed_run(save_reviews().id, status="succeeded").id


def test_without_finished_runs_each_tab_says_what_to_do(open_page: Callable[..., AppTest]) -> None:
    at = open_page("playground", via_app=True)
    assert not at.exception
    assert any("No finished text classifier" in i.value for i in at.info)
    at = open_page("playground", query={"playground_tab": "Find entities"})
    assert any("entity-extraction" in i.value for i in at.info)
    at = open_page("playground", query={"playground_tab": "Predict from a table"})
    assert any("No finished tabular run" in i.value for i in at.info)
    # the bundled SmolLM2 is in the catalogue, so the generation tab is ready to use
    at = open_page("playground", query={"playground_tab": "Generate text"})
    assert not at.exception
    assert at.radio(key="playground_gen_mode").value == "chat"
    assert at.button(key="playground_gen_go") is not None


def test_one_text_gives_label_probabilities_and_latency(open_page: Callable[..., AppTest],
                                                         classifier: int) -> None:
    at = open_page("playground", query={"run": str(classifier)})
    assert at.selectbox(key="playground_run").value == classifier
    at.text_area(key="playground_text").set_value("A charming film").run()
    at.button(key="playground_predict").click().run()
    assert not at.exception
    cards = {m.label: m.value for m in at.metric}
    assert (cards["Predicted label"], cards["Confidence"], cards["Latency"]) == ("fresh", "80.0%", "12 ms")
    assert len(at.get("plotly_chart")) == 1


def test_empty_text_gets_a_sentence(open_page: Callable[..., AppTest], home: Any) -> None:
    run_id = seed_run(save_reviews().id, status="succeeded").id
    at = open_page("playground", query={"run": str(run_id)})
    at.button(key="playground_predict").click().run()
    assert not at.exception
    assert any("at least one text" in e.value for e in at.error)


def test_batch_file_predictions_and_download(open_page: Callable[..., AppTest], classifier: int,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_file(run_id: int, frame: pd.DataFrame, text_column: str) -> pd.DataFrame:
        seen["column"] = text_column
        return frame.assign(predicted="fresh", confidence=0.9)

    monkeypatch.setattr(predict, "predict_file", fake_file)
    at = open_page("playground")
    data = b"id,review\n1,=HYPERLINK(\"x\")\n2,lovely\n"
    at.file_uploader(key="playground_batch_upload").set_value(("texts.csv", data, "text/csv")).run()
    assert at.selectbox(key="playground_batch_column").value == "review"
    at.button(key="playground_batch_predict").click().run()
    assert not at.exception
    assert seen["column"] == "review"
    assert list(at.dataframe[0].value["predicted"]) == ["fresh", "fresh"]
    assert at.get("download_button")[0].proto.label == "Download predictions (CSV)"


class _FakeStream:
    def __init__(self, text: str, mode: str, prompt: Any) -> None:
        self._text, self.record = text, None
        self._mode, self._prompt = mode, prompt

    def texts(self) -> Iterator[str]:
        yield from self._text.split(" ")
        self.record = generation.GenerationRecord(
            id=None, model_ref="smollm2-135m-instruct", run_id=None, mode=self._mode,
            prompt={"text": self._prompt}, settings={"seed": 42}, outputs=[self._text],
            time_to_first_token=0.05, tokens_per_second=30.0, created_at=None,
            stats={"engine": "llama.cpp", "engine_note": "Engine: llama.cpp on model-F16.gguf; it rounds."})


def test_generation_streams_and_keeps_the_chat(open_page: Callable[..., AppTest], home: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake_stream(model_ref: str, prompt: Any, **kw: Any) -> _FakeStream:
        calls.append({"model": model_ref, "prompt": prompt, **kw})
        return _FakeStream("Paris is the capital.", kw["mode"], prompt)

    monkeypatch.setattr(generation, "stream_generate", fake_stream)
    monkeypatch.setattr(playground_generate, "_prepared", lambda ref: True)  # no SmolLM2 conversion here
    at = open_page("playground", query={"playground_tab": "Generate text"})
    at.number_input(key="playground_gen_seed").set_value(7).run()
    at.text_area(key="playground_gen_prompt").set_value("What is the capital of France?").run()
    at.button(key="playground_gen_go").click().run()
    assert not at.exception
    assert calls[0]["settings"].seed == 7 and calls[0]["mode"] == "chat"
    assert any("tokens/s" in c.value for c in at.caption)
    # which engine wrote the answer, and why a greedy answer depends on it
    assert any("Engine: llama.cpp on model-F16.gguf" in c.value.replace("\\", "") for c in at.caption)
    assert at.session_state["playground_gen_chat_history"][-1] == {
        "role": "assistant", "content": "Paris is the capital."}
    # the user's own message and the answer are bubbles at once, and the box is empty for the next one
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    assert at.chat_message[0].text[0].value == "What is the capital of France?"
    assert at.text_area(key="playground_gen_prompt").value == ""
    at.text_area(key="playground_gen_prompt").set_value("And of Spain?").run()
    at.button(key="playground_gen_go").click().run()
    assert [m.name for m in at.chat_message] == ["user", "assistant", "user", "assistant"]
    assert calls[1]["history"][0] == {"role": "user", "content": "What is the capital of France?"}


def test_entities_are_highlighted_and_listed(open_page: Callable[..., AppTest], home: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_entities(run_id: int, text: str) -> dict[str, Any]:
        return {"text": text, "latency_ms": 9.0,
                "entities": [{"type": "PER", "text": "Anna", "start": 0, "end": 4, "confidence": 0.9}]}

    monkeypatch.setattr(ner_predict, "predict_entities", fake_entities)
    seed_run(save_reviews().id, status="succeeded", task="token-classification")
    at = open_page("playground", query={"playground_tab": "Find entities"})
    at.text_area(key="playground_ner_text").set_value("Anna <b>paid</b>").run()
    at.button(key="playground_ner_go").click().run()
    assert not at.exception
    html = [h.proto.body for h in at.get("html")]
    assert any("<mark" in h and "&lt;b&gt;paid&lt;/b&gt;" in h for h in html)
    assert list(at.dataframe[-1].value["type"]) == ["PER"]


def test_tabular_form_predicts_one_row(open_page: Callable[..., AppTest], home: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fields = [tabular_predict.FeatureField("petal_length", "numeric", 4.35),
              tabular_predict.FeatureField("colour", "categorical", "blue", ("blue", "red"))]
    seen: dict[str, Any] = {}

    def fake_one(run_id: int, values: dict[str, Any]) -> dict[str, Any]:
        seen.update(values)
        return {"predicted": "setosa", "confidence": 0.9, "probabilities": {"setosa": 0.9, "virginica": 0.1}}

    monkeypatch.setattr(tabular_predict, "feature_fields", lambda run_id: fields)
    monkeypatch.setattr(tabular_predict, "predict_one", fake_one)
    seed_run(save_reviews().id, status="succeeded", task="tabular")
    at = open_page("playground", query={"playground_tab": "Predict from a table"})
    assert at.number_input(key="playground_tab_f_petal_length").value == 4.35
    at.selectbox(key="playground_tab_f_colour").set_value("red")
    at.button(key="playground_tab_submit").click().run()
    assert not at.exception
    assert seen == {"petal_length": 4.35, "colour": "red"}
    assert {m.label: m.value for m in at.metric}["Prediction"] == "setosa"


def _stored_generation(prompt: str) -> int:
    """A generation stored in the history as the playground stores one."""
    from types import SimpleNamespace

    source = generation.ModelSource(ref="smollm2-135m-instruct", path=Path("."))
    result = SimpleNamespace(new_tokens=3, seconds=0.1, device="cpu", prompt_tokens=5, outputs=["ok"],
                             time_to_first_token=0.01, tokens_per_second=30.0)
    record = generation._save(source, "prompt", {"text": prompt}, generation.GenerationSettings(seed=1),
                              result, store=True)
    assert record.id is not None
    return record.id


def test_history_picker_follows_the_newest_entry(open_page: Callable[..., AppTest], home: Any) -> None:
    _stored_generation("first")
    second = _stored_generation("second")
    at = open_page("playground", query={"playground_tab": "Generate text"})
    assert not at.exception
    assert at.selectbox(key="playground_gen_history_pick").value == second
    third = _stored_generation("third")  # a new generation while the page is open
    at.run()
    assert at.selectbox(key="playground_gen_history_pick").value == third
    at.selectbox(key="playground_gen_history_pick").set_value(second).run()  # the person's own pick stays
    at.run()
    assert at.selectbox(key="playground_gen_history_pick").value == second


def test_classifier_tab_opens_on_the_best_run(open_page: Callable[..., AppTest], home: Any) -> None:
    from core.store import runs

    dataset = save_reviews()
    ids = []
    for accuracy in (0.871, 0.518):  # the newer run is worse
        run = seed_run(dataset.id, status="running")
        runs.transition(run.id, "succeeded", summary={"test": {"accuracy": accuracy}})
        ids.append(run.id)
    at = open_page("playground")
    assert not at.exception
    assert at.selectbox(key="playground_run").value == ids[0]


def test_streamed_answer_is_text_not_markdown(open_page: Callable[..., AppTest], home: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16 item 4: an image link in a streamed answer stays text (no Markdown, no fetch)."""
    answer = "See ![a](http://attacker.example/x.png) now"
    monkeypatch.setattr(generation, "stream_generate",
                        lambda ref, prompt, **kw: _FakeStream(answer, kw["mode"], prompt))
    monkeypatch.setattr(playground_generate, "_prepared", lambda ref: True)
    at = open_page("playground", query={"playground_tab": "Generate text"})
    at.text_area(key="playground_gen_prompt").set_value("Say hi").run()
    at.button(key="playground_gen_go").click().run()
    assert not at.exception
    assert not any("attacker.example" in m.value for m in at.markdown)
    assert any("](http://attacker.example/x.png)" in t.value for t in at.text)


def test_the_generation_settings_and_prompt_survive_a_visit_to_another_page(
        open_page: Callable[..., AppTest], home: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(playground_generate, "_prepared", lambda ref: True)  # no SmolLM2 conversion here
    at = open_page("playground", query={"playground_tab": "Generate text"}, via_app=True)
    at.number_input(key="playground_gen_temperature").set_value(0.0).run()
    at.number_input(key="playground_gen_seed").set_value(7).run()
    at.text_area(key="playground_gen_prompt").set_value("Plan a team offsite.").run()
    at.switch_page("pages/datasets.py").run()
    at.switch_page("pages/playground.py").run()
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    assert at.number_input(key="playground_gen_temperature").value == 0.0
    assert at.number_input(key="playground_gen_seed").value == 7
    assert at.number_input(key="playground_gen_max_new").value == 128  # untouched: still the default
    assert at.text_area(key="playground_gen_prompt").value == "Plan a team offsite."
