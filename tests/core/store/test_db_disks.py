"""A healthy SQLite database on a disk that lies: read-only, full, or a folder without permission.

Each is told as what it is (never "damaged … move it aside", advice that would lose every dataset
and run), and the file is left byte for byte as it was. The read-only and full disks are real
tmpfs mounts (root only); the permission case runs as any other user.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import get_settings
from core.errors import DatabaseFileError
from core.store import db


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _healthy_database(home: Path) -> Path:
    """A migrated database with one dataset, checkpointed into the main file and closed."""
    from tests.fake_runs import add_dataset

    add_dataset()
    db.reset_engines()
    path = get_settings().home / "uclab.db"
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for extra in ("uclab.db-wal", "uclab.db-shm"):
        (path.parent / extra).unlink(missing_ok=True)
    return path


def _refusal() -> str:
    db.reset_engines()
    with pytest.raises(DatabaseFileError) as caught:
        db.get_engine()
    return str(caught.value)


@pytest.fixture
def mounted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A 16 MB tmpfs as UCLAB_HOME (root only: skipped elsewhere)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    point = tmp_path / "disk"
    point.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(point)]).returncode:
        pytest.skip("this machine does not allow mounting a tmpfs")
    monkeypatch.setenv("UCLAB_HOME", str(point / "home"))
    monkeypatch.delenv("UCLAB_DATABASE_URL", raising=False)
    db.reset_engines()
    try:
        yield point
    finally:
        db.reset_engines()
        subprocess.run(["umount", "-l", str(point)])


def test_a_read_only_disk_is_called_read_only_not_damaged(mounted: Path) -> None:
    path = _healthy_database(mounted / "home")
    before = _digest(path)
    subprocess.run(["mount", "-o", "remount,ro", str(mounted)], check=True)
    message = _refusal()
    assert "read-only" in message and "no sign of damage" in message, message
    assert "damaged (" not in message and "move it aside" not in message
    subprocess.run(["mount", "-o", "remount,rw", str(mounted)], check=True)
    assert _digest(path) == before


def test_a_full_disk_is_called_full_not_damaged(mounted: Path) -> None:
    path = _healthy_database(mounted / "home")
    before = _digest(path)
    with open(mounted / "ballast", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 2**20)
                handle.flush()
        except OSError:
            pass  # the disk is full
    message = _refusal()
    assert "is full" in message and "Free some space" in message, message
    assert "move it aside" not in message
    (mounted / "ballast").unlink()
    assert _digest(path) == before
    db.reset_engines()
    db.get_engine()  # with space again it opens as before


def test_a_folder_without_write_permission_is_named(home: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere; the read-only mount test covers this as root")
    path = _healthy_database(home)
    before = _digest(path)
    home.chmod(0o555)
    try:
        message = _refusal()
    finally:
        home.chmod(0o755)
    assert "read-only" in message and "move it aside" not in message, message
    assert _digest(path) == before
