"""Bounded concurrency: a few requests use the model at once, a few more wait, the rest are told to retry.

A request takes its place with ``reserve`` before anything is answered (so a refusal is a real
429 with ``Retry-After``, also for a streamed request), then waits for a slot; ``Ticket`` wraps
both for the async routes, waits without blocking a thread (so a client that leaves while queued
frees its place), and gives everything back exactly once.
"""

from __future__ import annotations

import threading

import anyio

from core.errors import UserError

QUEUE_POLL_S = 0.02


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

    def reserve(self) -> None:
        """Take a place (running or queued) at once, or raise ServerBusy when every place is taken."""
        with self._lock:
            if self._inside >= self.limit:
                raise ServerBusy(f"The server is busy with {self._inside} requests; try again in a moment.")
            self._inside += 1

    def unreserve(self) -> None:
        """Give a place back (once per successful ``reserve``)."""
        with self._lock:
            self._inside -= 1

    def try_slot(self) -> bool:
        """Take a running slot if one is free now."""
        return self._slots.acquire(blocking=False)

    def release_slot(self) -> None:
        self._slots.release()

    def enter(self) -> None:
        """Reserve a place and wait for a slot (blocking), or raise ServerBusy when the queue is full."""
        self.reserve()
        self._slots.acquire()

    def leave(self) -> None:
        """Give the slot back (once per successful ``enter``)."""
        self.release_slot()
        self.unreserve()


class Ticket:
    """One request's place in the gate: reserved when made (ServerBusy if full), released once."""

    def __init__(self, gate: Gate) -> None:
        gate.reserve()
        self.gate, self.running, self.closed = gate, False, False

    async def wait(self) -> None:
        """Wait for a running slot; cancelling the wait (the client left) keeps nothing."""
        while not self.gate.try_slot():
            await anyio.sleep(QUEUE_POLL_S)
        self.running = True

    def close(self) -> None:
        """Give the slot and the place back; later calls do nothing."""
        if self.closed:
            return
        self.closed = True
        if self.running:
            self.gate.release_slot()
        self.gate.unreserve()
