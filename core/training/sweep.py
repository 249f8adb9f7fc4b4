"""Hyper-parameter sweeps: an Optuna study on the app's own database whose trials are ordinary runs.

``start_sweep`` writes a sweep row and creates the Optuna study (Optuna's RDB storage on the
app's database URL: Optuna's own tables beside ours; the app's Alembic migrations run first and
own ``alembic_version``, Optuna is opened with ``skip_compatibility_check`` so it never stamps or
reads that table as its own). ``advance_sweep`` is the one step that moves a sweep on, and any
process may take it at any time (the CLI, each ``uclab worker``, the app): it tells the study
the value of every trial whose run ended (exactly once: Optuna refuses a second tell of a
finished trial), puts a trial's interrupted run back in the queue, and asks the study for new
trials while the budget (trials, minutes) and ``parallel`` allow; each new trial is a queued run
tagged ``task_options["sweep"] = {"id", "trial"}`` that any worker claims.

The objective is the task's ranking metric (``core.task_specs``) on the validation split, never
the test split. Pruning: the worker hands the engine a ``TrialRecorder``, which reports
each validation evaluation to the trial; when the median pruner says stop, the run stops as on a
cancel, with a sentence that says it was pruned (status ``cancelled``: the run was stopped on
request before its end, by the sweep instead of a person; the reason says which).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from core.config import get_settings
from core.entities import RunStatus as S
from core.errors import ConfigError, NotFoundError, UserError
from core.run_config import PREFERENCE, TrainConfig
from core.store import db, runs
from core.store import sweeps as store
from core.store.orm import utcnow
from core.store.sweeps import SweepInfo
from core.task_specs import get_spec, higher_is_better
from core.tasks.intervals import wilson_interval
from core.text.labels import metric_label
from core.training import queue
from core.training.estimates import estimate_run
from core.training.prepare import FIT_ON
from core.training.recorder import StoreRecorder
from core.training.request import TrainRequest, check_request
from core.training.sweep_space import Param, apply_params, default_space, format_space, parse_space

SWEEP_OPTION = "sweep"           # the task option that tags a run as a sweep's trial
PRUNED_PREFIX = "Pruned by sweep"
DEFAULT_TRIALS = 12
MAX_TRIALS = 500
MAX_PARALLEL = 64
ORPHAN_AFTER = timedelta(minutes=2)  # a trial asked but never given a run (its process died)
PRUNER_STARTUP_TRIALS = 2           # finished trials before the median means anything
PRUNER_WARMUP_EVALUATIONS = 2       # evaluations count from 1: never prune on the first (too noisy)
# A preference (DPO) run: the objective is the DPO loss on the validation pairs. The summary stores it
# as "dpo_loss" (core.tasks.preference_metrics, after training); each evaluation during training
# records TRL's eval loss (the same sigmoid DPO loss) as "loss": the name the pruner reads.
PREFERENCE_METRIC = "dpo_loss"
EVALUATION_NAMES = {PREFERENCE_METRIC: "loss"}

__all__ = ["SweepInfo", "TrialRow", "advance_live_sweeps", "advance_sweep", "default_space",
           "estimate_sweep", "get_sweep", "list_sweeps", "objective_of", "start_sweep", "sweep_tag",
           "sweep_trials", "TrialRecorder"]


@dataclass(frozen=True)
class TrialRow:
    """One trial of a sweep, as its leaderboard shows it."""

    number: int
    state: str                      # Optuna's: RUNNING, COMPLETE, PRUNED, FAIL, WAITING
    value: float | None
    params: dict[str, Any]
    run_id: int | None
    run_status: str = ""
    status_reason: str = ""
    host: str = ""
    interval: tuple[float, float] | None = None   # 95 % interval of the value (proportions only)
    best: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- the study ------------------------------------------------------------------------------------
def _storage() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    db.get_engine()  # the app's migrations first: they own alembic_version, Optuna must not stamp it
    url = get_settings().database_url
    sqlite = url.startswith("sqlite")
    kwargs: dict[str, Any] = ({"connect_args": {"timeout": db.BUSY_TIMEOUT_MS / 1000}}
                              if sqlite else {"pool_pre_ping": True})
    storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs, skip_compatibility_check=True)
    if sqlite:
        # Every transaction takes SQLite's write lock first: Optuna hands out an enqueued trial by
        # reading it WAITING, then writing RUNNING, and PostgreSQL's row lock (FOR UPDATE) that keeps
        # two workers from taking the same trial does nothing on SQLite.
        db.configure_sqlite(storage.engine, immediate=True)
    return storage


def _pruner() -> Any:
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS,
                                       n_warmup_steps=PRUNER_WARMUP_EVALUATIONS)


def _sampler(info: SweepInfo, salt: int) -> Any:
    """TPE (constant liar: trials running in parallel count as bad guesses, so they spread out).
    Every process builds its own, so the seed moves with each trial handed out."""
    import optuna

    startup = min(10, max(2, (info.n_trials or DEFAULT_TRIALS) // 3))
    return optuna.samplers.TPESampler(seed=int(info.base_config.get("seed", 42)) + salt,
                                      n_startup_trials=startup, constant_liar=True)


@contextmanager
def _study(info: SweepInfo, salt: int = 0) -> Iterator[Any]:
    import optuna

    storage = _storage()
    try:
        yield optuna.load_study(study_name=info.study_name, storage=storage, sampler=_sampler(info, salt),
                                pruner=_pruner())
    finally:
        storage.engine.dispose()


def _distributions(params: tuple[Param, ...]) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for p in params:
        if p.choices:
            out[p.name] = CategoricalDistribution(list(p.choices))
        elif p.integer:
            out[p.name] = IntDistribution(int(p.low or 0), int(p.high or 0), log=p.log)
        else:
            out[p.name] = FloatDistribution(float(p.low or 0), float(p.high or 0), log=p.log)
    return out


# -- starting -------------------------------------------------------------------------------------
def objective_of(task: str, dataset_id: int, *, config: TrainConfig | None = None) -> tuple[str, str]:
    """The metric a sweep optimises on the validation split, and its direction; a preference `config`
    (DPO): the validation DPO loss, lower is better."""
    if config is not None and config.training_kind == PREFERENCE:
        return PREFERENCE_METRIC, "minimize"
    spec = get_spec(task)
    if spec is None:
        raise ConfigError(f"Sweeps cannot optimise the task '{task}'.")
    metric = spec.rank_metrics[0]
    if spec.headline_from:  # tabular: a classification or a regression, by its target column
        from core.data import datasets
        from core.tasks.tabular import infer_target_kind

        info = datasets.get_dataset(dataset_id)
        frame = datasets.load_dataset_frame(dataset_id)
        kind = infer_target_kind(frame["label"], dict(info.mapping or {}))
        sub = get_spec(spec.headline_from[0] if kind == "classification" else spec.headline_from[1])
        metric = sub.rank_metrics[0] if sub else metric
    return metric, "maximize" if higher_is_better(metric) else "minimize"


def check_budget(trials: int | None, minutes: float | None, parallel: int) -> None:
    """ConfigError with one sentence for a budget or a parallel bound that cannot run."""
    if trials is not None and not 1 <= trials <= MAX_TRIALS:
        raise ConfigError(f"The number of trials must be between 1 and {MAX_TRIALS}.")
    if minutes is not None and not minutes > 0:
        raise ConfigError("The time budget must be a positive number of minutes.")
    if not 1 <= parallel <= MAX_PARALLEL:
        raise ConfigError(f"--parallel must be between 1 and {MAX_PARALLEL}.")


def start_sweep(dataset_id: int, model_key: str, *, trials: int | None = None, minutes: float | None = None,
                space: str | None = None, parallel: int = 1, config: TrainConfig | None = None,
                first_trials: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (), created_by: str = "",
                advance: bool = True) -> SweepInfo:
    """Create the sweep and its study, and queue its first trials (`advance`). `first_trials`: settings
    to try first (for example the default run's), in order, before the sampler chooses."""
    import optuna

    check_budget(trials, minutes, parallel)
    if trials is None and minutes is None:
        trials = DEFAULT_TRIALS
    base = config or TrainConfig()
    request = TrainRequest(dataset_id=dataset_id, model_key=model_key, config=base)
    task, _dataset = check_request(request)
    params = _space(space, request, task)
    distributions = _distributions(params)
    for fixed in first_trials:
        unknown = set(fixed) - set(distributions)
        if unknown:
            raise ConfigError(f"The first trial names {', '.join(sorted(unknown))}, which the space lacks.")
    metric, direction = objective_of(task, dataset_id, config=base)
    study_name = f"uclab-sweep-{utcnow():%Y%m%d%H%M%S%f}-{dataset_id}"
    info = store.create_sweep(study_name=study_name, dataset_id=dataset_id, model_key=model_key, task=task,
                              metric=metric, direction=direction, space=format_space(params),
                              base_config=base.to_dict(), n_trials=trials, minutes=minutes, parallel=parallel,
                              created_by=created_by)
    storage = _storage()
    try:
        study = optuna.create_study(study_name=study_name, storage=storage, direction=direction,
                                    sampler=_sampler(info, 0), pruner=_pruner())
        study.set_user_attr("uclab_sweep_id", info.id)
        study.set_user_attr("metric", f"validation {metric}")
        for fixed in first_trials:
            study.enqueue_trial(fixed)
    finally:
        storage.engine.dispose()
    return advance_sweep(info.id) if advance else info


def _space(space: str | None, request: TrainRequest, task: str) -> tuple[Param, ...]:
    """The parsed space (the task's default when none is given); a preference sweep is checked as its
    runs are (core.training.preference_runs), and never sweeps epochs: a preference run counts steps."""
    base = request.config
    params = parse_space(space or default_space(task, request.model_key, kind=base.training_kind))
    if base.training_kind == PREFERENCE:
        from core.training.preference_runs import check_preference_request

        check_preference_request(request)
        if any(p.name == "epochs" for p in params):
            raise ConfigError("Preference runs count steps: sweep max_steps instead of epochs.")
    elif any(p.name == "beta" for p in params):
        raise ConfigError("beta is DPO's setting: only a sweep of preference runs can sweep it.")
    return params


def sweep_tag(config: dict[str, Any]) -> dict[str, int] | None:
    """{"id", "trial"} when a run's settings say it is a sweep's trial."""
    tag = (config.get("task_options") or {}).get(SWEEP_OPTION)
    return tag if isinstance(tag, dict) and "id" in tag else None


# -- advancing ------------------------------------------------------------------------------------
def _budget_left(info: SweepInfo) -> bool:
    if info.n_trials is not None and info.asked >= info.n_trials:
        return False
    if info.minutes is not None and utcnow() > info.created_at + timedelta(minutes=info.minutes):
        return False
    return True


def _tell(study: Any, number: int, **kwargs: Any) -> None:
    """Tell the study once; a second tell (another process was first) changes nothing."""
    try:
        study.tell(number, skip_if_finished=True, **kwargs)
    except (RuntimeError, ValueError, UserError):
        pass  # the trial finished meanwhile (Optuna's UpdateFinishedTrialError is a RuntimeError)


def _settle(study: Any, info: SweepInfo, trial: Any, run: Any) -> bool:
    """Tell the study about a trial whose run ended; False while the run is (or will be) live again."""
    from optuna.trial import TrialState

    if run.status in (S.QUEUED, S.RUNNING):
        return False
    if run.status == S.INTERRUPTED:  # a worker died mid-trial: the trial continues from its checkpoint
        try:
            runs.transition(run.id, S.QUEUED, reason="", expect=[S.INTERRUPTED])
            runs.add_log(run.id, f"Back in the queue: trial {trial.number} of sweep {info.id} continues "
                                 "from its last checkpoint.")
        except UserError:
            pass
        return False
    if run.status == S.CANCELLED and run.status_reason.startswith(queue.REQUEUE_REASON):
        return False  # its worker was stopped and puts it back in the queue
    if run.status == S.SUCCEEDED:
        value = (run.summary.get("validation") or {}).get(info.metric)
        if isinstance(value, int | float):
            _tell(study, trial.number, values=float(value))
        else:
            study._storage.set_trial_user_attr(trial._trial_id, "reason",
                                               f"The run stored no validation {info.metric}.")
            _tell(study, trial.number, state=TrialState.FAIL)
    elif run.status == S.CANCELLED and run.status_reason.startswith(PRUNED_PREFIX):
        _tell(study, trial.number, state=TrialState.PRUNED)
    else:  # failed, or cancelled by a person: the sampler learns nothing from it
        _tell(study, trial.number, state=TrialState.FAIL)
    return True


def _ask(study: Any, info: SweepInfo, distributions: dict[str, Any]) -> int | None:
    """Hand out one trial: ask the study, queue its run; the run id (None when its settings are invalid)."""
    from optuna.trial import TrialState

    try:
        trial = study.ask(distributions)
    except Exception as exc:  # noqa: BLE001 - e.g. the database locked for longer than its timeout
        raise _NotAsked(str(exc)) from exc
    config = apply_params(info.base_config, trial.params)
    config["task_options"][SWEEP_OPTION] = {"id": info.id, "trial": trial.number}
    try:
        checked = TrainConfig.from_dict(config)
    except ConfigError as exc:
        trial.set_user_attr("reason", str(exc))
        study.tell(trial.number, state=TrialState.FAIL)
        return None
    shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items())
    run = None
    try:
        run = runs.create_run(dataset_id=info.dataset_id, model_key=info.model_key, task=info.task,
                              config=checked.to_dict(), seed=checked.seed,
                              name=f"sweep {info.id} · trial {trial.number}", created_by=info.created_by)
        trial.set_user_attr("run_id", run.id)
    except Exception as exc:
        # The trial was handed out but has no run the sweep can follow: it fails now with the reason
        # (instead of holding the sweep open until it is found orphaned), and a run already queued
        # for it is cancelled rather than trained for nobody.
        with suppress(Exception):
            trial.set_user_attr("reason", f"Its run could not be queued: {exc}")
        if run is not None:
            with suppress(Exception):
                runs.request_cancel(run.id)
        _tell(study, trial.number, state=TrialState.FAIL)
        raise
    runs.add_log(run.id, f"Queued by sweep {info.id} as trial {trial.number}: {shown}.")
    return run.id


class _NotAsked(Exception):
    """The study handed out no trial (its storage failed): the slot claimed for it is given back."""


def advance_sweep(sweep_id: int) -> SweepInfo:
    """Tell finished trials, requeue interrupted ones, hand out new ones; the sweep as it now is."""
    from optuna.trial import TrialState

    info = store.get_sweep(sweep_id)
    if not info.is_live:
        return info
    distributions = _distributions(parse_space(info.space))
    with _study(info, salt=info.asked) as study:
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            run_id = trial.user_attrs.get("run_id")
            if run_id is None:
                started = trial.datetime_start
                if started and utcnow() - started.replace(tzinfo=None) > ORPHAN_AFTER:
                    _tell(study, trial.number, state=TrialState.FAIL)
                continue
            try:
                _settle(study, info, trial, runs.get_run(int(run_id)))
            except NotFoundError:  # its run was deleted
                _tell(study, trial.number, state=TrialState.FAIL)
        queued_any = False
        while True:
            info = store.get_sweep(sweep_id)
            settled = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                                   TrialState.FAIL)))
            if not info.is_live or not _budget_left(info) or info.asked - settled >= info.parallel:
                break
            if not store.claim_trial_slot(sweep_id, info.asked):
                continue  # another process handed one out meanwhile: look again
            study.sampler = _sampler(info, info.asked + 1)
            try:
                queued_any = _ask(study, info, distributions) is not None or queued_any
            except _NotAsked:  # nothing was handed out: the slot goes back, or the sweep would wait on
                store.release_trial_slot(sweep_id)  # a trial that does not exist, for ever
                raise
        info = store.get_sweep(sweep_id)
        open_trials = study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
        settled = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                               TrialState.FAIL)))
        if not _budget_left(info) and not [t for t in open_trials if t.state == TrialState.RUNNING] \
                and settled >= info.asked:
            info = store.update_sweep(sweep_id, status=store.FINISHED, summary=_summary(study, info))
    if queued_any:
        queue.kick_queue()
    return info


def advance_live_sweeps() -> list[int]:
    """Advance every running sweep (each worker does it every few seconds); the ids advanced."""
    done = []
    for sweep_id in store.live_sweep_ids():
        try:
            advance_sweep(sweep_id)
            done.append(sweep_id)
        except Exception:  # noqa: BLE001 - one broken sweep must not stop a worker; the next tick retries
            continue
    return done


def counts_sentence(info: SweepInfo) -> str:
    """The finished sweep's tally in words ("5 finished, 1 pruned"); '' before it has one."""
    counts = (info.summary or {}).get("counts") or {}
    words = (("complete", "finished"), ("pruned", "pruned"), ("fail", "failed"))
    return ", ".join(f"{counts[key]} {word}" for key, word in words if counts.get(key))


def _summary(study: Any, info: SweepInfo) -> dict[str, Any]:
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    counts = {state.name.lower(): len(study.get_trials(deepcopy=False, states=(state,)))
              for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    if not complete:
        return {"counts": counts}
    best = study.best_trial
    return {"counts": counts, "best_value": best.value, "best_params": best.params,
            "best_trial": best.number, "best_run_id": best.user_attrs.get("run_id")}


# -- reading --------------------------------------------------------------------------------------
def get_sweep(sweep_id: int) -> SweepInfo:
    return store.get_sweep(sweep_id)


def list_sweeps(dataset_id: int | None = None) -> list[SweepInfo]:
    return store.list_sweeps(dataset_id=dataset_id)


def _interval(metric: str, value: float | None, rows: int) -> tuple[float, float] | None:
    """Wilson 95 % interval over the validation rows, for metrics that are shares (accuracy, F1):
    exact for accuracy, an approximation for F1 scores."""
    if value is None or rows <= 0 or not 0 <= value <= 1 or not higher_is_better(metric) or metric == "r2":
        return None
    low, high = wilson_interval(value * rows, rows)
    return (float(low), float(high))


def sweep_trials(sweep_id: int) -> list[TrialRow]:
    """Every trial with its run, best first (the best marked), then the others by value, then the rest."""
    import optuna

    info = store.get_sweep(sweep_id)
    rows_n = _validation_rows(info)
    storage = _storage()
    try:
        trials = optuna.load_study(study_name=info.study_name, storage=storage).get_trials(deepcopy=False)
    finally:
        storage.engine.dispose()
    out: list[TrialRow] = []
    for t in trials:
        run_id = t.user_attrs.get("run_id")
        run = None
        if run_id is not None:
            try:
                run = runs.get_run(int(run_id))
            except NotFoundError:
                run = None
        out.append(TrialRow(number=t.number, state=t.state.name, value=t.value, params=dict(t.params),
                            run_id=run_id, run_status=run.status if run else "",
                            status_reason=(run.status_reason if run else "")
                            or t.user_attrs.get("reason", ""),
                            host=run.host if run else "", interval=_interval(info.metric, t.value, rows_n)))
    # Only finished trials rank: a pruned trial carries its last reported value, not a final score.
    sign = 1.0 if info.direction == "maximize" else -1.0
    finished = sorted((r for r in out if r.state == "COMPLETE" and r.value is not None),
                      key=lambda r: (-sign * r.value, r.number))
    if finished:
        finished[0] = TrialRow(**{**asdict(finished[0]), "best": True})
    return finished + [r for r in out if not (r.state == "COMPLETE" and r.value is not None)]


def _validation_rows(info: SweepInfo) -> int:
    from core.data import datasets

    return int(datasets.get_dataset(info.dataset_id).split_sizes.get("validation", 0))


def tie_note(sweep_id: int, trials: Sequence[TrialRow]) -> str:
    """A sentence when other finished trials score inside the best trial's 95 % interval (the
    validation split cannot tell them apart); '' when the best stands clear or has no interval."""
    from core.data.language import joined

    best = next((t for t in trials if t.best), None)
    if best is None or best.interval is None:
        return ""
    low, high = best.interval  # intervals exist only for shares, where higher is better
    alike = [str(t.number) for t in trials
             if t.state == "COMPLETE" and not t.best and t.value is not None and t.value >= low]
    if not alike:
        return ""
    rows = _validation_rows(store.get_sweep(sweep_id))
    many = len(alike) > 1
    return (f"Trial{'s' if many else ''} {joined(alike)} score{'' if many else 's'} inside the best trial's "
            f"95 % interval ({low:.3f} – {high:.3f}) on {rows} validation rows: the validation split cannot "
            "tell these settings apart, so quote the final run's test score, not this ranking.")


def best_trial(sweep_id: int) -> TrialRow | None:
    rows = sweep_trials(sweep_id)
    return rows[0] if rows and rows[0].best else None


# -- the final run ------------------------------------------------------------------------------------
FINAL_OPTION = "sweep_final"


def make_final_run(sweep_id: int, created_by: str = "") -> Any:
    """Queue the final run: the best trial's settings trained once more on train + validation, then
    evaluated once on the test split by the ordinary worker (with the baselines). Returns the run;
    asking again returns the same run."""
    made = final_run(sweep_id)
    if made is not None:
        return made
    info = store.get_sweep(sweep_id)
    best = best_trial(sweep_id)
    if best is None or best.run_id is None:
        raise ConfigError(f"Sweep {sweep_id} has no finished trial yet; wait for one before the final run.")
    config = dict(runs.get_run(int(best.run_id)).config)
    options = {k: v for k, v in (config.get("task_options") or {}).items() if k != SWEEP_OPTION}
    # The validation rows become training rows: nothing is left to stop early on or pick a checkpoint by.
    options.update({FIT_ON: "train+validation", FINAL_OPTION: {"id": sweep_id, "trial": best.number}})
    config.update(task_options=options, early_stopping=False, debug={})
    checked = TrainConfig.from_dict(config)
    run = runs.create_run(dataset_id=info.dataset_id, model_key=info.model_key, task=info.task,
                          config=checked.to_dict(), seed=checked.seed, name=f"sweep {sweep_id} · final",
                          created_by=created_by)
    runs.add_log(run.id, f"The final run of sweep {sweep_id}: trial {best.number}'s settings, trained on the "
                         "train and validation splits, evaluated once on the test split.")
    store.update_sweep(sweep_id, final_run_id=run.id)
    queue.kick_queue()
    return runs.get_run(run.id)


def final_run(sweep_id: int, info: SweepInfo | None = None) -> Any:
    """The sweep's final run (None before one was made, or once it was deleted)."""
    info = info or store.get_sweep(sweep_id)
    if info.final_run_id is None:
        return None
    try:
        return runs.get_run(info.final_run_id)
    except NotFoundError:
        return None


def still_moving(sweep_id: int) -> bool:
    """Whether the sweep page has anything to follow: trials still handed out, or a final run queued
    or training."""
    info = store.get_sweep(sweep_id)
    final = None if info.is_live else final_run(sweep_id, info)
    return info.is_live or (final is not None and final.status in (S.QUEUED, S.RUNNING))


def final_comparison(sweep_id: int) -> dict[str, Any] | None:
    """The final run's test score beside the best trial's validation score, with one sentence on the
    gap (a test score clearly worse than validation is a sign the sweep over-fitted the validation
    split); None until the final run has succeeded."""
    info = store.get_sweep(sweep_id)
    final = final_run(sweep_id, info)
    if final is None or final.status != S.SUCCEEDED:  # read the trials only once there is a score
        return None
    best = best_trial(sweep_id)
    if best is None or best.value is None:
        return None
    test = (final.summary.get("test") or {}).get(info.metric)
    if not isinstance(test, int | float):
        return None
    from core.data import datasets

    rows = int(datasets.get_dataset(info.dataset_id).split_sizes.get("test", 0))
    gap = float(test) - float(best.value)
    worse = gap < 0 if info.direction == "maximize" else gap > 0
    interval = _interval(info.metric, float(test), rows)
    within = interval is not None and interval[0] <= best.value <= interval[1]
    sentence = (f"The final run scores {test:.3f} {info.metric} on the {rows} test rows, against "
                f"{best.value:.3f} on validation for the best trial ({gap:+.3f}). ")
    if within:
        sentence += ("The validation score lies within the test score's 95 % interval: no sign of "
                     "over-fitting.")
    elif worse:
        sentence += ("Test is clearly worse than validation: the sweep may have over-fitted the validation "
                     "split; trust the test score.")
    else:
        sentence += "Test is no worse than validation."
    return {"run_id": final.id, "test": float(test), "validation": float(best.value), "gap": gap,
            "test_interval": interval, "sentence": sentence}


def sweep_charts(sweep_id: int) -> dict[str, Any]:
    """Optuna's own plotly charts of a sweep: optimisation history, parallel coordinates and the
    parameter importances (left out, with a sentence, until enough trials have finished)."""
    import optuna

    info = store.get_sweep(sweep_id)
    storage = _storage()
    try:
        study = optuna.load_study(study_name=info.study_name, storage=storage)
        complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        charts: dict[str, Any] = {}
        if complete:
            charts["history"] = optuna.visualization.plot_optimization_history(
                study, target_name=f"validation {info.metric}")
            charts["parallel"] = optuna.visualization.plot_parallel_coordinate(
                study, target_name=f"validation {info.metric}")
        if len(complete) >= 2:
            try:
                charts["importances"] = optuna.visualization.plot_param_importances(study)
            except (RuntimeError, ValueError, ZeroDivisionError):
                pass  # e.g. every finished trial has the same value: nothing to attribute
        for fig in charts.values():
            fig.update_layout(title_text="", margin={"t": 30})  # the page's tab names each chart
        if "history" in charts and len(study.trials) <= 20:
            charts["history"].update_xaxes(dtick=1)  # trials are whole numbers: no tick at trial 0.2
        return charts
    finally:
        storage.engine.dispose()


def param_importances(sweep_id: int) -> dict[str, float]:
    """Optuna's parameter importances (fANOVA by default) over the finished trials ({} with fewer than 2)."""
    import optuna

    info = store.get_sweep(sweep_id)
    storage = _storage()
    try:
        study = optuna.load_study(study_name=info.study_name, storage=storage)
        if len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))) < 2:
            return {}
        try:
            return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
        except (RuntimeError, ValueError, ZeroDivisionError):
            return {}
    finally:
        storage.engine.dispose()


# -- the estimate -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepEstimate:
    """What the whole sweep costs before it starts: one trial's estimate times the waves of trials."""

    trials: int
    parallel: int
    trial_seconds: float
    seconds: float
    sentence: str
    metric: str = ""
    warnings: list[str] = field(default_factory=list)


def estimate_sweep(dataset_id: int, model_key: str, *, trials: int | None = None,
                   minutes: float | None = None, space: str | None = None, parallel: int = 1,
                   config: TrainConfig | None = None, workers: int | None = None) -> SweepEstimate:
    """One trial at the middle of the space (its ranges' geometric or plain middle, the middle choice),
    times the waves of trials that `workers` slots (default: the live workers' slots, or the local
    worker's when none is alive) run."""
    from core.store import workers as worker_store

    check_budget(trials, minutes, parallel)
    if workers is None:  # with none alive, the queue starts this machine's own worker (max_running slots)
        workers = max(1, sum(w.slots for w in worker_store.live_workers()) or queue.max_running())
    base = config or TrainConfig()
    request = TrainRequest(dataset_id=dataset_id, model_key=model_key, config=base)
    task, _ = check_request(request)
    middle: dict[str, Any] = {}
    for p in _space(space, request, task):
        if p.choices:
            middle[p.name] = p.choices[len(p.choices) // 2]
        else:
            mid = (float(p.low or 0) * float(p.high or 0)) ** 0.5 if p.log else (float(p.low or 0)
                                                                                + float(p.high or 0)) / 2
            middle[p.name] = round(mid) if p.integer else mid
    one = estimate_run(dataset_id, model_key, TrainConfig.from_dict(apply_params(base.to_dict(), middle)))
    n = trials if trials is not None else DEFAULT_TRIALS
    at_once = max(1, min(parallel, workers, n))
    waves = -(-n // at_once)
    seconds = one.seconds * waves
    if minutes is not None:
        seconds = min(seconds, minutes * 60 + one.seconds)
    count = str(n) if trials is not None else f"Up to {n}"
    metric, _direction = objective_of(task, dataset_id, config=base)
    sentence = (f"Optimises {metric_label(metric)} on the validation split. {count} trials of about "
                f"{_duration(one.seconds)} each, "
                f"{at_once} at a time: about {_duration(seconds)} in all"
                + (f" (stopped after {minutes:g} minutes)" if minutes is not None else "") + ".")
    return SweepEstimate(trials=n, parallel=at_once, trial_seconds=one.seconds, seconds=seconds,
                         sentence=sentence, metric=metric, warnings=list(one.warnings))


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# -- pruning (in the worker that trains a trial) --------------------------------------------------------
class TrialRecorder(StoreRecorder):
    """The recorder of a sweep's trial: each validation evaluation is stored as for any run and also
    reported to the trial; when the median pruner says stop, the trial is told PRUNED and the engine
    is asked to stop as on a cancel, and ``reason`` holds the sentence the run ends with."""

    def __init__(self, run_id: int, tag: dict[str, int]) -> None:
        super().__init__(run_id)
        self.tag = tag
        self.reason = ""
        self._storage: Any = None
        self._total_steps = 0

    def metrics(self, step: int, epoch: float | None, split: str, values: dict[str, float]) -> None:
        super().metrics(step, epoch, split, values)
        if split == "validation" and not self.reason:
            try:  # the last evaluation ends the trial anyway: it is reported, never pruned
                self._report(may_prune=not self._total_steps or step < self._total_steps)
            except Exception:  # noqa: BLE001 - pruning is an optimisation; training goes on without it
                pass

    def progress(self, **fields: Any) -> bool:
        self._total_steps = int(fields.get("total_steps") or self._total_steps)
        return super().progress(**fields) or bool(self.reason)

    def cancel_requested(self) -> bool:
        return bool(self.reason) or super().cancel_requested()

    def close(self) -> None:
        if self._storage is not None:
            self._storage.engine.dispose()
            self._storage = None

    def _report(self, may_prune: bool = True) -> None:
        import optuna
        from optuna.trial import TrialState

        info = store.get_sweep(int(self.tag["id"]))
        frame = runs.metrics_frame(self.run_id)  # every evaluation kept (a resumed run dropped later ones)
        name = EVALUATION_NAMES.get(info.metric, info.metric)
        values = frame[(frame["split"] == "validation") & (frame["name"] == name)]["value"].tolist()
        if not values:
            return
        if self._storage is None:
            self._storage = _storage()
        study = optuna.load_study(study_name=info.study_name, storage=self._storage, pruner=_pruner())
        trial = _trial(study, int(self.tag["trial"]))
        if trial is None:
            return
        evaluation, value = len(values), float(values[-1])
        trial.report(value, evaluation)
        if not may_prune or not trial.should_prune():
            return
        others = [t.intermediate_values[evaluation]
                  for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                  if evaluation in t.intermediate_values]
        median = statistics.median(others) if others else float("nan")
        worse = "below" if info.direction == "maximize" else "above"
        self.reason = (f"{PRUNED_PREFIX} {info.id}: validation {info.metric} {value:.3g} at "
                       f"evaluation {evaluation} was {worse} the median of the finished trials "
                       f"({median:.3g}), so it stopped early.")
        trial.set_user_attr("reason", self.reason)
        _tell(study, trial.number, state=TrialState.PRUNED)
        self.log(self.reason)


def _trial(study: Any, number: int) -> Any:
    import optuna

    for frozen in study.get_trials(deepcopy=False):
        if frozen.number == number:
            return optuna.trial.Trial(study, frozen._trial_id)
    return None
