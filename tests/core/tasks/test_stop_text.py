"""Stop sequences in a growing text: the linear scanner gives the answers of the plain search."""

from __future__ import annotations

import random

from core.tasks.stop_text import StopScanner, failure_table


def _naive_held(stops: tuple[str, ...], text: str, end: int) -> int:
    return max((k for s in stops for k in range(1, len(s)) if text[:end].endswith(s[:k])), default=0)


def _naive_first(stops: tuple[str, ...], text: str) -> int:
    found = [p for p in (text.find(s) for s in stops) if p >= 0]
    return min(found) if found else -1


def test_the_scanner_agrees_with_the_plain_search_on_growing_texts() -> None:
    rng = random.Random(7)
    for _ in range(400):
        stops = tuple("".join(rng.choice("ab") for _ in range(rng.randint(1, 6)))
                      for _ in range(rng.randint(1, 3)))
        scanner, text = StopScanner(stops), ""
        for _ in range(30):  # the text grows a few characters per token, as a stream does
            text += "".join(rng.choice("abc") for _ in range(rng.randint(1, 3)))
            first = scanner.first(text)
            assert first == _naive_first(stops, text), (stops, text)
            if first >= 0:
                break
            end = rng.randint(0, len(text))
            assert scanner.held(text, end) == _naive_held(stops, text, end), (stops, text, end)


def test_the_failure_table_and_an_empty_scanner() -> None:
    assert failure_table("abab") == [0, 0, 1, 2] and failure_table("aaaa") == [0, 1, 2, 3]
    empty = StopScanner(["", ""])
    assert empty.first("anything") == -1 and empty.held("anything", 8) == 0
