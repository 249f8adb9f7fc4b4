"""Encoder runs over HTTP: /v1/classify, /v1/entities, and /v1/embeddings through the openai client."""

from __future__ import annotations

import numpy as np
import openai
import pytest
from served_runs import encoder_run

from core.inference import encoders, ner_predict, predict
from core.serve import server
from core.serve.app import ServeOptions
from core.serve.backend import resolve_served
from tests.core.serve.clients import http_call, openai_client


@pytest.fixture(autouse=True)
def _fresh_caches(home):
    predict.clear_cache()
    ner_predict.clear_models()
    yield
    predict.clear_cache()
    ner_predict.clear_models()


def test_a_classifier_run_answers_classify_and_embeddings(serve) -> None:
    run_id = encoder_run("classification")
    served = resolve_served(run_id=run_id)
    assert served.id == f"run:{run_id}" and "/v1/classify" in served.endpoints
    texts = ["the film was great", "the film was awful"]
    expected = predict.predict_texts(run_id, texts)
    with serve(server.build(served, ServeOptions())) as url:
        status, body = http_call(url, "POST", "/v1/classify", {"model": f"run-{run_id}", "input": texts})
        assert status == 200 and [d["index"] for d in body["data"]] == [0, 1]
        assert [d["label"] for d in body["data"]] == expected["label"].tolist()
        for row, (_, want) in zip(body["data"], expected.iterrows(), strict=True):
            assert set(row["scores"]) == {"neg", "pos"}
            assert abs(row["scores"]["pos"] - want["p:pos"]) < 1e-6
            assert row["score"] == max(row["scores"].values())
        reply = openai_client(url).embeddings.create(model=f"run:{run_id}", input=texts)  # base64 on the wire
        vectors = np.array([d.embedding for d in reply.data])
        direct, _ = encoders.embed(run_id, texts)
        assert vectors.shape == (2, 32) and np.allclose(vectors, direct, atol=1e-6)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5) and reply.usage.prompt_tokens > 0
        status, body = http_call(url, "POST", "/v1/entities", {"input": "Anna"})
        assert status == 400 and "does not answer /v1/entities" in body["error"]["message"]
        status, body = http_call(url, "POST", "/v1/classify", {"input": ["ok", " "]})
        assert status == 400 and body["error"]["message"] == "Text 2 is empty; send the text to read."
        with pytest.raises(openai.BadRequestError, match="answers /v1/classify"):
            openai_client(url).chat.completions.create(model=f"run:{run_id}", messages=[{"role": "user",
                                                                                     "content": "hi"}])


def test_a_tagger_run_answers_entities_with_offsets(serve) -> None:
    run_id = encoder_run("token-classification")
    text = "Anna paid Dell."
    expected = ner_predict.predict_entities(run_id, text)["entities"]
    with serve(server.build(resolve_served(run_id=run_id), ServeOptions())) as url:
        status, body = http_call(url, "POST", "/v1/entities", {"input": [text]})
    assert status == 200
    spans = body["data"][0]["entities"]
    assert [(e["type"], e["start"], e["end"]) for e in spans] == [(e["type"], e["start"], e["end"])
                                                                  for e in expected]
    assert all(text[e["start"]:e["end"]] == e["text"] for e in spans)


def test_unservable_runs_are_refused_with_a_sentence(home) -> None:
    from core.errors import ConfigError, ModelError, NotFoundError
    from core.store import runs

    with pytest.raises(NotFoundError):
        resolve_served(run_id=999)
    from training_data import add_text_dataset

    queued = runs.create_run(dataset_id=add_text_dataset(), model_key="m", task="classification",
                             config={}, seed=1)
    with pytest.raises(ModelError, match="only a succeeded run can be served"):
        resolve_served(run_id=queued.id)
    with pytest.raises(ConfigError, match="one of them"):
        resolve_served()
