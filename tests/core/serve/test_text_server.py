"""The OpenAI-compatible server over the tiny chat model, driven by the unmodified openai client."""

from __future__ import annotations

import openai
import pytest

from core.errors import ConfigError
from core.inference import generation as gen
from core.serve import server
from core.serve.app import ServeOptions
from core.serve.backend import resolve_served
from core.serve.gate import Gate, ServerBusy
from tests.core.serve.clients import http_call, openai_client

GREEDY = {"temperature": 0, "max_tokens": 12}


def _app(ref: str, **options: object) -> object:
    return server.build(resolve_served(model_key=ref), ServeOptions(**options))


def test_chat_answers_like_the_playground_streamed_and_not(tiny, serve) -> None:
    settings = gen.GenerationSettings(temperature=0, top_k=0, top_p=1, max_new_tokens=12)
    expected = gen.generate(tiny, "What is the capital of France?", store=False, settings=settings).text
    with serve(_app(tiny)) as url:
        client = openai_client(url)
        assert [m.id for m in client.models.list().data] == [tiny]
        messages = [{"role": "user", "content": "What is the capital of France?"}]
        reply = client.chat.completions.create(model=tiny, messages=messages, **GREEDY)
        assert reply.choices[0].message.content == expected and expected
        assert reply.choices[0].finish_reason in ("stop", "length")
        assert reply.usage.completion_tokens <= 12 and reply.usage.prompt_tokens > 0
        chunks = list(client.chat.completions.create(model=tiny, messages=messages, stream=True, **GREEDY))
        assert chunks[0].choices[0].delta.role == "assistant"
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected
        assert chunks[-1].choices[0].finish_reason == reply.choices[0].finish_reason


def test_completions_n_seed_stop_and_max_tokens(tiny, serve) -> None:
    with serve(_app(tiny)) as url:
        client = openai_client(url)
        plain = client.completions.create(model=tiny, prompt="Once upon a time", **GREEDY).choices[0]
        assert plain.text
        cut = plain.text[2:5]
        stopped = client.completions.create(model=tiny, prompt="Once upon a time", stop=[cut], **GREEDY)
        assert stopped.choices[0].text == plain.text[:plain.text.find(cut)]
        assert stopped.choices[0].finish_reason == "stop"
        one = client.completions.create(model=tiny, prompt="Once", max_tokens=2, temperature=0)
        assert one.usage.completion_tokens <= 2
        sampled = [client.completions.create(model=tiny, prompt="Hello", n=2, seed=7, temperature=1.0,
                                             max_tokens=8) for _ in range(2)]
        assert len(sampled[0].choices) == 2 and [c.index for c in sampled[0].choices] == [0, 1]
        assert [c.text for c in sampled[0].choices] == [c.text for c in sampled[1].choices]
        text = "".join(c.choices[0].text for c in client.completions.create(
            model=tiny, prompt="Once upon a time", stream=True, **GREEDY))
        assert text == plain.text


def test_bad_requests_get_openai_errors_with_one_sentence(tiny, serve) -> None:
    with serve(_app(tiny)) as url:
        client = openai_client(url)
        messages = [{"role": "user", "content": "Hi"}]
        with pytest.raises(openai.BadRequestError, match="temperature must be between 0 and 2"):
            client.chat.completions.create(model=tiny, messages=messages, temperature=3)
        with pytest.raises(openai.BadRequestError, match="end with a user message"):
            client.chat.completions.create(model=tiny, messages=[{"role": "assistant", "content": "x"}],
                                           stream=True)
        with pytest.raises(openai.NotFoundError, match=f"set model to '{tiny}'"):
            client.chat.completions.create(model="gpt-4o", messages=messages)
        with pytest.raises(openai.BadRequestError, match="does not answer /v1/embeddings"):
            client.embeddings.create(model=tiny, input="hello")
        status, body = http_call(url, "POST", "/v1/chat/completions", {"messages": "nope"})
        assert status == 400 and "messages" in body["error"]["message"]
        status, body = http_call(url, "GET", "/v1/nothing")
        assert status == 404 and body["error"]["code"] == "unknown_url"


def test_a_key_is_required_once_set_and_other_host_names_are_refused(tiny, serve) -> None:
    with serve(_app(tiny, api_key="s3cret")) as url:
        with pytest.raises(openai.AuthenticationError, match="API key is missing or wrong"):
            openai_client(url, "wrong").models.list()
        assert http_call(url, "GET", "/v1/models")[0] == 401  # no bearer at all
        assert [m.id for m in openai_client(url, "s3cret").models.list().data] == [tiny]
        status, body = http_call(url, "GET", "/v1/models", headers={"Host": "attacker.example:8000",
                                                                  "Authorization": "Bearer s3cret"})
        assert status == 421 and "attacker.example" in body["error"]["message"]
    with serve(_app(tiny, allowed_hosts=("lab.internal",))) as url:
        assert http_call(url, "GET", "/v1/models", headers={"Host": "lab.internal:8000"})[0] == 200
        assert http_call(url, "GET", "/v1/models", headers={"Host": "localhost:1"})[0] == 200


def test_listening_beyond_loopback_needs_a_key(tiny, monkeypatch, capsys) -> None:
    monkeypatch.delenv(server.KEY_VARIABLE, raising=False)
    with pytest.raises(ConfigError, match="set an API key"):
        server.check_bind("0.0.0.0", None)
    server.check_bind("127.0.0.2", None)  # loopback: no key needed
    server.check_bind("0.0.0.0", "k")
    from core.cli import main

    assert main(["serve", "--model", tiny, "--host", "0.0.0.0"]) == 2
    assert "set an API key" in capsys.readouterr().err
    monkeypatch.setenv(server.KEY_VARIABLE, "from-env")
    assert server.resolve_key(None) == "from-env" and server.resolve_key("flag") == "flag"


def test_the_gate_runs_a_bounded_number_and_refuses_the_rest() -> None:
    gate = Gate(concurrency=1, queue=1)
    gate.enter()
    assert gate.inside == 1
    gate.limit = 1  # a full queue: the next one is refused at once, not queued
    with pytest.raises(ServerBusy, match="busy"):
        gate.enter()
    gate.leave()
    assert gate.inside == 0


@pytest.mark.slow
def test_smollm2_knows_the_capital_of_france_through_the_openai_client(home, serve) -> None:
    with serve(_app("smollm2-135m-instruct")) as url:
        client = openai_client(url)
        messages = [{"role": "user", "content": "What is the capital of France?"}]
        reply = client.chat.completions.create(model="smollm2-135m-instruct", messages=messages,
                                               temperature=0, max_tokens=24)
        assert "Paris" in reply.choices[0].message.content
        streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model="smollm2-135m-instruct", messages=messages, temperature=0, max_tokens=24, stream=True))
        assert "Paris" in streamed and streamed == reply.choices[0].message.content


class _BytesEngine:
    """Stands in for llama.cpp: one byte of a Chinese text per token, as a byte-level model writes it."""

    TEXT = "你好，世界".encode()

    def generate(self, ids: list[int], max_new_tokens: int, sampling: object, eos_ids: set[int],
                 on_token: object, seed_offset: int = 0) -> tuple[int, bool]:
        count = 0
        for count, byte in enumerate(self.TEXT[:max_new_tokens], start=1):
            if not on_token(100 + count, bytes([byte])):  # type: ignore[operator]
                return count, True
        return count, count < max_new_tokens


def test_a_token_limit_that_cuts_a_chinese_character_never_sends_a_replacement_character(
        tiny, serve, monkeypatch) -> None:
    from core.ml.generation import LoadedModel

    monkeypatch.setattr(LoadedModel, "engine_for",
                        lambda self, requested: ("llama.cpp", "llama.cpp answered."))
    monkeypatch.setattr(LoadedModel, "llama", lambda self: _BytesEngine())
    with serve(_app(tiny)) as url:
        client = openai_client(url)
        messages = [{"role": "user", "content": "用中文打个招呼"}]
        for limit, expected in ((4, "你"), (8, "你好"), (1, "")):  # 4 bytes: 你 and the first byte of 好
            reply = client.chat.completions.create(model=tiny, messages=messages, max_tokens=limit,
                                                   temperature=0)
            assert reply.choices[0].message.content == expected
            assert reply.choices[0].finish_reason == "length"
            assert reply.system_fingerprint == "uclab-llama.cpp"
            chunks = list(client.chat.completions.create(model=tiny, messages=messages, max_tokens=limit,
                                                         temperature=0, stream=True))
            pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
            assert "".join(pieces) == expected and not any("\ufffd" in p for p in pieces)
            text = client.completions.create(model=tiny, prompt="你", max_tokens=limit, temperature=0)
            assert text.choices[0].text == expected
            streamed = "".join(c.choices[0].text for c in client.completions.create(
                model=tiny, prompt="你", max_tokens=limit, temperature=0, stream=True) if c.choices)
            assert streamed == expected
