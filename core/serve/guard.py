"""The server's front door as a pure ASGI middleware: Host check, API key, and a cap on the body size.

A pure ASGI middleware (not Starlette's ``BaseHTTPMiddleware``) passes the client's disconnect
straight to the route, so a streamed answer stops generating as soon as its reader goes away.
The body is read here, at most ``max_body`` bytes of it, before the route sees it: a larger body
is answered 413 without being held in memory (it is read and dropped, up to 32 MB, so an ordinary
client that sends it all before reading sees the 413), and the route gets the bytes replayed, then the
real ``receive`` (which later reports the disconnect).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY = 2 * 1024 * 1024  # bytes; SmolLM2's whole context is about 40 KB of text
DISCARD_LIMIT = 32 * 1024 * 1024  # bytes of a too-large body read and dropped so the client sees the 413


def host_of(header: str) -> str:
    """The host name of a Host header, without its port ('[::1]:8000' gives '::1')."""
    if header.startswith("["):
        return header[1:header.find("]")].lower()
    return header.rsplit(":", 1)[0].lower() if header.count(":") == 1 else header.lower()


async def send_error(send: Send, status: int, message: str, kind: str = "invalid_request_error",
                     code: str | None = None, headers: dict[str, str] | None = None) -> None:
    """An OpenAI-style JSON error sent straight on the ASGI channel."""
    body = json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class Guard:
    """Answers 421 to other host names, 401 without the key, 413 to bodies over ``max_body`` bytes."""

    def __init__(self, app: ASGIApp, *, allowed: set[str], api_key: str | None,
                 max_body: int = DEFAULT_MAX_BODY, body_seconds: float = 30.0) -> None:
        self.app, self.allowed, self.api_key, self.max_body = app, allowed, api_key, max_body
        self.body_seconds = body_seconds  # a body sent slower than this is answered 408

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = host_of(headers.get("host", ""))
        if host not in self.allowed:
            await send_error(send, 421, f"This server does not answer to the host name '{host}'; add it "
                                        "with --allowed-host if it is yours.", code="host_not_allowed")
            return
        if self.api_key:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                                       self.api_key.encode()):
                await send_error(send, 401, "The API key is missing or wrong; send it as 'Authorization: "
                                            "Bearer KEY' (the openai client's api_key).",
                                 "authentication_error", "invalid_api_key")
                return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > DISCARD_LIMIT:
            await self._too_large(send)  # not worth reading: answered at once, the connection closed
            return
        chunks: list[bytes] = []
        size, more = 0, True
        with anyio.move_on_after(self.body_seconds):
            while more:  # read the whole body now; past the cap, drop it (a client sending it sees the 413)
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client left before sending its body
                chunk = message.get("body", b"")
                size += len(chunk)
                more = bool(message.get("more_body", False))
                if size > self.max_body:
                    chunks.clear()
                    if size > DISCARD_LIMIT:
                        break
                else:
                    chunks.append(chunk)
        if more and size <= DISCARD_LIMIT:
            await send_error(send, 408, f"The request body took longer than {self.body_seconds:g} s to "
                                        "arrive; send it at once.", code="request_timeout",
                             headers={"connection": "close"})
            return
        if size > self.max_body:
            await self._too_large(send)
            return
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _too_large(self, send: Send) -> None:
        await send_error(send, 413, f"The request body is larger than {self.max_body // 1024} KB, the most "
                                    "this server reads; send a shorter prompt.", code="body_too_large",
                         headers={"connection": "close"})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body read already, then waits on the real channel (disconnects)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
