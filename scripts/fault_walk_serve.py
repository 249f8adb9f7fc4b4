"""Fault walk, part 5: `uclab serve` under abuse, against a real server process on 127.0.0.1.

Starts ``python -m core serve`` (concurrency 1, no queue, open-file limit 1,024) from SOURCE
(default: this tree; another checkout measures an older version side by side) and measures: the
server's peak memory and answer for a prompt past the context and for a 10 MB prompt, how long a
disconnected request keeps the only slot (streamed and not), what 60 streamed requests beyond the
limit get, when a half-sent request is answered, and whether 1,100 half-sent requests lock a
client out (and how much the server logs meanwhile). Every request goes to 127.0.0.1, bounded in
count and time.

    python scripts/fault_walk_serve.py [--model KEY] [--source DIR] [--context-tokens N]

Without --model a tiny chat model with a 4,096-token context is built under a temporary home.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def _call(port: int, path: str, body: bytes | dict, timeout: float = 120) -> tuple[int | str, dict, float]:
    start = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("POST", path, body=body if isinstance(body, bytes) else json.dumps(body).encode(),
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        status, headers = response.status, dict(response.getheaders())
        conn.close()
    except OSError as exc:
        status, headers = type(exc).__name__, {}
    return status, headers, round(time.monotonic() - start, 2)


def _memory(pid: int) -> dict[str, float]:
    fields: dict[str, float] = {}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return fields
    for line in lines:
        key = line.split(":")[0]
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(line.split()[1]) / 1024)
    return fields


def _admits(port: int) -> bool:
    return _call(port, "/v1/completions", {"prompt": "Hi", "max_tokens": 1, "temperature": 0}, 30)[0] == 200


def _until_free(port: int, limit: float = 300) -> float:
    """Seconds until the slot is free: when the first probe that got it was sent (its own
    generation time is not counted)."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        sent = time.monotonic()
        if _admits(port):
            return round(sent - start, 2)
        time.sleep(0.05)
    return round(time.monotonic() - start, 2)


STORY = {"messages": [{"role": "user", "content": "Tell a story"}], "stream": True, "temperature": 0,
         "max_tokens": 2000}


def _open_stream(port: int, path: str, body: dict) -> socket.socket:
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return sock


def walk(port: int, pid: int, context: int, log: Path, huge_prompt: bool = True) -> dict:
    out: dict = {"memory_at_start_mb": _memory(pid)}
    words = "Once upon a time, in a small village, there lived a wise old wizard. "
    past = words * (context // 10)  # about 1.5 times the context in tokens
    status, _, seconds = _call(port, "/v1/completions", {"prompt": past, "max_tokens": 16})
    out["prompt_past_context"] = {"status": status, "seconds": seconds, "memory_mb": _memory(pid)}
    if huge_prompt:  # an older version grows to ~10 GB on this one and is killed for memory
        huge = json.dumps({"messages": [{"role": "user", "content": "A" * 10_000_000}],
                           "max_tokens": 16}).encode()
        status, _, seconds = _call(port, "/v1/chat/completions", huge, timeout=300)
        memory = _memory(pid)
        out["prompt_10mb"] = {"status": status, "seconds": seconds, "memory_mb": memory or "killed"}
        if not memory:
            return out
    _until_free(port)
    holder = _open_stream(port, "/v1/chat/completions", STORY)
    holder.recv(4096)
    time.sleep(0.5)
    holder.close()
    out["streamed_disconnect_slot_busy_s"] = _until_free(port)
    holder = _open_stream(port, "/v1/completions", {"prompt": "Once upon a time", "temperature": 0,
                                                    "max_tokens": 2000})
    time.sleep(1.0)
    holder.close()
    out["plain_disconnect_slot_busy_s"] = _until_free(port)
    holder = _open_stream(port, "/v1/chat/completions", STORY)
    holder.recv(4096)
    answers: list = []

    def ask() -> None:
        status, headers, _ = _call(port, "/v1/chat/completions", {
            "messages": [{"role": "user", "content": "Hi"}], "stream": True, "max_tokens": 4}, 60)
        answers.append((status, headers.get("Retry-After") or headers.get("retry-after")))

    threads = [threading.Thread(target=ask) for _ in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    holder.close()
    out["sixty_streamed_beyond_limit"] = {f"{s} retry-after={r}": sum(1 for a in answers if a == (s, r))
                                          for s, r in set(answers)}
    _until_free(port)
    slow = socket.create_connection(("127.0.0.1", port), timeout=30)
    slow.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    start = time.monotonic()
    try:
        first = slow.recv(64)[:12].decode()
    except OSError as exc:
        first = type(exc).__name__
    out["half_sent_request"] = {"answer": first, "seconds": round(time.monotonic() - start, 2)}
    slow.close()
    log_before = log.stat().st_size
    flood = []
    for _ in range(1100):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        flood.append(sock)
    start = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        conn.request("GET", "/v1/models")
        status = conn.getresponse().status
    except OSError as exc:
        status = type(exc).__name__
    out["flood_1100_half_sent"] = {"client_status": status,
                                   "client_seconds": round(time.monotonic() - start, 2)}
    time.sleep(3)
    for sock in flood:
        sock.close()
    grown = log.read_bytes()[log_before:]
    out["flood_1100_half_sent"].update(log_kb=round(len(grown) / 1024, 1),
                                       too_many_open_files=grown.count(b"Too many open files"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="A catalogue key in UCLAB_HOME (default: a tiny chat model).")
    parser.add_argument("--source", default=str(ROOT), help="The source tree to serve from.")
    parser.add_argument("--context-tokens", type=int, default=4096)
    parser.add_argument("--skip-10mb", action="store_true", help="Leave out the 10 MB prompt.")
    parser.add_argument("--new-flags", action=argparse.BooleanOptionalAction, default=True,
                        help="Pass --header-timeout/--max-body-kb (off for an older version without them).")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    work = Path(tempfile.mkdtemp(prefix="walk-serve-"))
    if not args.model:
        os.environ["UCLAB_HOME"] = str(work / "home")
        from tiny_chat import build_tiny_chat_lm

        from core.models import catalog

        folder = build_tiny_chat_lm(work / "tiny", context=args.context_tokens)
        args.model = catalog.add_local_model(str(folder)).key
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "core", "serve", "--model", args.model, "--port", str(port),
               "--engine", "exact", "--concurrency", "1", "--queue", "0"]
    if args.new_flags:
        command += ["--header-timeout", "2"]
    log = work / "server.log"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))

    with open(log, "wb") as err:
        server = subprocess.Popen(command, cwd=args.source, env={**os.environ, "PYTHONPATH": args.source},
                                  stdout=subprocess.DEVNULL, stderr=err, preexec_fn=limit)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/v1/models")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        print(json.dumps({"source": args.source, "model": args.model,
                          **walk(port, server.pid, args.context_tokens, log, not args.skip_10mb)}, indent=1))
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
