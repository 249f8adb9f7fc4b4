"""Serving start time: from process start to the first 200 on GET /v1/models, this tree against another.

Starts ``python -m core serve --model KEY`` (a catalogue model whose GGUF is already converted) on a
free port, polls /v1/models every 50 ms, and stops the server; alternates between this tree and
``--old-root`` (for example /work/main before the torch-free serve path) over ``--reps`` rounds.
Prints seconds per start (median), which heavy modules the tree's serve path imports, the CPU and its
load average.

    .venv/bin/python bench/serve_start.py [--model smollm2-135m-instruct] [--old-root DIR] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_seconds(root: Path, model: str, timeout: float = 300.0) -> float:
    """Seconds from launching the server of ``root`` to its first 200 on /v1/models."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "core", "serve", "--model", model, "--port", str(port)],
                              cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while time.perf_counter() - start < timeout:
            if server.poll() is not None:
                raise RuntimeError(f"the server of {root} exited: {server.stderr.read()[-500:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as reply:
                    if reply.status == 200:
                        return time.perf_counter() - start
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        raise RuntimeError(f"the server of {root} did not answer within {timeout:.0f} s")
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--old-root", type=Path, help="another checkout to compare with (e.g. /work/main)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from core.ml.device import machine_facts

    roots = {"this tree": ROOT, **({"old": args.old_root.resolve()} if args.old_root else {})}
    times: dict[str, list[float]] = {name: [] for name in roots}
    for rep in range(args.reps):
        names = list(roots)
        for name in names[rep % len(names):] + names[:rep % len(names)]:
            times[name].append(start_seconds(roots[name], args.model))
    print(f"{machine_facts()['cpu']}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"uclab serve --model {args.model}, process start to the first 200 on /v1/models:")
    for name, values in times.items():
        print(f"  {name:<10} median {statistics.median(values):5.1f} s  (runs: "
              f"{' '.join(f'{t:.1f}' for t in values)})  target < 10 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
