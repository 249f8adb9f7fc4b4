"""The web server's guard against DNS rebinding and framing, as ASGI middleware for ``st.App``.

A page on another site can point its own host name at 127.0.0.1 (DNS rebinding) and then talk
to the app as if it were same-origin: the browser sends that foreign name in the ``Host``
header. Every HTTP request and WebSocket upgrade (``/_stcore/stream``) whose Host is not a
loopback name, the address the server is bound to, or a name in Streamlit's
``server.allowedHosts`` setting (``.streamlit/config.toml`` or STREAMLIT_SERVER_ALLOWED_HOSTS)
is refused (HTTP 403, WebSocket closed before it opens). Every HTTP response says the app may
be framed only by itself (X-Frame-Options, CSP frame-ancestors), against clickjacking.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlparse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
FRAME_HEADERS = ((b"x-frame-options", b"SAMEORIGIN"),
                 (b"content-security-policy", b"frame-ancestors 'self'"))
REFUSAL = (b"This server answers only to the host names it is configured for (Host header "
           b"refused); add the name to server.allowedHosts in .streamlit/config.toml to use it.\n")


def host_name(header: str | None) -> str | None:
    """The lower-case host name of a Host header without its port; None when it is malformed."""
    if not header:
        return None
    try:
        parsed = urlparse(f"//{header}")
        _ = parsed.port  # validates the port
    except ValueError:
        return None
    name = parsed.hostname
    if not name or parsed.username or parsed.password or parsed.path:
        return None
    return name.lower().rstrip(".")


def host_allowed(header: str | None, allowed: Iterable[str]) -> bool:
    """Whether a Host header names one of the allowed hosts (``*.example.com`` patterns too)."""
    name = host_name(header)
    if name is None:
        return False
    for pattern in allowed:
        pattern = pattern.strip().lower().rstrip(".").strip("[]")
        if pattern == "*" or name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])):
            return True
    return False


def configured_hosts() -> list[str]:
    """Loopback names, the bound address (when it is not a wildcard) and server.allowedHosts."""
    from streamlit import config

    names = list(LOOPBACK_NAMES)
    address = (config.get_option("server.address") or "").strip()
    if address and address not in ("0.0.0.0", "::"):
        names.append(address)
    names.extend(config.get_option("server.allowedHosts") or [])
    return names


class HostGuard:
    """ASGI middleware: refuse foreign Host headers, add anti-framing headers."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str] | None = None) -> None:
        self.app = app
        self._allowed = list(allowed) if allowed is not None else None

    def allowed(self) -> list[str]:
        return self._allowed if self._allowed is not None else configured_hosts()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), None)
        if not host_allowed(host, self.allowed()):
            await self._refuse(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in FRAME_HEADERS if k not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(REFUSAL)).encode()), *FRAME_HEADERS]})
        await send({"type": "http.response.body", "body": REFUSAL})
