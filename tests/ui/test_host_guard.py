"""Issue 16 item 1: DNS rebinding and framing, against a real server started with serve_app.py
on a free localhost port: foreign Host headers are refused for plain requests and for the
WebSocket upgrade of /_stcore/stream, even with a matching Origin; anti-framing headers are sent."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from local import free_port

from ui.host_guard import host_allowed

ROOT = Path(__file__).resolve().parents[2]




@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    home = tmp_path_factory.mktemp("guard") / "uclab"
    port = free_port()
    env = {**os.environ, "UCLAB_HOME": str(home), "HF_HUB_OFFLINE": "1",
           "STREAMLIT_SERVER_ALLOWED_HOSTS": "localhost 127.0.0.1 ::1 lab.example.org"}
    env.pop("UCLAB_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "serve_app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("serve_app.py did not start within 120 s")
    yield port
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _raw(port: int, path: str, host: str, origin: str | None = None) -> tuple[str, str]:
    """Send one request with exactly this Host header (a WebSocket upgrade when an Origin is
    given); the status line and the headers back."""
    extra = ("Connection: close\r\n" if origin is None else
             "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: streamlit\r\n"
             f"Origin: {origin}\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return head.split("\r\n", 1)[0], head.lower()


def test_foreign_host_is_refused_for_pages_and_the_websocket(port: int) -> None:
    status, _ = _raw(port, "/", "attacker.example")
    assert " 403 " in status
    status, _ = _raw(port, "/_stcore/health", f"attacker.example:{port}")
    assert " 403 " in status
    evil = f"attacker.example:{port}"
    status, _ = _raw(port, "/_stcore/stream", evil, origin=f"http://{evil}")  # matching Origin
    assert " 101 " not in status and " 403 " in status


def test_loopback_bound_and_configured_hosts_are_served_with_anti_framing_headers(port: int) -> None:
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "lab.example.org"):
        status, headers = _raw(port, "/", host)
        assert " 200 " in status, host
        assert "x-frame-options: sameorigin" in headers
        assert "content-security-policy: frame-ancestors 'self'" in headers
    good = f"127.0.0.1:{port}"
    status, _ = _raw(port, "/_stcore/stream", good, origin=f"http://{good}")
    assert " 101 " in status


def test_host_matching_rules() -> None:
    allowed = ["localhost", "127.0.0.1", "::1", "*.corp.example"]
    assert host_allowed("LOCALHOST:8501", allowed) and host_allowed("[::1]:8501", allowed)
    assert host_allowed("a.corp.example", allowed)
    assert not host_allowed("corp.example.attacker.net", allowed)
    assert not host_allowed("127.0.0.1.nip.io", allowed)
    assert not host_allowed("user@localhost", allowed) and not host_allowed("", allowed)
    assert not host_allowed("localhost:99999", allowed)


def test_plain_streamlit_run_refuses_foreign_websockets_too() -> None:
    """`streamlit run app.py` (no launcher) still gets Streamlit's own WebSocket host check."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert set(config["server"]["allowedHosts"]) >= {"localhost", "127.0.0.1", "::1"}
