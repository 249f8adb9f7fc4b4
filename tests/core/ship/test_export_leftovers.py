"""Killed or failed exports and imports leave nothing behind: no ``.zip.part``, no staging folder, no
hidden Parquet work file, whether the failure is an error (cleaned at once) or a kill (swept at the
next start, unless the process that owns the file is still alive)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from fake_runs import add_dataset, add_run

from core.config import ensure_home, get_settings, staging_prefix, sweep_leftovers, work_path
from core.data.datasets import SplitConfig, read_upload, save_dataset
from core.ship import export
from core.ship.export_formats import export_run
from tests.core.ship.test_export import _tiny_model

DISK_FULL = OSError(errno.ENOSPC, "No space left on device")


def _everything(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def run_id(home: Path) -> int:
    rid = add_run(add_dataset(), name="tiny", output_dir="runs/77")
    _tiny_model(get_settings().resolve("runs/77") / "model")
    return rid


def _fill_then_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    real = zipfile.ZipFile.write
    calls = []

    def write(self, *args, **kwargs):  # noqa: ANN001, ANN202 - zipfile's own signature
        calls.append(1)
        if len(calls) > 2:
            raise DISK_FULL
        return real(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "write", write)


def test_a_failed_zip_export_leaves_nothing(run_id: int, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _fill_then_fail(monkeypatch)
    (tmp_path / "out").mkdir()
    with pytest.raises(OSError):
        export.export_model_zip(run_id)
    assert _everything(get_settings().home / "exports") == []
    with pytest.raises(OSError):
        export_run(run_id, "zip", tmp_path / "out" / "mine.zip")
    assert _everything(tmp_path / "out") == [] and _everything(get_settings().home / "exports") == []


def test_a_failed_dataset_save_leaves_no_work_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Held before this round too (save_dataset removes its file on failure); kept as a guard for the
    new work-file name."""
    def half_written(self, path, *args, **kwargs):  # noqa: ANN001, ANN202 - pandas' own signature
        Path(path).write_bytes(b"PAR1" + b"\0" * 1000)
        raise DISK_FULL

    monkeypatch.setattr(pd.DataFrame, "to_parquet", half_written)
    rows = "text,label\n" + "".join(f"review {i} was {'good' if i % 2 else 'bad'},{i % 2}\n"
                                    for i in range(40))
    with pytest.raises(OSError):
        save_dataset(read_upload(rows.encode(), "r.csv"), {"text": "text", "label": "label"}, name="r",
                     task="classification", split=SplitConfig())
    assert _everything(get_settings().datasets_dir) == []


def test_leftovers_of_killed_processes_are_swept_at_start_and_live_work_is_kept(home: Path) -> None:
    settings = get_settings()
    ensure_home(settings)
    exports, data = settings.home / "exports", settings.datasets_dir
    exports.mkdir(exist_ok=True)
    script = ("import os, sys, tempfile; from pathlib import Path; from core.config import work_path, "
              "staging_prefix; e, d = Path(sys.argv[1]), Path(sys.argv[2]); "
              "work_path(e / 'run-1-model.zip').write_bytes(b'x' * 20000); "
              "s = tempfile.mkdtemp(dir=e, prefix=staging_prefix()); "
              "Path(s, 'model.safetensors').write_bytes(b'x'); "
              "work_path(d / 'abc.parquet').write_bytes(b'PAR1'); os.kill(os.getpid(), 9)")
    killed = subprocess.run([sys.executable, "-c", script, str(exports), str(data)],
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])})
    assert killed.returncode == -9 and len(_everything(exports)) == 2 and len(_everything(data)) == 1
    hour_ago = time.time() - 2 * 3600
    legacy = [exports / "run-2-model.zip.part", data / ".0123abcd.tmp", exports / "tmpq1w2e3"]
    legacy[0].write_bytes(b"x")
    legacy[1].write_bytes(b"x")
    legacy[2].mkdir()
    for path in legacy:
        os.utime(path, (hour_ago, hour_ago))
    mine = work_path(exports / "run-3-model.zip")  # this process is alive: its work stays
    mine.write_bytes(b"x")
    fresh = exports / "run-4-model.zip.part"  # an older version's export, still being written
    fresh.write_bytes(b"x")
    other = exports / ".run-5-model.zip.part~another-machine~12"  # another machine's, recent
    other.write_bytes(b"x")
    kept = exports / "run-6-model.zip"
    kept.write_bytes(b"x")
    removed = sweep_leftovers(settings)
    assert len(removed) == 6
    assert _everything(exports) == sorted([mine.name, fresh.name, other.name, kept.name])
    assert _everything(data) == []
    assert staging_prefix().startswith(".staging.part~")
