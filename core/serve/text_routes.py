"""POST /v1/chat/completions and /v1/completions over the shared generation path, streamed as SSE.

Requests go through ``core.inference.generation.stream_generate`` (the playground's path, the same
cached model) without storing the generation. OpenAI's defaults apply: temperature 1, top-p 1, no
top-k; ``max_tokens`` defaults to 256. A request holds a gate slot until its last chunk is sent.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from core.errors import ConfigError, UserError
from core.serve.backend import check_model
from core.serve.schemas import ChatMessage, ChatRequest, CompletionRequest, Sampling

DEFAULT_MAX_TOKENS = 256
MAX_STOPS = 4
_END = object()


def settings_of(body: Sampling, engine: str = "auto") -> Any:
    """The engine's GenerationSettings for an OpenAI request (ConfigError for impossible values)."""
    from core.inference.generation import GenerationSettings

    stops = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    if len(stops) > MAX_STOPS:
        raise ConfigError(f"At most {MAX_STOPS} stop sequences are allowed; send fewer.")
    if not 0 <= body.temperature <= 2:
        raise ConfigError("temperature must be between 0 and 2 (0 means greedy).")
    limit = body.max_completion_tokens or body.max_tokens or DEFAULT_MAX_TOKENS
    return GenerationSettings(max_new_tokens=limit, temperature=body.temperature, top_k=0, top_p=body.top_p,
                              num_return_sequences=body.n, seed=body.seed, stop=tuple(stops), engine=engine)


def _content(message: ChatMessage, number: int) -> str:
    if isinstance(message.content, str) or message.content is None:
        return message.content or ""
    parts = []
    for part in message.content:
        if part.get("type") != "text":
            raise ConfigError(f"Message {number} has a '{part.get('type')}' part; this model reads "
                              "text only.")
        parts.append(str(part.get("text", "")))
    return "".join(parts)


def chat_turns(body: ChatRequest) -> list[dict[str, str]]:
    """The conversation as the engine's turns (a developer message counts as the system message)."""
    roles = {"developer": "system"}
    return [{"role": roles.get(m.role, m.role), "content": _content(m, i)}
            for i, m in enumerate(body.messages, start=1)]


def check_request(body: Sampling, prompt: Any, mode: str) -> None:
    """Raise ConfigError for bad settings or prompt before a stream answers 200."""
    from core.inference.generation import build_prompt

    settings_of(body)
    build_prompt(prompt, mode)


def _start(app: FastAPI, body: Sampling, prompt: Any, mode: str) -> Any:
    from core.inference.generation import stream_generate

    settings = settings_of(body, app.state.options.engine)
    return stream_generate(app.state.served.id, prompt, mode=mode, settings=settings, store=False)


def _finish_reasons(record: Any, n: int) -> list[str]:
    finished = record.stats.get("finished") or [True] * n
    return ["stop" if done else "length" for done in finished]


def _usage(record: Any) -> dict[str, int]:
    prompt, new = int(record.stats.get("prompt_tokens", 0)), int(record.stats.get("new_tokens", 0))
    return {"prompt_tokens": prompt, "completion_tokens": new, "total_tokens": prompt + new}


def fingerprint(engine: str) -> str:
    """``system_fingerprint`` of a response: the engine that wrote it (greedy text depends on it)."""
    return f"uclab-{engine}"


def log_speed(endpoint: str, record: Any) -> None:
    """One log line per answered request: tokens, seconds, tokens/s and the engine."""
    stats = record.stats
    speed = f"{record.tokens_per_second:.1f}" if record.tokens_per_second else "-"
    print(f"{endpoint}: {stats.get('new_tokens', 0)} tokens in {stats.get('seconds', 0):.2f} s "
          f"({speed} tokens/s, {stats.get('engine')})", file=sys.stderr, flush=True)


def _run(app: FastAPI, body: Sampling, prompt: Any, mode: str) -> Any:
    gate = app.state.gate
    gate.enter()
    try:
        stream = _start(app, body, prompt, mode)
        for _ in stream:
            pass
        log_speed(f"/v1/{'chat/' if mode == 'chat' else ''}completions", stream.record)
        return stream.record
    finally:
        gate.leave()


def _engine_fields(record: Any) -> dict[str, str]:
    """Which engine answered (``system_fingerprint``, as OpenAI's API names the backend) and why."""
    return {"system_fingerprint": fingerprint(str(record.stats.get("engine"))),
            "engine_note": str(record.stats.get("engine_note") or "")}


def _sse(payload: dict[str, Any] | str) -> str:
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n"


async def _events(app: FastAPI, body: Sampling, prompt: Any, mode: str, chunk: Any) -> AsyncIterator[str]:
    """Server-sent events: one per text chunk, a closing chunk per choice, usage if asked, [DONE]."""
    gate = app.state.gate
    await anyio.to_thread.run_sync(gate.enter)
    stream = None
    try:
        stream = await anyio.to_thread.run_sync(_start, app, body, prompt, mode)
        items = iter(stream)
        started: set[int] = set()
        while (item := await anyio.to_thread.run_sync(next, items, _END)) is not _END:
            index, text = item
            yield _sse({**chunk(index, text, None, first=index not in started),
                        "system_fingerprint": fingerprint(stream.engine)})
            started.add(index)
        record = stream.record
        log_speed(f"/v1/{'chat/' if mode == 'chat' else ''}completions (streamed)", record)
        for index, reason in enumerate(_finish_reasons(record, body.n)):
            yield _sse(chunk(index, "", reason, first=index not in started))
        if body.stream_options and body.stream_options.include_usage:
            yield _sse({**chunk(0, "", None, first=False), "choices": [], "usage": _usage(record)})
        yield _sse("[DONE]")
    except UserError as exc:  # after the 200: the error travels as an event the openai client raises
        yield _sse({"error": {"message": str(exc), "type": "invalid_request_error", "param": None,
                              "code": None}})
    except Exception as exc:  # noqa: BLE001 - one sentence, never a traceback
        yield _sse({"error": {"message": f"The server failed while generating ({type(exc).__name__}).",
                              "type": "server_error", "param": None, "code": None}})
    finally:
        if stream is not None:
            stream.close()  # a client that went away stops the model
        gate.leave()


def register(app: FastAPI) -> None:
    """Add the text endpoints."""

    @app.post("/v1/chat/completions")
    def chat(body: ChatRequest, request: Request) -> Any:
        served = app.state.served
        check_model(served, body.model, "/v1/chat/completions")
        turns = chat_turns(body)
        meta = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": served.id}
        if body.stream:
            def chunk(index: int, text: str, reason: str | None, *, first: bool) -> dict[str, Any]:
                delta: dict[str, Any] = {"role": "assistant"} if first else {}
                if text or (first and reason is None):
                    delta["content"] = text
                return {**meta, "object": "chat.completion.chunk",
                        "choices": [{"index": index, "delta": delta, "finish_reason": reason,
                                     "logprobs": None}]}
            check_request(body, turns, "chat")  # bad input answers 400 before the stream starts
            return StreamingResponse(_events(app, body, turns, "chat", chunk), media_type="text/event-stream")
        record = _run(app, body, turns, "chat")
        reasons = _finish_reasons(record, body.n)
        return {**meta, "object": "chat.completion", "usage": _usage(record), **_engine_fields(record),
                "choices": [{"index": i, "message": {"role": "assistant", "content": text},
                             "finish_reason": reasons[i], "logprobs": None}
                            for i, text in enumerate(record.outputs)]}

    @app.post("/v1/completions")
    def completions(body: CompletionRequest, request: Request) -> Any:
        served = app.state.served
        check_model(served, body.model, "/v1/completions")
        prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
        if len(prompts) != 1:
            raise ConfigError("Send one prompt per request (a list of several prompts is not supported).")
        meta = {"id": f"cmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": served.id}
        if body.stream:
            def chunk(index: int, text: str, reason: str | None, *, first: bool) -> dict[str, Any]:
                return {**meta, "object": "text_completion",
                        "choices": [{"index": index, "text": text, "finish_reason": reason,
                                     "logprobs": None}]}
            check_request(body, prompts[0], "prompt")
            return StreamingResponse(_events(app, body, prompts[0], "prompt", chunk),
                                     media_type="text/event-stream")
        record = _run(app, body, prompts[0], "prompt")
        reasons = _finish_reasons(record, body.n)
        return {**meta, "object": "text_completion", "usage": _usage(record), **_engine_fields(record),
                "choices": [{"index": i, "text": text, "finish_reason": reasons[i], "logprobs": None}
                            for i, text in enumerate(record.outputs)]}
