"""Export a run's model: a zip (safetensors weights, tokenizer, label map, model card), or the Hub.

A tabular export adds config.json and its own loader, load_tabular.py (``tabular_export``), and
gradient boosting's skops file; the model card is a ``huggingface_hub.ModelCard`` (``model_card``).

Only safe files leave: weights as safetensors, JSON/text configs and tokenizer files. Pickled
files (``*.bin``, ``*.pt``, ``*.pkl``) and checkpoints are never exported.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.config import get_settings, staging_prefix, work_path
from core.entities import DatasetInfo, RunStatus
from core.errors import NotFoundError, RunStateError, UserError
from core.run_folder import RunFolder
from core.ship import tabular_export
from core.ship.model_card import build_model_card
from core.store import datasets, evaluations, runs

SAFE_SUFFIXES = {".safetensors", ".json", ".txt", ".model", ".md", ".jinja", ".tiktoken", ".merges"}
SKIP_DIRS = {"checkpoints", "eval", "logs", "runs"}
HUB_HOST = ("huggingface.co", 443)
HUB_ENDPOINT: str | None = None  # None: the Hub's default (tests point it at a silent local server)
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
_hub_lock = threading.Lock()


def exports_dir() -> Path:
    """Where export zips are written: UCLAB_HOME/exports."""
    path = get_settings().home / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def model_folder(output_dir: str) -> Path:
    """The folder holding a run's final model (``<run dir>/model``, or the run dir itself)."""
    if not output_dir:
        raise RunStateError("This run has no saved model yet; export it once it has finished.")
    folder = RunFolder(get_settings().resolve(output_dir)).final_model()
    if folder is not None and (any(folder.glob("*.safetensors")) or (folder / "model.skops").is_file()):
        return folder
    raise RunStateError("This run's model folder has no safetensors weights; train it to the end first.")


def _facts(run_id: int) -> dict[str, Any]:
    run = runs.get_run(int(run_id))
    if run.status != RunStatus.SUCCEEDED:
        raise RunStateError(f"Run {run_id} is {run.status}; only a finished run can be exported.")
    try:
        ds: DatasetInfo | None = datasets.get_dataset(run.dataset_id)
    except NotFoundError:
        ds = None
    return {"id": run.id, "name": run.name, "task": run.task, "model_key": run.model_key,
            "config": dict(run.config or {}), "output_dir": run.output_dir, "device": run.device,
            "elapsed": run.elapsed_seconds or 0.0, "versions": dict(run.library_versions or {}),
            "dataset": ({"name": ds.name, "version": ds.version, "rows": ds.row_count,
                         "splits": dict(ds.split_sizes or {}), "source": ds.source_filename}
                        if ds else None),
            "evals": [(e.split, e.model, e.metrics) for e in evaluations.list_evaluations(run.id)]}


def label_map(folder: Path) -> dict[str, Any]:
    """id2label / label2id from the saved config (or the labels in task.json)."""
    config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").exists() else {}
    meta = json.loads((folder / "task.json").read_text()) if (folder / "task.json").exists() else {}
    id2label = config.get("id2label") or {str(i): lab for i, lab in enumerate(meta.get("labels") or [])}
    return {"id2label": {str(k): v for k, v in id2label.items()},
            "label2id": {v: int(k) for k, v in id2label.items()}}


def model_card(facts: dict[str, Any], labels: dict[str, Any], usage: str | None = None) -> str:
    """A README.md model card (huggingface_hub.ModelCard): data, metrics, intended use, limits, loading."""
    return build_model_card(facts, labels, usage)


def _stage(run_id: int, dest: Path) -> dict[str, Any]:
    facts = _facts(run_id)
    folder = model_folder(facts["output_dir"])
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_dir() or rel.parts[0] in SKIP_DIRS or path.suffix.lower() not in SAFE_SUFFIXES:
            continue
        if path.name.lower() == "readme.md":
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest / rel)
    labels = label_map(folder)
    usage = None
    if facts["task"] == "tabular" and tabular_export.is_tabular_folder(folder):
        tabular_export.stage_tabular(folder, dest)  # config.json, load_tabular.py, skops weights
        usage = tabular_export.usage(".", tabular_export.export_config(folder)["features"])
    (dest / "label_map.json").write_text(json.dumps(labels, indent=2))
    (dest / "README.md").write_text(model_card(facts, labels, usage), encoding="utf-8")
    return facts


def export_model_zip(run_id: int) -> Path:
    """Zip a finished run's model (weights, tokenizer, label map, model card) under UCLAB_HOME/exports."""
    out = exports_dir() / f"run-{int(run_id)}-model.zip"
    with tempfile.TemporaryDirectory(dir=exports_dir(), prefix=staging_prefix()) as tmp:
        _stage(run_id, Path(tmp))
        write_zip(Path(tmp), out)
    return out


def write_zip(folder: Path, out: Path) -> None:
    """Zip a folder's files into ``out`` through a hidden work file: never a half-written zip under the
    final name, and no work file left behind when writing fails (a full disk stays no fuller)."""
    partial = work_path(out)
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(folder).as_posix())
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def hub_reachable(timeout: float = 4.0, host: tuple[str, int] | None = None) -> bool:
    """Whether a TCP connection to the Hub opens within `timeout` seconds (DNS included)."""
    result: list[bool] = []
    host = host or HUB_HOST

    def probe() -> None:
        try:
            with socket.create_connection(host, timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)  # getaddrinfo ignores socket timeouts
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def _within(fn: Any, seconds: float) -> Any:
    """Run fn in a daemon thread; raise TimeoutError if it has not finished after `seconds`."""
    box: dict[str, Any] = {}

    def call() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {seconds:.0f} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _hub_error(exc: BaseException) -> UserError:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (401, 403):
        return UserError("The Hub refused the token; check it has write permission for that repository.")
    name = type(exc).__name__
    if isinstance(exc, OSError | TimeoutError) or "Connect" in name or "Timeout" in name:
        return UserError("huggingface.co cannot be reached from this machine (no network), so nothing "
                         "was pushed; download the zip and upload it from a connected machine.")
    return UserError(f"The Hub upload failed ({name}); try again later or download the zip.")


@contextmanager
def _online() -> Iterator[None]:
    # The app runs with HF_HUB_OFFLINE=1 so nothing is ever downloaded; a push is an explicit
    # request by the user, so lift the flag for this call only.
    from huggingface_hub import constants

    with _hub_lock:
        before = constants.HF_HUB_OFFLINE
        constants.HF_HUB_OFFLINE = False
        try:
            yield
        finally:
            constants.HF_HUB_OFFLINE = before


def push_to_hub(run_id: int, repo_id: str, token: str | None = None, *, private: bool = True,
                timeout: float = 4.0) -> str:
    """Upload a finished run's model to a (private) Hub repository and return its URL."""
    token = (token or os.environ.get("HF_TOKEN") or "").strip()
    if not token:
        raise UserError("Pushing to the Hugging Face Hub needs an access token with write permission; "
                        "paste one (huggingface.co/settings/tokens) or download the zip instead.")
    repo_id = (repo_id or "").strip()
    if not REPO_ID.match(repo_id):
        raise UserError(f"'{repo_id}' is not a Hub repository name; use the form your-name/model-name.")
    _facts(run_id)  # a missing or unfinished run is reported before any network call
    if not hub_reachable(timeout):
        raise UserError("huggingface.co cannot be reached from this machine (no network), so nothing was "
                        "pushed; download the zip and upload it from a connected machine.")
    from huggingface_hub import HfApi

    api = HfApi(token=token, endpoint=HUB_ENDPOINT)
    with tempfile.TemporaryDirectory(dir=exports_dir(), prefix=staging_prefix()) as tmp:
        _stage(run_id, Path(tmp))
        try:
            with _online():
                # The first call proves the Hub answers over HTTPS (a proxy may accept TCP and
                # then go silent): it must answer within the timeout or we stop waiting.
                _within(lambda: api.create_repo(repo_id, private=private, exist_ok=True), timeout * 4)
                api.upload_folder(folder_path=tmp, repo_id=repo_id,
                                  commit_message=f"Upload Use Case Lab run {run_id}")
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - the Hub's errors become one sentence
            raise _hub_error(exc) from exc
    return f"https://huggingface.co/{repo_id}"
