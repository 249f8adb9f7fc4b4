import streamlit as st

from core.data import datasets
from core.errors import UserError
from core.models import catalog
from core.text.labels import task_label
from core.training import crossval
from core.training import service as training
from ui import access, finetune_form, panels, preference_form, run_view, state
from ui.widgets import (
    call,
    dataset_picker,
    ensure_app_frame,
    md_escape,
    run_from_query,
    run_picker,
    select_run,
)

ensure_app_frame()

st.title("Fine-tuning")
call(training.kick_queue)  # marks runs whose worker died as interrupted and starts queued ones

if not access.allowed("train"):
    access.not_allowed("start training runs")
else:
    with st.container(border=True):
        st.subheader("Start a run")
        st.markdown(":material/tune: Or a [Sweep](/sweep): let Optuna search for the best settings.")
        dataset = dataset_picker(call(datasets.list_datasets) or [], key=state.FINETUNE_DATASET)
        if dataset is None:
            st.info("Save a dataset on the Datasets page (or import one from the gallery) first.")
        elif preference_form.applies(dataset):
            st.session_state[state.CURRENT_DATASET] = dataset.id
            preference_form.render(dataset)
        else:
            st.session_state[state.CURRENT_DATASET] = dataset.id
            finetune_form.restore_fields()
            left, right = st.columns(2)
            tasks = finetune_form.task_options(dataset)
            if st.session_state.get(state.FINETUNE_TASK) not in tasks:
                st.session_state.pop(state.FINETUNE_TASK, None)
            task = left.selectbox("Task", tasks, key=state.FINETUNE_TASK, format_func=task_label)
            models = [m for m in (call(catalog.list_models) or []) if task in m.tasks]
            names = {m.key: m.name + ("" if m.ready else " (prepared on first use)") for m in models}
            why = finetune_form.choose_model(dataset, list(names))
            model_key = right.selectbox("Model", list(names), key=state.FINETUNE_MODEL,
                                        format_func=lambda k: names.get(k, k))
            if why:
                right.caption(md_escape(why))
            values = finetune_form.settings_form(task, dataset)
            folds = finetune_form.folds_control(task)
            finetune_form.remember_fields()
            name = st.text_input("Run name (optional)", key=state.FINETUNE_NAME, max_chars=200)
            config = None
            if model_key is None:
                st.warning(f"No model in the catalogue can be trained for {task_label(task).lower()}; "
                           "add one on the Models page.")
            else:
                try:
                    config = training.TrainConfig.from_preset(task=task, **values)
                    finetune_form.show_estimate(dataset.id, model_key, config, folds)
                except UserError as error:
                    st.error(md_escape(error), icon=":material/error:")
                    config = None
            if st.button("Start training", key=state.FINETUNE_START, type="primary",
                         disabled=config is None, icon=":material/rocket_launch:"):
                request = training.TrainRequest(dataset_id=dataset.id, model_key=model_key,
                                                config=config, task=task, name=name.strip(),
                                                created_by=access.actor())
                started = (call(crossval.start_cv, request, folds) if folds
                           else call(training.start_run, request))
                if started is not None:
                    select_run(state.FINETUNE_RUN_SELECT, started.id)
                    st.toast(f"Run {started.id} queued.", icon=":material/rocket_launch:")
                    st.rerun()

st.subheader("Runs")
runs = [r for r in call(training.list_runs) or [] if r.parent_id is None]  # folds show in their parent
if not runs:
    st.info("No run yet: start one above.")
    st.stop()
run = run_picker(runs, key=state.FINETUNE_RUN_SELECT, label="Show run", selected=run_from_query(runs))
any_live = any(r.is_live for r in runs)


@st.fragment(run_every=2 if any_live else None)
def live_view() -> None:
    # Polls the database every 2 s while any run is queued or running; idle otherwise.
    current_runs = [r for r in call(training.list_runs) or [] if r.parent_id is None]
    positions = {r.id: call(training.queue_position, r.id) or 0 for r in current_runs if r.status == "queued"}
    panels.runs_table(current_runs, key=state.FINETUNE_RUNS_TABLE, positions=positions)
    with st.container(border=True):
        shown = run_view.render_run(run.id)
    if shown is not None and shown.status != run.status:
        st.rerun(scope="app")  # the run picker above names the status too: redraw it once
    if any_live and not any(r.is_live for r in current_runs):
        st.rerun(scope="app")  # everything finished: redraw the page once, without polling


live_view()
