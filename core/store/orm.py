"""Database tables. ORM rows never leave core: services turn them into core.entities."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.entities import RunKind, RunStatus  # noqa: F401 (RunStatus: the statuses the table allows)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


_STATUSES = ", ".join(f"'{s.value}'" for s in RunStatus)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Dataset(Base):
    """An immutable dataset version: a Parquet file plus what we learned about it."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_datasets_name_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    task: Mapped[str] = mapped_column(String(32))
    source_filename: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    path: Mapped[str] = mapped_column(String(500))
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON)
    split_sizes: Mapped[dict[str, Any]] = mapped_column(JSON)
    quality: Mapped[dict[str, Any]] = mapped_column(JSON)
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    row_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")


class Run(Base):
    """One training run (or a parent of fold / learning-curve child runs)."""

    __tablename__ = "runs"
    __table_args__ = (CheckConstraint(f"status IN ({_STATUSES})", name="ck_runs_status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True, nullable=True)
    kind: Mapped[str] = mapped_column(String(32), default=RunKind.TRAIN.value)
    model_key: Mapped[str] = mapped_column(String(300))
    task: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(Integer, default=42)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED.value, index=True)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    step: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int] = mapped_column(Integer, default=0)
    epoch: Mapped[float] = mapped_column(Float, default=0.0)
    samples_per_second: Mapped[float | None] = mapped_column(Float, nullable=True)
    eta_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    elapsed_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    output_dir: Mapped[str] = mapped_column(String(500), default="")
    last_checkpoint: Mapped[str] = mapped_column(String(500), default="")
    best_metric: Mapped[float | None] = mapped_column(Float, nullable=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    library_versions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    device: Mapped[str] = mapped_column(String(100), default="")
    # Where the process that holds the run lives: a pid means something only on its host, and
    # with its start time a reused pid is told apart from the worker that claimed the run.
    host: Mapped[str] = mapped_column(String(200), default="")
    pid_started: Mapped[float | None] = mapped_column(Float, nullable=True)
    device_class: Mapped[str] = mapped_column(String(8), default="any")  # any | cpu | gpu
    processes: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(200), default="")


class RunMetric(Base):
    """One value of one metric at one step (train loss, validation accuracy, ...)."""

    __tablename__ = "run_metrics"
    __table_args__ = (Index("ix_run_metrics_run_name_step", "run_id", "name", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[float | None] = mapped_column(Float, nullable=True)
    split: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RunLog(Base):
    """A line of a run's log, shown as the log tail on the progress page."""

    __tablename__ = "run_logs"
    __table_args__ = (Index("ix_run_logs_run_id_id", "run_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(10), default="info")
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Evaluation(Base):
    """Metrics of a run (or of a baseline trained on the same split) on one split."""

    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    split: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(64))  # "run" or a baseline name
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    predictions_path: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Generation(Base):
    """One playground generation: prompt, settings, model, outputs and timings."""

    __tablename__ = "generations"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_ref: Mapped[str] = mapped_column(String(300))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"),
                                               nullable=True, index=True)
    mode: Mapped[str] = mapped_column(String(16), default="prompt")
    prompt: Mapped[dict[str, Any]] = mapped_column(JSON)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    outputs: Mapped[list[Any]] = mapped_column(JSON)
    time_to_first_token: Mapped[float | None] = mapped_column(Float, nullable=True)
    tokens_per_second: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class ModelProbe(Base):
    """A speed figure measured on this machine for one model (samples/s or tokens/s)."""

    __tablename__ = "model_probes"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_key: Mapped[str] = mapped_column(String(300), index=True)
    measure: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32))
    device: Mapped[str] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    measured_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Review(Base):
    """A blind A/B review of two models' outputs by stakeholders."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    model_a: Mapped[str] = mapped_column(String(300))
    model_b: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")


class ReviewItem(Base):
    """One prompt of a review with both outputs; `a_first` hides which model is which."""

    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    prompt: Mapped[str] = mapped_column(Text)
    output_a: Mapped[str] = mapped_column(Text)
    output_b: Mapped[str] = mapped_column(Text)
    a_first: Mapped[bool] = mapped_column(Boolean, default=True)


class ReviewVote(Base):
    """A reviewer's verdict on one item: 'a', 'b' or 'tie'."""

    __tablename__ = "review_votes"
    __table_args__ = (CheckConstraint("choice IN ('a', 'b', 'tie')", name="ck_review_votes_choice"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id", ondelete="CASCADE"), index=True)
    reviewer: Mapped[str] = mapped_column(String(100))
    choice: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Correction(Base):
    """A person's judgement of a model's answer: a better answer they wrote ('rewrite': the model's
    answer is the rejected side), or thumbs up and down on two answers to one prompt ('thumbs')."""

    __tablename__ = "corrections"
    __table_args__ = (CheckConstraint("kind IN ('rewrite', 'thumbs')", name="ck_corrections_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    prompt: Mapped[str] = mapped_column(Text)       # a JSON list of {role, content} turns
    chosen: Mapped[str] = mapped_column(Text)
    rejected: Mapped[str] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), nullable=True,
                                               index=True)
    model_ref: Mapped[str] = mapped_column(String(300), default="")
    place: Mapped[str] = mapped_column(String(32), default="")    # playground, evaluation, cli
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")


class AnswerEvaluation(Base):
    """Scored answers of one model on a dataset split: a run, a prompt baseline or a catalogue model."""

    __tablename__ = "answer_evaluations"
    __table_args__ = (Index("ix_answer_evaluations_lookup", "dataset_id", "split", "model_ref", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), nullable=True,
                                               index=True)
    model_ref: Mapped[str] = mapped_column(String(300))
    split: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))  # run, zero_shot, few_shot, label_zero_shot, ...
    shots: Mapped[int] = mapped_column(Integer, default=0)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    examples: Mapped[int] = mapped_column(Integer, default=0)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AnswerExample(Base):
    """One scored example: the prompt shown, the reference, the model's answer and its scores."""

    __tablename__ = "answer_examples"
    __table_args__ = (Index("ix_answer_examples_evaluation_position", "evaluation_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("answer_evaluations.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # the row's position in its split
    prompt: Mapped[str] = mapped_column(Text)
    reference: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Worker(Base):
    """A ``uclab worker`` process: where it runs, what it can train, and when it last beat."""

    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    pid_started: Mapped[float | None] = mapped_column(Float, nullable=True)
    slots: Mapped[int] = mapped_column(Integer, default=1)
    gpus: Mapped[list[Any]] = mapped_column(JSON, default=list)
    device_class: Mapped[str] = mapped_column(String(8), default="cpu")  # what it can run: cpu | gpu
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Sweep(Base):
    """A hyper-parameter sweep: an Optuna study (its own tables, ``study_name``) whose trials are runs.

    ``asked`` counts the trials handed out; it only grows through a compare-and-set, so two
    processes advancing the sweep at once never hand out more trials than the budget or the
    parallel bound allows.
    """

    __tablename__ = "sweeps"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_name: Mapped[str] = mapped_column(String(200), unique=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    model_key: Mapped[str] = mapped_column(String(300))
    task: Mapped[str] = mapped_column(String(32))
    metric: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(16))  # maximize | minimize
    space: Mapped[str] = mapped_column(Text)
    base_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    n_trials: Mapped[int | None] = mapped_column(Integer, nullable=True)
    minutes: Mapped[float | None] = mapped_column(Float, nullable=True)
    parallel: Mapped[int] = mapped_column(Integer, default=1)
    asked: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="running", index=True)  # running | finished
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    final_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"),
                                                     nullable=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
