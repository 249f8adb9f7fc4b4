"""Stop-sequence matching per streamed token: the plain search (every prefix of every stop tested
against the text) against ``core.tasks.stop_text.StopScanner``, side by side in one run.

Run: ``.venv/bin/python bench/stop_scan.py [--stop-kb 300] [--tokens 20]``. The text grows by a
few characters per token, as a stream does; the printed ratio is plain / scanner per token.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.tasks.stop_text import StopScanner  # noqa: E402


def plain(stops: tuple[str, ...], text: str) -> tuple[int, int]:
    cuts = [p for p in (text.find(s) for s in stops) if p >= 0]
    end = len(text)
    held = max((k for s in stops for k in range(1, len(s)) if text[:end].endswith(s[:k])), default=0)
    return (min(cuts) if cuts else -1), held


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stop-kb", type=int, default=300)
    parser.add_argument("--tokens", type=int, default=20)
    args = parser.parse_args()
    stop = "ab" * (args.stop_kb * 512)  # a stop sequence the text keeps almost matching
    stops, texts = (stop,), ["ab" * (200 + 2 * i) for i in range(args.tokens)]
    start = time.perf_counter()
    old = [plain(stops, t) for t in texts]
    old_s = (time.perf_counter() - start) / args.tokens
    scanner = StopScanner(stops)
    start = time.perf_counter()
    new = [(scanner.first(t), scanner.held(t, len(t))) for t in texts]
    new_s = (time.perf_counter() - start) / args.tokens
    assert old == new, "the two searches disagree"
    print(f"stop of {len(stop):,} characters, {args.tokens} tokens: plain {old_s * 1000:.1f} ms/token, "
          f"scanner {new_s * 1000:.3f} ms/token, ratio {old_s / new_s:.0f}x")


if __name__ == "__main__":
    main()
