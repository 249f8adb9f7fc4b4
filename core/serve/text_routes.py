"""POST /v1/chat/completions and /v1/completions over the shared generation path, streamed as SSE.

Requests go through ``core.inference.generation.stream_generate`` (the playground's path, the same
cached model) without storing the generation. OpenAI's defaults apply: temperature 1, top-p 1, no
top-k; ``max_tokens`` defaults to 256 (less when the prompt leaves less of the context). A request
is checked (400), then takes its gate place (429 before any header), then holds a slot until its
last chunk is sent or its client leaves: the model is stopped then, streamed or not.
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
from core.serve.gate import Ticket
from core.serve.schemas import ChatMessage, ChatRequest, CompletionRequest, Sampling

DEFAULT_MAX_TOKENS = 256
MAX_STOPS = 4  # OpenAI's limit
MAX_STOP_CHARS = 256  # characters in one stop sequence
_END = object()


def _well_formed(text: str, where: str) -> str:
    """The text, or ConfigError when it holds a lone surrogate (JSON "\\ud800" without its pair)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigError(f"The {where} holds a lone surrogate ({text[exc.start]!r} at character "
                          f"{exc.start}), which is not text; send valid UTF-8 or surrogate pairs.") from exc
    return text


def settings_of(body: Sampling, engine: str = "auto", max_new_tokens: int | None = None) -> Any:
    """The engine's GenerationSettings for an OpenAI request (ConfigError for impossible values)."""
    from core.inference.generation import GenerationSettings

    stops = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    if len(stops) > MAX_STOPS:
        raise ConfigError(f"At most {MAX_STOPS} stop sequences are allowed; send fewer.")
    for stop in stops:
        _well_formed(stop, "stop sequence")
        if len(stop) > MAX_STOP_CHARS:
            raise ConfigError(f"A stop sequence may be at most {MAX_STOP_CHARS} characters long; this one "
                              f"has {len(stop):,}.")
    if not 0 <= body.temperature <= 2:
        raise ConfigError("temperature must be between 0 and 2 (0 means greedy).")
    limit = max_new_tokens or asked_tokens(body) or DEFAULT_MAX_TOKENS
    return GenerationSettings(max_new_tokens=limit, temperature=body.temperature, top_k=0, top_p=body.top_p,
                              num_return_sequences=body.n, seed=body.seed, stop=tuple(stops), engine=engine)


def asked_tokens(body: Sampling) -> int | None:
    """max_completion_tokens or max_tokens as sent (None when neither is); ConfigError below 1."""
    asked = body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens
    if asked is not None and asked < 1:
        raise ConfigError(f"max_tokens must be at least 1 (it was {asked}); leave it out for the default.")
    return asked


def _content(message: ChatMessage, number: int) -> str:
    if isinstance(message.content, str) or message.content is None:
        return _well_formed(message.content or "", f"content of message {number}")
    parts = []
    for part in message.content:
        if part.get("type") != "text":
            raise ConfigError(f"Message {number} has a '{part.get('type')}' part; this model reads "
                              "text only.")
        parts.append(_well_formed(str(part.get("text", "")), f"content of message {number}"))
    return "".join(parts)


def chat_turns(body: ChatRequest) -> list[dict[str, str]]:
    """The conversation as the engine's turns (a developer message counts as the system message)."""
    roles = {"developer": "system"}
    return [{"role": roles.get(_well_formed(m.role, f"role of message {i}"), m.role),
             "content": _content(m, i)} for i, m in enumerate(body.messages, start=1)]


def prepare(app: FastAPI, body: Sampling, prompt: Any, mode: str) -> Any:
    """The request's GenerationSettings once its settings and prompt are known to work: ConfigError for
    bad values, PromptTooLong when the prompt and max_tokens do not fit the context (before any 200)."""
    from core.inference.generation import build_prompt
    from core.inference.prompt_limits import prompt_limits

    settings_of(body)  # bad settings first: cheaper than counting tokens
    if isinstance(prompt, str):
        _well_formed(prompt, "prompt")
    stored = build_prompt(prompt, mode)
    limits = app.state.limits
    if limits is None:
        limits = app.state.limits = prompt_limits(app.state.served.id)
    new_tokens = limits.check(stored, asked_tokens(body), DEFAULT_MAX_TOKENS)
    return settings_of(body, app.state.options.engine, new_tokens)


def _start(app: FastAPI, settings: Any, prompt: Any, mode: str) -> Any:
    from core.inference.generation import stream_generate

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


def _drain(stream: Any, endpoint: str) -> Any:
    for _ in stream:
        pass
    log_speed(endpoint, stream.record)
    return stream.record


async def _collect(app: FastAPI, request: Request, ticket: Ticket, settings: Any, prompt: Any,
                   mode: str) -> Any:
    """Generate the whole answer; a client that disconnects meanwhile stops the model (its slot is freed)."""
    try:
        await ticket.wait()
        stream = await anyio.to_thread.run_sync(_start, app, settings, prompt, mode)

        async def watch() -> None:  # the body is read already: the next message is the disconnect
            while (await request.receive())["type"] != "http.disconnect":
                pass
            stream.close()

        async with anyio.create_task_group() as group:
            group.start_soon(watch)
            try:
                endpoint = f"/v1/{'chat/' if mode == 'chat' else ''}completions"
                return await anyio.to_thread.run_sync(_drain, stream, endpoint)
            finally:
                group.cancel_scope.cancel()
    finally:
        ticket.close()


def _engine_fields(record: Any) -> dict[str, str]:
    """Which engine answered (``system_fingerprint``, as OpenAI's API names the backend) and why."""
    return {"system_fingerprint": fingerprint(str(record.stats.get("engine"))),
            "engine_note": str(record.stats.get("engine_note") or "")}


def _sse(payload: dict[str, Any] | str) -> str:
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n"


async def _events(app: FastAPI, ticket: Ticket, settings: Any, body: Sampling, prompt: Any, mode: str,
                  chunk: Any) -> AsyncIterator[str]:
    """Server-sent events: one per text chunk, a closing chunk per choice, usage if asked, [DONE].

    A client that leaves cancels this generator (the ASGI disconnect reaches the response), and the
    ``finally`` stops the model and frees the slot."""
    stream = None
    try:
        await ticket.wait()
        stream = await anyio.to_thread.run_sync(_start, app, settings, prompt, mode)
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
        ticket.close()


class GatedStream(StreamingResponse):
    """A streamed answer that gives its gate place back even when its body never started."""

    def __init__(self, events: AsyncIterator[str], ticket: Ticket) -> None:
        super().__init__(events, media_type="text/event-stream")
        self.ticket = ticket

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.ticket.close()


async def _answer(app: FastAPI, request: Request, body: Sampling, prompt: Any, mode: str, chunk: Any) -> Any:
    """Check the request, take a gate place (429 when full, before any header), then stream or collect."""
    settings = await anyio.to_thread.run_sync(prepare, app, body, prompt, mode)
    ticket = Ticket(app.state.gate)  # ServerBusy here is a real 429 with Retry-After
    if body.stream:
        return GatedStream(_events(app, ticket, settings, body, prompt, mode, chunk), ticket)
    return await _collect(app, request, ticket, settings, prompt, mode)


def register(app: FastAPI) -> None:
    """Add the text endpoints."""

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest, request: Request) -> Any:
        served = app.state.served
        check_model(served, body.model, "/v1/chat/completions")
        turns = chat_turns(body)
        meta = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": served.id}
        def chunk(index: int, text: str, reason: str | None, *, first: bool) -> dict[str, Any]:
            delta: dict[str, Any] = {"role": "assistant"} if first else {}
            if text or (first and reason is None):
                delta["content"] = text
            return {**meta, "object": "chat.completion.chunk",
                    "choices": [{"index": index, "delta": delta, "finish_reason": reason, "logprobs": None}]}

        record = await _answer(app, request, body, turns, "chat", chunk)
        if body.stream:
            return record
        reasons = _finish_reasons(record, body.n)
        return {**meta, "object": "chat.completion", "usage": _usage(record), **_engine_fields(record),
                "choices": [{"index": i, "message": {"role": "assistant", "content": text},
                             "finish_reason": reasons[i], "logprobs": None}
                            for i, text in enumerate(record.outputs)]}

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request) -> Any:
        served = app.state.served
        check_model(served, body.model, "/v1/completions")
        prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
        if len(prompts) != 1:
            raise ConfigError("Send one prompt per request (a list of several prompts is not supported).")
        meta = {"id": f"cmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": served.id}
        def chunk(index: int, text: str, reason: str | None, *, first: bool) -> dict[str, Any]:
            return {**meta, "object": "text_completion",
                    "choices": [{"index": index, "text": text, "finish_reason": reason, "logprobs": None}]}

        record = await _answer(app, request, body, prompts[0], "prompt", chunk)
        if body.stream:
            return record
        reasons = _finish_reasons(record, body.n)
        return {**meta, "object": "text_completion", "usage": _usage(record), **_engine_fields(record),
                "choices": [{"index": i, "text": text, "finish_reason": reasons[i], "logprobs": None}
                            for i, text in enumerate(record.outputs)]}
