"""Stop sequences in a growing text, found in time linear in the text and the stop sequences.

While a model streams, each new token extends the text; the stream must cut at the first stop
sequence and hold back an ending that might be the start of one. Searching the whole text again
and testing every prefix of every stop (``text[:end].endswith(stop[:k])``) costs text × stop
length per token: a 300 KB stop sequence made each token take seconds. ``StopScanner`` searches
only the new part of the text, and finds the held-back ending with the Knuth-Morris-Pratt
failure table of each stop sequence (its length in steps, whatever the text).
"""

from __future__ import annotations

from collections.abc import Iterable

_REDECODED = 8  # characters at the end of a text that a later token may still change (a split UTF-8 char)


def failure_table(pattern: str) -> list[int]:
    """For each prefix of ``pattern``, the length of its longest proper prefix that is also its suffix."""
    table = [0] * len(pattern)
    k = 0
    for i in range(1, len(pattern)):
        while k and pattern[i] != pattern[k]:
            k = table[k - 1]
        if pattern[i] == pattern[k]:
            k += 1
        table[i] = k
    return table


def open_prefix(pattern: str, table: list[int], text: str, end: int) -> int:
    """The longest proper prefix of ``pattern`` that ``text[:end]`` ends with (0 when none)."""
    k = 0
    for ch in text[max(0, end - len(pattern) + 1):end]:
        while k and (k == len(pattern) or pattern[k] != ch):
            k = table[k - 1]
        if k < len(pattern) and pattern[k] == ch:
            k += 1
    return table[k - 1] if k == len(pattern) else k


class StopScanner:
    """The stop sequences of one stream; call ``first`` and ``held`` with the whole text so far."""

    def __init__(self, stops: Iterable[str]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.tables = [failure_table(s) for s in self.stops]
        self.longest = max((len(s) for s in self.stops), default=0)
        self.scanned = 0

    def first(self, text: str) -> int:
        """Where the first stop sequence starts in ``text``, or -1; only the part not searched yet is read."""
        start = max(0, self.scanned - self.longest - _REDECODED)
        self.scanned = len(text)
        found = [p for p in (text.find(s, start) for s in self.stops) if p >= 0]
        return min(found) if found else -1

    def held(self, text: str, end: int) -> int:
        """How many characters before ``end`` might begin a stop sequence (hold them back while streaming)."""
        return max((open_prefix(s, t, text, end) for s, t in zip(self.stops, self.tables, strict=True)),
                   default=0)
