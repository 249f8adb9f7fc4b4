"""Start the server: refuse an exposed address without a key, load the model, run uvicorn."""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import Any

from core import config
from core.errors import ConfigError
from core.serve.app import ServeOptions, create_app
from core.serve.backend import ServedModel, preload

KEY_VARIABLE = config.API_KEY_VARIABLE
ACCEPT_BACKLOG = 128  # connections waiting to be accepted, and accepted in one go
RESERVED_FILES = 128  # open files kept for the model, the database and the logs


def is_loopback(host: str) -> bool:
    """Whether an address to bind stays on this machine (127.0.0.0/8, ::1, localhost)."""
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_key(api_key: str | None) -> str | None:
    """The key from --api-key, else UCLAB_API_KEY, else none."""
    key = (api_key or config.api_key() or "").strip()
    return key or None


def check_bind(host: str, api_key: str | None) -> None:
    """ConfigError when the server would listen beyond this machine without an API key."""
    if not is_loopback(host) and not api_key:
        raise ConfigError(f"Listening on {host} lets other machines reach the model; set an API key with "
                          f"--api-key KEY or {KEY_VARIABLE}, or keep the default --host 127.0.0.1.")


def base_url(host: str, port: int) -> str:
    """The URL clients use (``/v1`` included, as the openai client's base_url)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/v1"


def say(text: str) -> None:
    """One line of what the server is doing, on stderr (the log)."""
    print(text, file=sys.stderr, flush=True)


def build(served: ServedModel, options: ServeOptions, *, load: bool = True) -> Any:
    """Check the address and key, load the model into the shared cache, and build the app."""
    check_bind(options.host, options.api_key)
    if load:
        preload(served, options.engine, say)
    return create_app(served, options)


def run(served: ServedModel, options: ServeOptions, port: int, *, sock: socket.socket | None = None,
        log_level: str = "warning") -> None:
    """Serve until interrupted (blocking)."""
    import uvicorn

    from core.serve.connections import guarded_protocol, raise_file_limit

    files = raise_file_limit()
    app = build(served, options)
    # asyncio accepts up to `backlog` connections in one go before any of them can be closed, so the
    # connections open at once stay under max_connections + 2 * backlog, kept within the file limit
    connections = max(16, min(options.max_connections, (files - RESERVED_FILES) // 2 - ACCEPT_BACKLOG))
    protocol = guarded_protocol(options.header_timeout, connections)
    config = uvicorn.Config(app, host=options.host, port=port, log_level=log_level, access_log=False,
                            timeout_graceful_shutdown=5, http=protocol, timeout_keep_alive=5,
                            backlog=ACCEPT_BACKLOG, h11_max_incomplete_event_size=64 * 1024)
    server = uvicorn.Server(config)
    server.run(sockets=[sock] if sock is not None else None)
