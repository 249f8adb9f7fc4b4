import streamlit as st

from core.data import datasets
from core.entities import RunInfo
from core.errors import UserError
from core.models import catalog
from core.run_config import PRESETS, TrainConfig
from core.text.labels import task_label
from core.training import service as training
from core.training import sweep
from ui import access, preference_form, state
from ui.sweep_view import leaderboard_frame
from ui.widgets import (
    call,
    dataset_picker,
    ensure_app_frame,
    md_escape,
    remember_fields,
    restore_fields,
    status_label,
)

ensure_app_frame()
# the form's fields, and their copy while the user is on another page (Streamlit forgets a widget's value
# once a page without it has run)
FIELDS = (state.SWEEP_MODEL, state.SWEEP_PARENT, state.SWEEP_PRESET, state.SWEEP_SPACE, state.SWEEP_TRIALS,
          state.SWEEP_MINUTES, state.SWEEP_PARALLEL)
SAVED = "sweep_saved"

st.title("Sweep")
st.caption("Try many settings and keep the best: each trial is an ordinary run of the queue (any worker "
           "trains it), judged on the validation split; Optuna chooses the next settings and stops trials "
           "that are clearly worse.")
call(training.kick_queue)

if access.allowed("train"):
    with st.container(border=True):
        st.subheader("Start a sweep")
        dataset = dataset_picker(call(datasets.list_datasets) or [], key=state.SWEEP_DATASET)
        if dataset is None:
            st.info("Save a dataset on the Datasets page (or import one from the gallery) first.")
        else:
            # what the user typed before visiting another page, else the defaults
            restore_fields(SAVED, {state.SWEEP_TRIALS: 12, state.SWEEP_MINUTES: 0.0, state.SWEEP_PARALLEL: 1})
            left, right = st.columns(2)
            model_key, base, kind = None, None, ""
            if preference_form.applies(dataset):  # DPO trials on top of the run the pairs came from
                right.caption("Preference pairs: each trial is a DPO run on top of the model it starts from.")
                parent = preference_form.parent_picker(dataset, state.SWEEP_PARENT, left)
                request = call(training.preference_request, dataset.id,
                               **training.parent_of(parent)) if parent else None
                if request is not None:
                    model_key, base, kind = request.model_key, request.config, request.config.training_kind
            else:
                models = [m for m in (call(catalog.list_models) or []) if dataset.task in m.tasks]
                names = {m.key: m.name for m in models}
                if st.session_state.get(state.SWEEP_MODEL) not in names:  # kept from another dataset's task
                    st.session_state.pop(state.SWEEP_MODEL, None)
                model_key = left.selectbox("Model", list(names), key=state.SWEEP_MODEL,
                                           format_func=lambda k: names.get(k, k))
                preset = right.radio("Each trial starts from", list(PRESETS), key=state.SWEEP_PRESET,
                                     horizontal=True, format_func=str.capitalize)
            if model_key is not None:
                wanted = (dataset.task, model_key, kind)
                if st.session_state.get(state.SWEEP_SPACE_FOR) != wanted:  # a new model: its own defaults
                    st.session_state[state.SWEEP_SPACE] = sweep.default_space(dataset.task, model_key,
                                                                              kind=kind)
                    st.session_state[state.SWEEP_SPACE_FOR] = wanted
                space = st.text_area("Search space", key=state.SWEEP_SPACE, height=80,
                                     help="name=low..high (add :log for a log scale) or name=a|b|c, "
                                          "comma-separated.")
                a, b, c = st.columns(3)
                trials = int(a.number_input("Trials", 1, sweep.MAX_TRIALS, key=state.SWEEP_TRIALS))
                minutes = b.number_input("Minutes (0: no limit)", 0.0, 10_000.0, key=state.SWEEP_MINUTES)
                parallel = int(c.number_input("Trials at once", 1, sweep.MAX_PARALLEL,
                                              key=state.SWEEP_PARALLEL))
                remember_fields(SAVED, kept=FIELDS)
                budget = dict(trials=trials, minutes=minutes or None, space=space, parallel=parallel)
                estimate = None
                try:
                    config = base or TrainConfig.from_preset(preset, task=dataset.task)
                    estimate = sweep.estimate_sweep(dataset.id, model_key, config=config, **budget)
                    st.caption(f"{task_label(dataset.task)}. {estimate.sentence}")
                except UserError as error:
                    st.error(md_escape(error), icon=":material/error:")
                if st.button("Start the sweep", key=state.SWEEP_START, type="primary",
                             disabled=estimate is None, icon=":material/tune:"):
                    started = call(sweep.start_sweep, dataset.id, model_key, config=config,
                                   created_by=access.actor(), **budget)
                    if started is not None:
                        st.session_state[state.SWEEP_SELECT] = started.id
                        st.toast(f"Sweep {started.id} started.", icon=":material/tune:")
                        st.rerun()

sweeps = call(sweep.list_sweeps) or []
if not sweeps:
    st.info("No sweep yet: start one above.")
    st.stop()
by_id = {s.id: s for s in sweeps}
# No status in the label: a keyed select box keeps showing the label it was first drawn with, so a sweep
# that finished while the page was open read "running" here above "Finished" (the line below says it).
chosen = st.selectbox("Show sweep", list(by_id), key=state.SWEEP_SELECT,
                      format_func=lambda i: f"Sweep {i} · {by_id[i].model_key} · dataset "
                                            f"{by_id[i].dataset_id}")


polling = bool(call(sweep.still_moving, chosen))


@st.fragment(run_every=3 if polling else None)
def sweep_view() -> None:
    info = call(sweep.advance_sweep, chosen)  # any process may move a sweep on; the page does too
    if info is None:
        return
    counts = sweep.counts_sentence(info)
    within = f" in {info.minutes:g} minutes" if info.minutes else ""
    st.markdown(f"**{info.status.capitalize()}**: {info.asked} trial(s) handed out of "
                f"{info.n_trials or 'as many as fit'}{within}, {info.parallel} at a time; "
                f"{info.direction} validation {info.metric}.")
    st.caption(md_escape(f"Space: {info.space}") + (f" · trials: {counts}" if counts else ""))
    trials = call(sweep.sweep_trials, chosen) or []
    st.dataframe(leaderboard_frame(trials, info.metric), key=state.SWEEP_LEADERBOARD, hide_index=True,
                 column_config={"Run": st.column_config.LinkColumn("Run", display_text=r"run=(\d+)"),
                                # the interval beside it has three decimals: 1 next to 0.9327 read oddly
                                f"Validation {info.metric}": st.column_config.NumberColumn(format="%.3f")})
    note = call(sweep.tie_note, chosen, trials) if trials else ""
    if note:
        st.info(note, icon=":material/balance:")
    charts = call(sweep.sweep_charts, chosen) or {}
    titles = {"history": "Optimisation history", "parallel": "Parallel coordinates",
              "importances": "Parameter importances"}
    shown = [name for name in titles if name in charts]
    if shown:
        for tab, name in zip(st.tabs([titles[n] for n in shown]), shown, strict=True):
            tab.plotly_chart(charts[name], key=state.SWEEP_CHART_PREFIX + name)
    final = final_section(info, any(t.best for t in trials))
    if polling and not (info.is_live or (final is not None and final.is_live)):
        st.rerun(scope="app")  # all settled: one full run without polling


def final_section(info: sweep.SweepInfo, has_best: bool) -> RunInfo | None:
    """The final run's part of the page; the final run (None before one is made)."""
    st.subheader("The final run")
    final = call(sweep.final_run, info.id, info)
    if final is None:
        st.caption("Retrains the best trial's settings on the train and validation splits, then evaluates "
                   "once on the test split, which no trial has seen.")
        if access.allowed("train") and st.button("Make this the final run", key=state.SWEEP_FINAL,
                                                 disabled=not has_best, icon=":material/flag:"):
            made = call(sweep.make_final_run, info.id, created_by=access.actor())
            if made is not None:
                st.toast(f"Final run {made.id} queued.", icon=":material/flag:")
                st.rerun()
        return None
    comparison = call(sweep.final_comparison, info.id) if final.status == "succeeded" else None
    if comparison is not None:
        st.write(comparison["sentence"])
    elif final.is_live:
        doing = "is training" if final.status == "running" else "is waiting in the queue"
        st.info(f"Final run {final.id} {doing}; its test score appears here when it ends.")
    else:  # it ended without a test score: say how, never "training"
        st.warning(md_escape(f"Final run {final.id} ended without a test score "
                             f"({status_label(final.status).lower()}). {final.status_reason}".strip()),
                   icon=":material/warning:")
    st.markdown(f":material/open_in_new: [Open run {final.id}](/finetune?run={final.id})")
    return final


sweep_view()
