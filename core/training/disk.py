"""A full disk under UCLAB_HOME: recognise it, say so in one sentence, and free what a failed run
left half-written, without needing the disk for any of it.

The worker keeps a small reserve file in UCLAB_HOME while it trains. When the disk fills, it
deletes the reserve and the partial checkpoints first, so the database write that ends the run
as ``failed`` has room even when nothing else could be freed.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from core.run_folder import COMPLETE_MARKER, RunFolder

RESERVE_NAME = ".disk-reserve"
RESERVE_BYTES = 2 * 1024 * 1024
_FULL_TEXTS = ("no space left on device", "database or disk is full", "disk quota exceeded",
               "not enough space on the disk")


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether this error (or one it came from) means the disk or the quota is full."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(text in str(exc).lower() for text in _FULL_TEXTS):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def free_mb(folder: Path) -> int:
    """Megabytes free on the file system that holds `folder` (0 when it cannot be read)."""
    try:
        return int(shutil.disk_usage(folder).free // 2**20)
    except OSError:
        return 0


def disk_full_sentence(home: Path) -> str:
    """The run's status when the disk filled up."""
    return (f"The disk is full ({free_mb(home)} MB free in UCLAB_HOME); free some space there "
            "(old runs, exports, or move UCLAB_HOME to a larger disk), then resume the run.")


def keep_reserve(home: Path) -> None:
    """Make sure the reserve file exists (best effort: a full disk simply has no reserve)."""
    path = home / RESERVE_NAME
    if path.exists() and path.stat().st_size >= RESERVE_BYTES:
        return
    try:
        with open(path, "wb") as handle:
            os.posix_fallocate(handle.fileno(), 0, RESERVE_BYTES)
    except OSError:
        path.unlink(missing_ok=True)


def release_reserve(home: Path) -> None:
    """Give the reserve's space back (the run's final status needs it)."""
    try:
        (home / RESERVE_NAME).unlink(missing_ok=True)
    except OSError:
        pass


def remove_partial(run_dir: Path) -> list[str]:
    """Delete checkpoints without their completeness marker and a half-saved final model; returns
    the names removed. Complete checkpoints stay: the run resumes from them."""
    removed = []
    folder = RunFolder(run_dir)
    candidates = [p for p in folder.checkpoints.glob("*checkpoint-*") if not (p / COMPLETE_MARKER).exists()]
    if folder.model.is_dir():
        candidates.append(folder.model)
    for path in candidates:
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed
