"""One process-wide cache of loaded models, shared by predictions, entities, tables and generation.

Streamlit serves sessions from several threads, the server answers requests in parallel, and a
model is too big to load twice: each entry is loaded once even when several threads ask at the
same time, and the least recently used entries leave when the cache is full (a session still
holding one keeps using it). Entries carry their own lock, because fast tokenizers and models
in generation are not thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import get_settings
from core.entities import RunInfo
from core.errors import RunStateError
from core.run_folder import RunFolder
from core.store.runs import get_run

CACHE_SIZE = 3


@dataclass
class Loaded:
    """A loaded model (whatever its kind returns) and the lock to hold while using it."""

    value: Any
    lock: threading.Lock = field(default_factory=threading.Lock)


class ModelCache:
    """A bounded least-recently-used cache whose loads happen once per key, outside the cache lock."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, Loaded] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, load: Callable[[], Any]) -> Loaded:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._lock:
                if key in self._entries:
                    return self._entries[key]
            entry = Loaded(load())
            self.put(key, entry)
            return entry

    def put(self, key: Hashable, entry: Loaded) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


MODELS = ModelCache()


def clear_models() -> None:
    """Forget every loaded model (tests, benchmarks, or after a run's model folder changed): the one
    name for clearing the shared model cache."""
    MODELS.clear()


def trained_model(run_id: int, tasks: tuple[str, ...], purpose: str) -> tuple[RunInfo, Path]:
    """The run and the folder of its final model, for a succeeded run of one of `tasks`.

    `purpose` finishes the sentence a wrong run gets ("... this playground predicts labels").
    """
    info = get_run(run_id)
    if info.task not in tasks:
        raise RunStateError(f"Run {run_id} is a {info.task} run; {purpose}.")
    return info, run_model_folder(info)


def run_model_folder(info: RunInfo) -> Path:
    """The folder holding a succeeded run's final model (RunStateError otherwise)."""
    root = get_settings().resolve(info.output_dir) if info.output_dir else None
    folder = RunFolder(root, info.id).final_model() if root is not None else None
    if info.status != "succeeded" or folder is None:
        raise RunStateError(f"Run {info.id} is {info.status} and has no trained model yet; "
                            "pick a run that succeeded.")
    return folder
