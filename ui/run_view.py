"""One run's view on the fine-tuning page: progress, curves, log tail, Cancel and Resume."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from core.data import datasets
from core.entities import RunInfo
from core.errors import UserError
from core.results import evaluation, verdict
from core.run_folder import STAGE_TRAINING
from core.task_specs import generates_text
from core.text.labels import task_label
from core.training import service as training
from core.training.estimates import Overheads, past_runs, remaining_seconds
from ui import access, charts, state
from ui.widgets import call, duration, md_escape, status_badge, when

RESUMABLE = ("interrupted", "cancelled", "failed")
PREFERRED_METRICS = ("accuracy", "macro_f1", "f1", "overall_f1", "r2", "rmse", "mae", "perplexity",
                     "reward_accuracy")
MARGIN = "reward_margin"  # a preference run's second curve: how far it prefers the chosen answers


def pick_metric(metrics: pd.DataFrame) -> str | None:
    """The validation metric worth a curve: a preferred one when logged, else the first non-loss one."""
    if metrics.empty:
        return None
    raw = metrics["name"].astype(str)
    is_validation = (metrics["split"] != "train") | raw.str.startswith("eval_")
    validation = set(raw.str.removeprefix("eval_")[is_validation])
    validation -= {"loss", "runtime", "samples_per_second", "steps_per_second", "epoch"}
    for name in PREFERRED_METRICS:
        if name in validation:
            return name
    return sorted(validation)[0] if validation else None


def _reason(run: RunInfo) -> None:
    if not run.status_reason:
        return
    show = {"failed": st.error, "interrupted": st.warning}.get(run.status, st.info)
    show(md_escape(run.status_reason))


def _not_learned(run: RunInfo) -> verdict.Degenerate | None:
    """A finished classifier that answers one class for nearly every held-out row."""
    if run.status != "succeeded" or run.task not in ("classification", "tabular"):
        return None
    for split in ("test", "validation"):
        try:
            result = evaluation.get_evaluation(run.id, split)
        except UserError:
            continue
        return verdict.degenerate_from_metrics(result.metrics, split)
    return None


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def elapsed_now(run: RunInfo, now: datetime | None = None) -> float | None:
    """Seconds since the run started: for a live run computed now (the stored figure only moves when the
    worker writes a step, so it goes stale between log lines), for an ended run up to its end. Both
    count loading the model and scoring answers, so the figure does not fall back when a run finishes
    (a run that counted up to 86 s showed 48 s, its training steps alone, once it had finished)."""
    stored = run.elapsed_seconds
    if run.started_at is None:
        return stored
    if run.status == "running":
        end = _naive_utc(now or datetime.now(UTC))
    elif run.finished_at is not None:
        end = _naive_utc(run.finished_at)
    else:
        return stored
    return max(stored or 0.0, (end - _naive_utc(run.started_at)).total_seconds())


def _numbers(run: RunInfo) -> None:
    total = f"{run.total_steps:,}" if run.total_steps else "?"
    summary = run.summary or {}
    phase = summary.get("phase") if run.status == "running" else None
    stage = summary.get("stage") if run.status == "running" and not phase else None
    named = phase or (stage if stage and stage != STAGE_TRAINING else None)
    st.progress(run.progress, text=f"Step {run.step:,} of {total}" + (f" · {named}" if named else ""))
    if phase:
        st.info(md_escape(f"Training is done. {phase}"), icon=":material/hourglass_top:")
    elif named:
        st.info(f"Before the first step: {md_escape(named)}", icon=":material/hourglass_top:")
    a, b, c, d = st.columns(4)
    a.metric("Epoch", f"{run.epoch:.2f}")
    b.metric("Elapsed", duration(elapsed_now(run)),
             help="From the run's start: loading the model, training, evaluating and writing answers"
                  + (f". Its training steps took {duration(run.elapsed_seconds)}." if run.elapsed_seconds
                     else "."))
    left = "—"
    if run.status == "running":
        dataset = call(datasets.get_dataset, run.dataset_id)
        overheads = Overheads.from_runs(call(past_runs, run.model_key, run.task) or [])
        seconds = remaining_seconds(run, dataset.split_sizes if dataset else None, overheads)
        left = duration(seconds) if seconds else "—"
    c.metric("Time left", left, help=phase or "From the speed of this run's own steps so far.")
    d.metric("Samples/s", f"{run.samples_per_second:,.1f}" if run.samples_per_second else "—")


def _actions(run: RunInfo) -> None:
    if not access.allowed("cancel"):
        access.not_allowed("cancel, resume or delete runs")
        return
    left, right, third, _ = st.columns([1, 1, 1, 3])
    if left.button("Cancel", key=state.FINETUNE_CANCEL, icon=":material/stop:",
                   disabled=not run.is_live or run.cancel_requested,
                   help="Stops after the current step and keeps a checkpoint."):
        if call(training.cancel_run, run.id) is not None:
            st.toast("Stopping after the current step…", icon=":material/stop:")
    if right.button("Resume", key=state.FINETUNE_RESUME, icon=":material/play_arrow:",
                    disabled=run.status not in RESUMABLE,
                    help="Continues from the last complete checkpoint."):
        if call(training.resume_run, run.id) is not None:
            st.toast(f"Run {run.id} is queued again.", icon=":material/play_arrow:")
            st.rerun(scope="app")  # restart the page so the live view polls again
    if access.allowed("delete", owner=run.created_by):
        if third.button("Delete", key=state.FINETUNE_DELETE, icon=":material/delete:", disabled=run.is_live,
                        help="Removes the run, its checkpoints, model and evaluations."):
            if call(training.delete_run, run.id) is not None:
                st.toast(f"Run {run.id} deleted.", icon=":material/delete:")
                st.rerun(scope="app")


def _cv(run: RunInfo) -> None:
    """A cross-validation: each metric as mean ± std with the per-fold values, and the per-fold curves."""
    from core.training import crossval

    kids = call(crossval.children, run.id) or []
    done = sum(k.status == "succeeded" for k in kids)
    st.caption(f"{done} of {len(kids)} folds finished · "
               + ", ".join(f"fold {i}: {k.status}" for i, k in enumerate(kids, start=1)))
    summary = call(crossval.cv_summary, run.id)
    if summary is not None and not summary.empty:
        shown = summary.drop(columns=["mean", "std"]).set_index("metric")
        st.dataframe(shown, key=state.FINETUNE_CV_SUMMARY)
    curves = call(crossval.cv_curves, run.id)
    if curves is not None and not curves.empty:
        left, right = st.columns(2)
        left.plotly_chart(charts.fold_curves(curves, "loss"), key=state.FINETUNE_CV_LOSS)
        metric = pick_metric(curves)
        if metric:
            right.plotly_chart(charts.fold_curves(curves, metric), key=state.FINETUNE_CV_METRIC)


def _answers(run: RunInfo) -> None:
    """A causal LM's answers to fixed validation prompts at each evaluation (step 0 = before training)."""
    from core.inference import generation

    samples = call(generation.sample_generations, run.id)
    if samples is not None and not samples.empty:
        st.markdown("**Answers as training goes on**")
        st.dataframe(samples.sort_values(["prompt", "step"], kind="stable")[["prompt", "step", "output",
                                                                            "reference"]],
                     hide_index=True, key=state.FINETUNE_SAMPLES)
    if run.status == "succeeded" and run.config.get("lora") and access.allowed("export"):
        if st.button("Merge LoRA into a plain model folder", key=state.FINETUNE_MERGE_LORA,
                     help="For export: the adapters are folded into a copy of the base weights."):
            with st.spinner("Merging…"):
                folder = call(generation.merge_lora, run.id)
            if folder is not None:
                st.success(f"Merged model written to {md_escape(folder)}.")


def _tracking(run: RunInfo) -> None:
    """Where TensorBoard and MLflow keep this run (folders as text, an http tracking server as a link)."""
    info = call(training.run_tracking, run.id) or {}
    if "tensorboard" in info:
        st.caption("TensorBoard: event files in the folder below; open them with the command.")
        st.code(info["tensorboard"]["command"], language="bash")
    if "mlflow" in info:
        found = info["mlflow"]
        uri = str(found.get("tracking_uri", ""))
        where = f"[{md_escape(uri)}]({uri})" if uri.startswith(("http://", "https://")) else md_escape(uri)
        run_ref = f"run `{md_escape(found.get('run_id') or found.get('run_name', ''))}`"
        st.caption(f"MLflow: {run_ref} in experiment '{md_escape(found.get('experiment', ''))}' at {where}.")


def render_run(run_id: int) -> RunInfo | None:
    """Draw the run as it is in the database now; returns it (None when it cannot be read)."""
    run = call(training.get_run, run_id)
    if run is None:
        return None
    head, badge = st.columns([5, 1])
    head.markdown(f"**Run {run.id}** · {md_escape(run.name or run.model_key)} · {task_label(run.task)} · "
                  f"model {md_escape(run.model_key)} · dataset {run.dataset_id} · "
                  f"started {when(run.started_at)}")
    made = [f"by {run.created_by}" if run.created_by else "",
            f"on {run.host}" + (f" ({run.device})" if run.device else "") if run.host else ""]
    if any(made):
        head.caption(md_escape(" · ".join(m for m in made if m)))
    not_learned = _not_learned(run)
    with badge:
        status_badge(run.status, not_learned=not_learned is not None)
    if not_learned is not None:
        st.warning(not_learned.sentence, icon=":material/warning:")
    _reason(run)
    if run.status == "queued":
        position = call(training.queue_position, run.id) or 0
        st.info(f"Waiting for a free slot: number {position} in the queue." if position
                else "Starting…", icon=":material/hourglass_top:")
    if run.cancel_requested and run.is_live:
        st.info("Cancel requested: the run stops after the current step.", icon=":material/stop:")
    _numbers(run)
    _actions(run)
    if run.kind == "cv":
        _cv(run)
    metrics = call(training.run_metrics, run.id) if run.kind != "cv" else None
    if metrics is not None and not metrics.empty:
        left, right = st.columns(2)
        left.plotly_chart(charts.loss_curves(metrics), key=state.FINETUNE_LOSS_CHART)
        metric = pick_metric(metrics)
        if metric:
            right.plotly_chart(charts.metric_curve(metrics, metric), key=state.FINETUNE_METRIC_CHART)
        if MARGIN in set(metrics["name"]) and metric != MARGIN:
            left.plotly_chart(charts.metric_curve(metrics, MARGIN), key=state.FINETUNE_MARGIN_CHART)
        if seen := training.seen_in_training(run, "validation"):
            st.caption(seen)
    elif run.is_live and run.kind != "cv":
        st.caption("Curves appear after the first logged steps.")
    if generates_text(run.task):
        _answers(run)
    _tracking(run)
    with st.expander("Log", expanded=run.status in ("failed", "interrupted")):
        lines = call(training.run_logs, run.id, 30) or []
        st.code("\n".join(lines) or "(empty)", language=None)
    return run
