"""uvicorn's HTTP/1.1 protocol with two guards against half-sent requests (slowloris).

uvicorn times out idle keep-alive connections but not a request whose headers never finish, so a
thousand connections that each send half a request hold a thousand file descriptors for ever and
lock every client out. Here:

- a connection must deliver each request's headers within ``header_timeout`` seconds, or it is
  answered 408 and closed;
- at most ``max_connections`` are open; a new one beyond that closes the oldest connection that
  has no request running (a half-sent or idle one), or itself when every one is busy.
"""

from __future__ import annotations

import resource
import time
from typing import Any

from uvicorn.protocols.http import h11_impl
from uvicorn.protocols.http.h11_impl import H11Protocol


def _timeout_response() -> bytes:
    body = (b'{"error": {"message": "The request headers took too long to arrive; send the whole request at '
            b'once.", "type": "invalid_request_error", "param": null, "code": "request_timeout"}}')
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


class GuardedH11Protocol(H11Protocol):
    """H11Protocol with a header timeout and a cap on open connections (set by ``guarded_protocol``)."""

    header_timeout: float = 10.0
    max_connections: int = 256

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.opened = time.monotonic()
        self._header_timer: Any = None
        if len(self.connections) > self.max_connections and not self._evict_one():
            transport.close()
            return
        self._arm()

    def _busy(self) -> bool:
        """A request's headers arrived and its response is not finished."""
        return self.cycle is not None and not self.cycle.response_complete

    def _evict_one(self) -> bool:
        idle = [c for c in self.connections if c is not self and isinstance(c, GuardedH11Protocol)
                and not c._busy() and not c.transport.is_closing()]
        if not idle:
            return False
        min(idle, key=lambda c: c.opened).transport.close()
        return True

    def _arm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _headers_late(self) -> None:
        self._header_timer = None
        if self._busy() or self.transport.is_closing():
            return
        if self.conn.their_state is h11_impl.h11.IDLE and not self.conn.trailing_data[0]:
            self.transport.close()  # nothing sent since the last answer: an idle keep-alive connection
            return
        self.transport.write(_timeout_response())
        self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request's headers get the same time

    def connection_lost(self, exc: Exception | None) -> None:
        if getattr(self, "_header_timer", None) is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)


def guarded_protocol(header_timeout: float, max_connections: int) -> type[GuardedH11Protocol]:
    """The protocol class for ``uvicorn.Config(http=...)`` with these limits."""
    return type("ServeProtocol", (GuardedH11Protocol,), {"header_timeout": header_timeout,
                                                         "max_connections": max_connections})


def raise_file_limit() -> int:
    """Raise this process's open-file limit to its hard limit (a server holds one per connection);
    returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            wanted = hard if hard != resource.RLIM_INFINITY else 65536
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            return soft
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
