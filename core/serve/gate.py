"""Bounded concurrency: a few requests use the model at once, a few more wait, the rest are told to retry."""

from __future__ import annotations

import threading

from core.errors import UserError


class ServerBusy(UserError):
    """More requests than the server runs and queues at once."""


class Gate:
    """``concurrency`` requests inside at once and ``queue`` more waiting; beyond that ``enter`` refuses."""

    def __init__(self, concurrency: int = 1, queue: int = 8) -> None:
        if concurrency < 1 or queue < 0:
            raise ValueError("concurrency must be at least 1 and queue at least 0")
        self._slots = threading.Semaphore(concurrency)
        self._lock = threading.Lock()
        self._inside = 0
        self.limit = concurrency + queue

    @property
    def inside(self) -> int:
        """Requests running or waiting now."""
        with self._lock:
            return self._inside

    def enter(self) -> None:
        """Wait for a slot (blocking), or raise ServerBusy when the queue is full."""
        with self._lock:
            if self._inside >= self.limit:
                raise ServerBusy(f"The server is busy with {self._inside} requests; try again in a moment.")
            self._inside += 1
        self._slots.acquire()

    def leave(self) -> None:
        """Give the slot back (once per successful ``enter``)."""
        self._slots.release()
        with self._lock:
            self._inside -= 1
