"""The background training process: ``python -m core.training.worker RUN_ID``.

It claims a queued run (atomically; it exits quietly if the run is taken or no slot is free),
trains it with ``core.ml.trainer``, evaluates the final model and the baselines, and ends the run
with a terminal status. Whatever happens, the run never stays ``running`` after the process ends,
and the next queued run is started.

This module is the process shell (claim, heartbeat, signals, the terminal status); the phases it
runs live beside it: the input preparation (``core.training.prepare``), the engine handed its run
folder and recorder (``core.ml.trainer``, ``core.training.recorder``) and the evidence after
training (``core.training.evidence``).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from typing import Any

from core.config import get_settings
from core.entities import RunStatus as S
from core.errors import UserError
from core.run_folder import PrintRecorder, RunFolder
from core.store import runs
from core.training import crossval, disk, queue, sweep
from core.training.evidence import gather_evidence
from core.training.evidence import score_answers as _score_answers  # noqa: F401 - tests call it here
from core.training.prepare import (  # noqa: F401 - the input helpers, re-exported for their callers
    library_versions,
    load_frames,
    prepare_run,
    process_rank,
    split_frames,
    validation_during_training,
)
from core.training.recorder import StoreRecorder

HEARTBEAT_EVERY_S = 5.0
OOM_MESSAGE = "Training ran out of memory. Try a smaller batch size or max length."


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
    StoreRecorder(run_id, echo=True).log(message, level)  # also printed: the worker.log file


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
        removed = disk.remove_partial(RunFolder.of(get_settings().runs_dir, run_id).root)
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


def _train_other_rank(run_id: int) -> int:
    """A non-main process of a multi-process run: trains its share, records nothing."""
    from core.ml.trainer import train

    run = prepare_run(run_id, main=False)
    quiet = PrintRecorder(f"[rank {process_rank()}] ")
    outcome = train(run.folder, run.inputs, run.adapter, quiet, resume_from=run.resume,
                    elapsed_before=run.info.elapsed_seconds, log=quiet.log)
    return 1 if outcome.status == "failed" else 0


def _train_and_finish(run_id: int) -> int:
    """The phases of a run: prepare its inputs, train, gather the evidence, finish."""
    from core.ml.trainer import train

    run = prepare_run(run_id, main=True)
    info, resume = run.info, run.resume
    if resume is not None:  # the steps after the checkpoint are trained again: their rows go
        runs.drop_metrics_after(run_id, int(resume.name.rsplit("-", 1)[1]))
    _log(run_id, f"Run {run_id}: {info.task} with {info.model_key} on dataset {info.dataset_id}"
         + (f", resuming from {resume.name}" if resume else "") + ".")
    trial = sweep.sweep_tag(info.config)  # a sweep's trial: each evaluation goes to its study too
    recorder = sweep.TrialRecorder(run_id, trial) if trial else StoreRecorder(run_id)
    try:
        outcome = train(run.folder, run.inputs, run.adapter, recorder, resume_from=resume,
                        elapsed_before=info.elapsed_seconds, log=lambda m: _log(run_id, m))
    finally:
        if isinstance(recorder, sweep.TrialRecorder):
            recorder.close()
    if outcome.status != "succeeded":
        pruned = getattr(recorder, "reason", "") if outcome.status == "cancelled" else ""
        reason = pruned or outcome.reason
        _log(run_id, reason, "error" if outcome.status == "failed" else "info")
        _finish(run_id, S(outcome.status), reason, step=outcome.global_step)
        return 1 if outcome.status == "failed" else 0
    # A sweep's trial is judged on validation only (no test, no baselines): test is for its final run.
    summary = gather_evidence(run, outcome, validation_only=bool(trial))
    _log(run_id, f"Finished at step {outcome.global_step}.")
    steps = {} if runs.get_run(run_id).total_steps else {"total_steps": outcome.global_step}  # a fitted model
    _finish(run_id, S.SUCCEEDED, "", step=outcome.global_step, summary=summary, **steps)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m core.training.worker RUN_ID``."""
    argv = sys.argv[1:] if argv is None else argv
    claimed = "--claimed" in argv
    argv = [a for a in argv if a != "--claimed"]
    if len(argv) != 1 or not argv[0].isdigit():
        print("Usage: python -m core.training.worker RUN_ID [--claimed]", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # TRL's preference trainer tokenises with datasets
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
