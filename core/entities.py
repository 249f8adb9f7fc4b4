"""Plain values that cross the boundary between core and its callers (pages, CLI, tests)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

TASKS = ("classification", "regression", "token-classification", "causal-lm", "tabular")
SPLITS = ("train", "validation", "test")


class RunStatus(StrEnum):
    """A run's life: queued -> running -> succeeded | failed | cancelled (+ interrupted)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def is_live(self) -> bool:
        return self in (RunStatus.QUEUED, RunStatus.RUNNING)


class RunKind(StrEnum):
    """What a run row is: a training run, or the parent / a child of a group of runs."""

    TRAIN = "train"
    CV = "cv"                          # a cross-validation parent: no work of its own
    FOLD = "fold"                      # one fold of a cross-validation
    LEARNING_CURVE = "learning-curve"  # a learning-curve parent: its children train on fractions


@dataclass(frozen=True)
class DatasetInfo:
    """A saved, immutable dataset version.

    Its Parquet file has canonical columns: ``split`` (train/validation/test) and, by task,
    ``text`` + ``label`` (classification: str, regression: float); ``tokens`` + ``tags``
    (token-classification, lists of str); ``text`` or ``prompt`` + ``completion`` or
    ``messages`` (causal-lm, ``mapping['format']`` says which; messages as a JSON string);
    the feature columns named in ``mapping['features']`` + ``label`` (tabular). An optional
    ``group`` column holds the group used for a grouped split.
    """

    id: int
    name: str
    version: int
    task: str
    source_filename: str
    content_hash: str
    path: str
    mapping: dict[str, Any]
    split_sizes: dict[str, int]
    quality: dict[str, Any]
    info: dict[str, Any]
    row_count: int
    created_at: datetime
    created_by: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat(timespec="seconds")
        return d


@dataclass(frozen=True)
class RunInfo:
    """A training run as the pages and the CLI see it."""

    id: int
    name: str
    dataset_id: int
    parent_id: int | None
    kind: str
    model_key: str
    task: str
    config: dict[str, Any]
    seed: int
    status: str
    status_reason: str
    pid: int | None
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    step: int
    total_steps: int
    epoch: float
    samples_per_second: float | None
    eta_seconds: float | None
    elapsed_seconds: float
    output_dir: str
    last_checkpoint: str
    best_metric: float | None
    summary: dict[str, Any] = field(default_factory=dict)
    library_versions: dict[str, Any] = field(default_factory=dict)
    device: str = ""
    host: str = ""
    device_class: str = "any"
    processes: int = 1
    created_by: str = ""

    @property
    def is_live(self) -> bool:
        return self.status in ("queued", "running")

    @property
    def progress(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("created_at", "started_at", "finished_at", "heartbeat_at"):
            d[key] = d[key].isoformat(timespec="seconds") if d[key] else None
        return d


@dataclass(frozen=True)
class Finding:
    """One sentence of a quality report, with counts and an example row.

    ``severity`` is ``blocking`` (the dataset cannot be saved), ``warning`` or ``info``.
    """

    severity: str
    code: str
    message: str
    count: int | None = None
    example: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class QualityReport:
    """What is wrong (and right) with a dataset before it is saved."""

    findings: tuple[Finding, ...]
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "blocking"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.blocking

    def to_dict(self) -> dict[str, Any]:
        return {"findings": [f.to_dict() for f in self.findings], "stats": self.stats}
