"""Where the catalogue keeps what the user added: a JSON registry, probe figures, Hub downloads.

The registry is ``UCLAB_HOME/models/registry.json`` (written atomically under a file lock);
paths under UCLAB_HOME are stored relative to it. Probe figures go to the ``model_probes`` table.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from filelock import FileLock

from core.config import get_settings
from core.errors import ModelError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
HUB_PATTERNS = ["*.safetensors", "*.json", "*.txt", "*.model", "*.jinja", "*.md", "tokenizer*"]
LICENCE_LINE = re.compile(r"^licen[sc]e:\s*['\"]?([^'\"\n]+)", re.MULTILINE)


def _registry_file() -> Path:
    return get_settings().models_dir / "registry.json"


def _lock() -> FileLock:
    path = _registry_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path.parent / ".registry.lock"), timeout=60)


def _read() -> list[dict[str, Any]]:
    try:
        data = json.loads(_registry_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [e for e in data.get("models", []) if isinstance(e, dict) and "key" in e] \
        if isinstance(data, dict) else []


def _write(entries: list[dict[str, Any]]) -> None:
    path = _registry_file()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps({"models": entries}, indent=2), encoding="utf-8")
    os.replace(tmp, path)  # readers see the old file or the new one, never half of one


def _stored_path(path: Path) -> str:
    settings = get_settings()
    try:
        return settings.relative(path)
    except ValueError:
        return str(path.resolve())


def _absolute(stored: str) -> Path:
    path = Path(stored)
    return path if path.is_absolute() else get_settings().resolve(stored)


def register(source: str, path: Path, name: str, model_id: str | None = None) -> dict[str, Any]:
    """Add a folder to the registry (or return its entry if already there) with a unique key."""
    with _lock():
        entries = _read()
        stored = _stored_path(path)
        for entry in entries:
            if entry["path"] == stored and entry["source"] == source:
                return _resolved(entry)
        base = f"hub:{model_id}" if source == "hub" else f"local:{name}"
        taken = {e["key"] for e in entries}
        key, n = base, 2
        while key in taken:
            key, n = f"{base}-{n}", n + 1
        entry = {"key": key, "name": model_id or name, "source": source, "path": stored,
                 "added_at": datetime.now(UTC).isoformat(timespec="seconds")}
        _write(entries + [entry])
    return _resolved(entry)


def _resolved(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "path": str(_absolute(entry["path"]))}


def user_entries(reserved: set[str]) -> list[dict[str, Any]]:
    """Registered folders plus unregistered model folders found directly under UCLAB_HOME/models."""
    entries = [_resolved(e) for e in _read() if e["key"] not in reserved]
    known = {Path(e["path"]).resolve() for e in entries}
    keys = {e["key"] for e in entries} | reserved
    models_dir = get_settings().models_dir
    if models_dir.is_dir():
        for folder in sorted(models_dir.iterdir()):
            if (folder.name.startswith(".") or folder.name in reserved or not folder.is_dir()
                    or folder.resolve() in known):
                continue
            if (folder / "config.json").is_file() and any(folder.glob("*.safetensors")):
                key = f"local:{folder.name}"
                if key not in keys:
                    keys.add(key)
                    entries.append({"key": key, "name": folder.name, "source": "local",
                                    "path": str(folder)})
    return entries


def folder_facts(folder: Path) -> dict[str, Any]:
    """Family, parameters, size, licence, context and readiness of a model folder (no torch)."""
    from core.ml.models import (
        check_folder_is_safe,
        context_length,
        count_parameters,
        folder_size,
        model_family,
        read_config,
    )

    facts: dict[str, Any] = {"family": "encoder", "params": None, "size_bytes": None,
                             "licence": "unknown", "context_length": None, "ready": False, "notes": ""}
    try:
        check_folder_is_safe(folder)
        config = read_config(folder)
    except ModelError as exc:
        facts["notes"] = str(exc)
        return facts
    facts.update(family=model_family(config), params=count_parameters(folder),
                 size_bytes=folder_size(folder), licence=_licence(folder),
                 context_length=context_length(config), ready=True,
                 notes=f"{config.get('model_type', 'unknown')} model in {folder}")
    return facts


def _licence(folder: Path) -> str:
    try:
        card = (folder / "README.md").read_text(encoding="utf-8", errors="replace")[:4000]
    except OSError:
        return "unknown (see the model card)"
    found = LICENCE_LINE.search(card)
    return found.group(1).strip() if found else "unknown (see the model card)"


def _offline(model_id: str, why: str) -> ModelError:
    return ModelError(
        f"Could not reach the Hugging Face Hub to fetch '{model_id}'. This machine looks offline "
        f"({why}): connect it to the internet (and unset HF_HUB_OFFLINE), or download the model "
        "folder on another machine and add it as a local folder.")


def _check_reachable(model_id: str) -> None:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise _offline(model_id, "HF_HUB_OFFLINE is set")
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:  # fail in seconds, not after the Hub client's minute of retries
        socket.create_connection((endpoint.hostname or "huggingface.co", endpoint.port or 443),
                                 timeout=5).close()
    except OSError as exc:
        raise _offline(model_id, f"{endpoint.hostname} cannot be reached") from exc


def download_hub_model(model_id: str) -> dict[str, Any]:
    """Fetch a Hub model's safetensors, config and tokenizer files into UCLAB_HOME and register it."""
    model_id = model_id.strip()
    if not HUB_ID.match(model_id):
        raise ModelError(f"'{model_id}' is not a Hugging Face model id; use the form 'org/name', "
                         "for example 'prajjwal1/bert-tiny'.")
    _check_reachable(model_id)
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        files = HfApi().list_repo_files(model_id)
    except (RepositoryNotFoundError, GatedRepoError) as exc:
        raise ModelError(f"The Hub has no public model '{model_id}' (or it needs an access token); "
                         "check the id on huggingface.co.") from exc
    except Exception as exc:  # noqa: BLE001 - network failures come in many types
        raise _offline(model_id, type(exc).__name__) from exc
    if not any(f.endswith(".safetensors") for f in files):
        raise ModelError(f"The Hub model '{model_id}' has no safetensors weights, and Use Case Lab "
                         "never loads pickle weights because they can run arbitrary code; pick a "
                         "model that publishes model.safetensors.")
    target = get_settings().models_dir / "hub" / model_id.replace("/", "--")
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        snapshot_download(model_id, local_dir=tmp, allow_patterns=HUB_PATTERNS)
        from core.ml.models import check_folder_is_safe

        check_folder_is_safe(tmp)
        shutil.rmtree(tmp / ".cache", ignore_errors=True)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _offline(model_id, type(exc).__name__) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return register("hub", target, name=model_id, model_id=model_id)
