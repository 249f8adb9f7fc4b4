"""``uclab export RUN --format zip|onnx|onnx-int8|ollama``: one entry point over every export format.

Each format builds its files in a staging folder under ``UCLAB_HOME/exports``; the result is a zip
(the default, or when ``out`` ends in ``.zip``) or a new folder at ``out``. Nothing half-written is
left under the final name.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.config import staging_prefix, work_path
from core.errors import ConfigError
from core.ship import export, export_ollama
from core.task_specs import get_spec


def _onnx(run_id: int, dest: Path, int8: bool) -> Any:
    # imported when used: its evaluation helpers pull in scikit-learn, 5 s of every `uclab` command's
    # start (the CLI reads FORMATS to list --format choices)
    from core.ship import export_onnx

    return export_onnx.build_onnx(run_id, dest, int8=int8)


FORMATS: dict[str, Callable[[int, Path], Any]] = {
    "zip": export._stage,
    "onnx": lambda run_id, dest: _onnx(run_id, dest, False),
    "onnx-int8": lambda run_id, dest: _onnx(run_id, dest, True),
    "ollama": export_ollama.build_ollama,
}


def formats_for(task: str) -> list[str]:
    """The formats a run of this task can be exported in (the zip first)."""
    spec = get_spec(task)
    return list(spec.exports) if spec else ["zip"]


def default_path(run_id: int, fmt: str) -> Path:
    """Where an export goes when no path is given."""
    name = "model" if fmt == "zip" else fmt
    return export.exports_dir() / f"run-{int(run_id)}-{name}.zip"


def export_run(run_id: int, fmt: str = "zip", out: str | Path | None = None) -> Path:
    """Export a finished run in a format; returns the zip or folder written."""
    if fmt not in FORMATS:
        raise ConfigError(f"Unknown export format '{fmt}'; choose one of: {', '.join(FORMATS)}.")
    target = Path(out).expanduser().resolve() if out else default_path(run_id, fmt)
    folder_out = target.suffix.lower() != ".zip"
    if folder_out and target.exists() and any(target.iterdir()):
        raise ConfigError(f"The folder {target} already holds files; choose a new folder or a .zip path.")
    if not target.parent.is_dir():
        raise ConfigError(f"The folder {target.parent} does not exist; create it first or choose "
                          "another path.")
    with tempfile.TemporaryDirectory(dir=export.exports_dir(), prefix=staging_prefix()) as tmp:
        FORMATS[fmt](run_id, Path(tmp))
        if folder_out:
            partial = work_path(target)
            try:
                shutil.copytree(tmp, partial)
                if target.exists():
                    target.rmdir()
                partial.rename(target)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)  # a failed copy leaves nothing behind
                raise
            return target
        export.write_zip(Path(tmp), target)
    return target
