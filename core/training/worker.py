"""The background training process: ``python -m core.training.worker RUN_ID``.

It claims a queued run (atomically; it exits quietly if the run is taken or no slot is free),
trains it with ``core.ml.trainer``, evaluates the final model and the baselines, and ends the run
with a terminal status. Whatever happens, the run never stays ``running`` after the process ends,
and the next queued run is started.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

import pandas as pd

from core.config import get_settings
from core.data import datasets
from core.entities import RunStatus as S
from core.errors import UserError
from core.models import catalog
from core.results.evaluation import store_evaluation
from core.run_config import TrainConfig
from core.store import runs
from core.training import crossval, disk, queue, sweep
from core.training.estimates import FORWARD_SPEEDUP

HEARTBEAT_EVERY_S = 5.0
OOM_MESSAGE = "Training ran out of memory. Try a smaller batch size or max length."
VALIDATION_ROWS_DURING_TRAINING = 2000
SAMPLE_PROMPT_ROWS = 10  # the first validation rows, always among those checked during training


def validation_during_training(validation: pd.DataFrame, seed: int,
                               limit: int = VALIDATION_ROWS_DURING_TRAINING) -> pd.DataFrame:
    """The validation rows checked during training: all of them, or `limit` of them in file order.

    The first rows are always kept (and stay first), so the sample prompts a causal LM answers
    at each evaluation are the first few validation rows, a rule a presenter can predict.
    """
    if len(validation) <= limit:
        return validation
    keep = min(SAMPLE_PROMPT_ROWS, limit)
    rest = validation.iloc[keep:].sample(n=limit - keep, random_state=seed).sort_index()
    return pd.concat([validation.iloc[:keep], rest])


def failure_sentence(exc: BaseException) -> str:
    """One sentence for the run's status: what went wrong, never a traceback."""
    if disk.is_disk_full(exc):
        return disk.disk_full_sentence(get_settings().home)
    text = str(exc).strip()
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError" or (
            "out of memory" in text.lower() or "can't allocate memory" in text.lower()):
        return OOM_MESSAGE
    if isinstance(exc, UserError):
        return text
    first = text.splitlines()[0] if text else ""
    return f"Training failed: {type(exc).__name__}{': ' + first[:300] if first else ''}."


def _log(run_id: int, message: str, level: str = "info") -> None:
    print(message, file=sys.stderr, flush=True)  # also in the worker.log file
    runs.add_log(run_id, message, level)


class _Heartbeat(threading.Thread):
    """Beats every few seconds while the worker lives, including during loading and evaluation."""

    def __init__(self, run_id: int) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self.run_id = run_id
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(HEARTBEAT_EVERY_S):
            try:
                runs.heartbeat(self.run_id)
            except Exception:  # noqa: BLE001 - a missed beat must never kill training
                pass


def load_frames(dataset_id: int) -> tuple[dict[str, Any], pd.DataFrame]:
    """The dataset's facts and its canonical frame (column ``split`` + task columns)."""
    info = datasets.get_dataset(dataset_id)
    return info.to_dict(), datasets.load_dataset_frame(dataset_id)


def split_frames(frame: pd.DataFrame, config: Any) -> dict[str, pd.DataFrame]:
    """train (sampled to max_train_rows with the run's seed), validation and test frames."""
    cv = (config.task_options or {}).get("cv") or {}
    if "train_rows" in cv:  # a cross-validation fold: its rows are in its config (core.training.crossval)
        parts = crossval.fold_split(frame, cv)
    else:
        parts = {name: frame[frame["split"] == name].reset_index(drop=True)
                 for name in ("train", "validation", "test")}
    if (config.task_options or {}).get(sweep.FIT_ON) == "train+validation":  # a sweep's final run
        parts["train"] = pd.concat([parts["train"], parts["validation"]], ignore_index=True)
    limit = config.max_train_rows
    if limit and len(parts["train"]) > limit:
        parts["train"] = parts["train"].sample(n=limit, random_state=config.seed).reset_index(drop=True)
    return parts


def library_versions() -> dict[str, str]:
    """Versions that decide whether a run can be reproduced."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for name in ("torch", "transformers", "peft", "accelerate", "scikit-learn", "tokenizers"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def process_rank() -> int:
    """This process's rank among a run's training processes (0 when it trains alone)."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def _take(run_id: int, *, claimed: bool) -> bool:
    """Become the run's process: claim a queued run, or take over one a worker daemon claimed."""
    if not claimed:
        return runs.claim_run(run_id, os.getpid(), max_running=queue.max_running())
    if runs.take_over(run_id, os.getpid()):
        return True
    info = runs.get_run(run_id)
    if info.status == S.RUNNING and info.cancel_requested:
        _finish(run_id, S.CANCELLED, "Cancelled before it started.")
    return False


def run(run_id: int, *, claimed: bool = False) -> int:
    """Train one queued run to a terminal status; the process exit code (0 ok/cancelled, 1 failed).

    `claimed`: a worker daemon already moved the run to running and will start the next one.
    The processes of a multi-process run all train; only rank 0 talks to the database.
    """
    if process_rank() != 0:
        return _train_other_rank(run_id)
    if not _take(run_id, claimed=claimed):
        print(f"Run {run_id} is not claimable now (taken, not queued, or no free slot).", file=sys.stderr,
              flush=True)
        return 0
    beat = _Heartbeat(run_id)
    beat.start()
    disk.keep_reserve(get_settings().home)
    code = 1
    sentence = "The training process ended without finishing the run."
    try:
        code = _train_and_finish(run_id)
    except BaseException as exc:  # noqa: BLE001 - every failure ends as a one-sentence status
        sentence = _fail(run_id, exc)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
    finally:
        beat.stop.set()
        if _quietly(lambda: runs.get_run(run_id).status) in (S.RUNNING, None):  # not finished above
            _finish(run_id, S.FAILED, sentence)
        if not claimed:  # a daemon starts its own next run
            try:
                crossval.refresh_live_parents()  # a finished fold may finish its cross-validation
                queue.kick_queue()
            except Exception:  # noqa: BLE001 - the next run will be started by the next kick
                traceback.print_exc()
    return code


def _fail(run_id: int, exc: BaseException) -> str:
    """End the run as failed with one sentence. Nothing here may need the disk that may be full:
    the space is freed first, each write is allowed to fail, and the traceback goes to the worker
    log file only (the page shows the sentence)."""
    sentence = failure_sentence(exc)  # measures the free space before anything is freed
    if disk.is_disk_full(exc):
        home = get_settings().home
        disk.release_reserve(home)
        removed = disk.remove_partial(get_settings().runs_dir / str(run_id))
        sentence += f" Removed the partial {', '.join(removed)}." if removed else ""
    _quietly(traceback.print_exc)
    _finish(run_id, S.FAILED, sentence)
    _quietly(lambda: runs.add_log(run_id, sentence, "error"))
    return sentence


def _quietly(action: Any) -> Any:
    """Run an action of the failure path; a failure of its own (full disk) is ignored (None)."""
    try:
        return action()
    except Exception:  # noqa: BLE001 - the failure path must always reach its end
        return None


class InlineLauncher:
    """Runs the worker in this process and returns when it ends (tests, scripts)."""

    def launch(self, run_id: int) -> None:
        run(run_id)
        if runs.get_run(run_id).status == S.QUEUED:  # not claimed: free it for the next kick
            runs.update_progress(run_id, heartbeat=False, pid=None)


def _finish(run_id: int, status: S, reason: str, **fields: Any) -> None:
    try:
        runs.transition(run_id, status, reason=reason, expect=[S.RUNNING], **fields)
    except UserError:
        pass  # already finished (e.g. reaped); keep the first verdict
    except Exception:  # noqa: BLE001 - e.g. the database cannot write; the reaper ends it later
        _quietly(traceback.print_exc)


def _prepare(run_id: int, *, main: bool) -> tuple[Any, Any, dict[str, pd.DataFrame], Any, Path, Any]:
    """The run's facts, adapter, split frames, task inputs, folder and checkpoint to resume from.

    `main`: this is the process that records the run (rank 0); the others only read.
    """
    from core.ml import device as devices
    from core.ml.tasks.base import TaskInputs
    from core.ml.tasks.registry import get_adapter

    settings = get_settings()
    info = runs.get_run(run_id)
    config = TrainConfig.from_dict(info.config)
    run_dir = settings.runs_dir / str(run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    if main:
        choice = devices.choose()
        world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        device = choice.name + (f" × {world} processes" if world > 1 else "")
        runs.update_progress(run_id, library_versions=library_versions(), device=device,
                             output_dir=settings.relative(run_dir))
    adapter = get_adapter(info.task)
    dataset, frame = load_frames(info.dataset_id)
    parts = split_frames(frame, config)
    validation = validation_during_training(parts["validation"], config.seed)
    inputs = TaskInputs(task=info.task, train=parts["train"], validation=validation, test=parts["test"],
                        model_dir=Path(catalog.model_path(info.model_key)), config=config,
                        dataset_info=dataset, model_key=info.model_key)
    resume = runs.last_complete_checkpoint(run_dir / "checkpoints")
    return info, adapter, parts, inputs, run_dir, resume


def _train_other_rank(run_id: int) -> int:
    """A non-main process of a multi-process run: trains its share, records nothing."""
    from core.ml.trainer import train

    info, adapter, _parts, inputs, run_dir, resume = _prepare(run_id, main=False)
    outcome = train(run_id, inputs, adapter, run_dir, resume_from=resume,
                    elapsed_before=info.elapsed_seconds,
                    log=lambda m: print(f"[rank {process_rank()}] {m}", file=sys.stderr, flush=True))
    return 1 if outcome.status == "failed" else 0


def _train_and_finish(run_id: int) -> int:
    from core.ml.trainer import train

    info, adapter, parts, inputs, run_dir, resume = _prepare(run_id, main=True)
    config = inputs.config
    if resume is not None:  # the steps after the checkpoint are trained again: their rows go
        runs.drop_metrics_after(run_id, int(resume.name.rsplit("-", 1)[1]))
    _log(run_id, f"Run {run_id}: {info.task} with {info.model_key} on dataset {info.dataset_id}"
         + (f", resuming from {resume.name}" if resume else "") + ".")
    trial = sweep.sweep_tag(info.config)  # a sweep's trial: reported to its study, maybe pruned
    watcher = sweep.PruneWatcher(run_id, trial) if trial else None
    if watcher:
        watcher.start()
    outcome = train(run_id, inputs, adapter, run_dir, resume_from=resume,
                    elapsed_before=info.elapsed_seconds, log=lambda m: _log(run_id, m))
    if watcher:
        watcher.stop.set()
        watcher.join(timeout=10)
    if outcome.status != "succeeded":
        pruned = watcher.reason if watcher and outcome.status == "cancelled" else ""
        reason = pruned or outcome.reason
        _log(run_id, reason, "error" if outcome.status == "failed" else "info")
        _finish(run_id, S(outcome.status), reason, step=outcome.global_step)
        return 1 if outcome.status == "failed" else 0
    bundle = outcome.bundle
    assert bundle is not None
    model_dir = run_dir / "model"
    _phase(run_id, "Saving the model…")
    adapter.save(outcome.model, bundle.processing_class, model_dir, bundle.meta)
    summary: dict[str, Any] = {}
    # A sweep's trial is judged on validation only: the test split is kept for its final run.
    for split in ("validation",) if trial else ("test", "validation"):
        if parts[split].empty:
            continue
        _phase(run_id, f"Evaluating on {len(parts[split]):,} {split} rows…", rows=len(parts[split]))
        _log(run_id, f"Evaluating on the {split} split ({len(parts[split])} rows).")
        metrics, predictions = adapter.evaluate(outcome.model, bundle.processing_class, parts[split],
                                                bundle.meta, config)
        store_evaluation(run_id, split, "run", metrics, predictions)
        summary[split] = {k: v for k, v in metrics.items() if isinstance(v, int | float)}
    eval_split = "test" if not parts["test"].empty else "validation"
    if trial:
        return _finish_trial(run_id, outcome.global_step, summary)
    if info.task == "causal-lm":
        _phase(run_id, "Writing and scoring answers to held-out examples…")
        _score_answers(run_id, info.dataset_id, eval_split, parts, outcome.model, bundle.processing_class,
                       model_dir, config)
    _phase(run_id, "Training the simple baselines to compare against…")
    for name, metrics, predictions in adapter.baselines(parts["train"], parts[eval_split]):
        store_evaluation(run_id, eval_split, name, metrics, predictions)
        summary.setdefault("baselines", {})[name] = {k: v for k, v in metrics.items()
                                                     if isinstance(v, int | float)}
    _log(run_id, f"Finished at step {outcome.global_step}.")
    steps = {} if runs.get_run(run_id).total_steps else {"total_steps": outcome.global_step}  # a fitted model
    _finish(run_id, S.SUCCEEDED, "", step=outcome.global_step, summary=summary, **steps)
    return 0


def _finish_trial(run_id: int, step: int, summary: dict[str, Any]) -> int:
    """A sweep's trial ends after its validation score (no baselines: the sweep compares trials)."""
    _log(run_id, f"Finished at step {step}.")
    steps = {} if runs.get_run(run_id).total_steps else {"total_steps": step}
    _finish(run_id, S.SUCCEEDED, "", step=step, summary=summary, **steps)
    return 0


def _phase(run_id: int, text: str, rows: int = 0) -> None:
    """Say what the run does after its last training step (the pages show it instead of 'Time left 0 s').

    The time left is the rows to score at about three times the measured training speed
    (a forward pass without the backward one); the summary is replaced when the run ends.
    """
    speed = runs.get_run(run_id).samples_per_second
    eta = rows / (speed * FORWARD_SPEEDUP) if rows and speed else None
    runs.update_progress(run_id, summary={"phase": text}, eta_seconds=eta)


def _score_answers(run_id: int, dataset_id: int, split: str, parts: dict[str, pd.DataFrame], model: Any,
                   tokenizer: Any, model_dir: Path, config: Any) -> None:
    """Generate and score the trained model's answers to at most N held-out examples (0 turns it off)."""
    from core.ml.batch_generation import from_trained
    from core.results.answer_quality import DEFAULT_EXAMPLES, evaluate_answers

    limit = int((config.task_options or {}).get("eval_examples", DEFAULT_EXAMPLES))
    if limit <= 0 or parts[split].empty:
        return
    _log(run_id, f"Scoring the answers to at most {limit} {split} examples.")
    try:
        loaded = from_trained(f"run:{run_id}", model, tokenizer, model_dir)
        ev = evaluate_answers(loaded, dataset_id, split, kind="run", examples=limit, run_id=run_id,
                              frames=(parts[split], parts["train"]), batch_size=config.eval_batch_size or 8)
    except Exception as exc:  # noqa: BLE001 - the trained model stays; its answers can be scored later
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        _log(run_id, f"Scoring the answers failed ({reason}); score them on the Evaluation page.", "error")
        return
    headline = ev.metrics.get("headline", "rouge_l")
    value = (ev.metrics.get("metrics") or {}).get(headline, {}).get("mean")
    _log(run_id, f"Answer quality on {ev.examples} {split} examples: {headline} "
         f"{value if value is None else round(value, 3)}.")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m core.training.worker RUN_ID``."""
    argv = sys.argv[1:] if argv is None else argv
    claimed = "--claimed" in argv
    argv = [a for a in argv if a != "--claimed"]
    if len(argv) != 1 or not argv[0].isdigit():
        print("Usage: python -m core.training.worker RUN_ID [--claimed]", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # On an Apple GPU, run the few operations MPS lacks on the CPU instead of failing the run.
    os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")
    from core.ml.callbacks import TERMINATE

    # SIGTERM (a shutdown, `kill`) stops at the next step with a checkpoint, like Cancel.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: TERMINATE.set())
    return run(int(argv[0]), claimed=claimed)


if __name__ == "__main__":
    sys.exit(main())
