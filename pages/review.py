import streamlit as st

from core.models import catalog
from core.results import review
from core.results.side_by_side import validation_prompts
from core.task_specs import tasks_where
from core.text.labels import model_ref_label
from core.training import service as training
from ui import access, state
from ui.preference_data_view import review_pairs_panel
from ui.widgets import call, ensure_app_frame

ensure_app_frame()

st.title("Blind review")
st.caption("Stakeholders vote between two models' outputs without knowing which model wrote which.")

vote_tab, results_tab, new_tab = st.tabs(["Vote", "Results", "New review"])
reviews = call(review.list_reviews)
names = {} if reviews is None else {int(r.id): f"#{r.id} {r.name}" for r in reviews.itertuples()}



def new_review_form() -> None:
    runs = [r for r in (call(training.list_runs) or []) if r.status == "succeeded"
            and r.task in tasks_where("reviewable")]
    bases = [m.key for m in (call(catalog.list_models) or []) if m.family == "causal-lm" and m.ready]
    options = [f"run:{r.id}" for r in runs] + bases
    model_names = {m.key: m.name for m in (call(catalog.list_models) or [])}
    run_names = {r.id: r.name for r in runs}
    labels = {ref: model_ref_label(ref, run_names, model_names) for ref in options}
    if len(options) < 2:
        st.info("A review needs two finished runs (or a run and a base model).")
        return
    name = st.text_input("Review name", key=state.REVIEW_NEW_NAME, placeholder="Support replies, round 1")
    left, right = st.columns(2)
    model_a = left.selectbox("Model A", options, key=state.REVIEW_NEW_A, format_func=labels.get)
    model_b = right.selectbox("Model B", options, index=1, key=state.REVIEW_NEW_B, format_func=labels.get)
    count = st.number_input("Validation prompts to use", 1, 100, 10, key=state.REVIEW_NEW_COUNT)
    pasted = st.text_area("…or paste your own prompts or texts, one per line", key=state.REVIEW_NEW_TEXTS)
    if st.button("Create the review", key=state.REVIEW_NEW_CREATE, disabled=model_a == model_b):
        run_ref = next((m for m in (model_a, model_b) if m.startswith("run:")), None)
        prompts = [line for line in pasted.splitlines() if line.strip()] or (
            call(validation_prompts, int(run_ref[4:]), int(count)) if run_ref else [])
        with st.spinner("Getting both models' outputs…"):
            review_id = call(review.create_review, name, model_a, model_b, prompts or [],
                             created_by=access.actor())
        if review_id is not None:
            st.session_state[state.REVIEW_SELECT] = review_id
            st.rerun()


with new_tab:
    if access.allowed("create_review"):
        new_review_form()
    else:
        access.not_allowed("create reviews")

if not names:
    vote_tab.info("No review yet: create one in the New review tab.")
    results_tab.info("No review yet.")
    st.stop()
review_id = st.sidebar.selectbox("Review", list(names), key=state.REVIEW_SELECT, format_func=names.get)

with vote_tab:
    if access.current().signed_in:  # votes carry the signed-in address, not a typed name
        reviewer = access.actor()
        st.caption(f"Voting as {reviewer}.")
    else:
        reviewer = st.text_input("Your name", key=state.REVIEW_REVIEWER,
                                 placeholder="so votes can be told apart")
    item = call(review.next_item_for, reviewer, review_id) if reviewer.strip() else None
    if not reviewer.strip():
        st.info("Type your name to start.")
    elif item is None:
        st.success("You have voted on every item of this review. Thank you!")
    else:
        st.progress(item.done / item.total, text=f"Item {item.done + 1} of {item.total}")
        st.caption("Prompt")
        st.text(item.prompt)
        first, second = st.columns(2)
        with first.container(border=True):
            st.caption("Output 1")
            st.text(item.first)
        with second.container(border=True):
            st.caption("Output 2")
            st.text(item.second)
        b1, b2, b3 = st.columns(3)
        for col, key, label, choice in ((b1, state.REVIEW_VOTE_FIRST, "1 is better", "first"),
                                        (b2, state.REVIEW_VOTE_TIE, "Tie", "tie"),
                                        (b3, state.REVIEW_VOTE_SECOND, "2 is better", "second")):
            if col.button(label, key=key, width="stretch"):
                call(review.vote, item.item_id, reviewer, choice)
                st.rerun()

with results_tab:
    result = call(review.review_result, review_id)
    if result is not None:
        every_run = {r.id: r.name for r in (call(training.list_runs) or [])}
        every_model = {m.key: m.name for m in (call(catalog.list_models) or [])}
        st.text(f"A is {model_ref_label(result['model_a'], every_run, every_model)}, "
                f"B is {model_ref_label(result['model_b'], every_run, every_model)}")
        st.caption(f"References: A = {result['model_a']}, B = {result['model_b']}",
                   help="The names the CLI and the API use for these models.")
        if not result["votes"]:
            st.info("No votes yet.")
        else:
            a, b, t = st.columns(3)
            for col, side in ((a, "a"), (b, "b")):
                low, high = result[f"ci_{side}"]
                col.metric(f"{side.upper()} wins", f"{result[f'win_rate_{side}']:.0%}",
                           help=f"95% interval {low:.0%}–{high:.0%}")
                col.caption(f"95% interval {low:.0%} to {high:.0%}")
            t.metric("Votes", result["votes"], help=f"{result['ties']} ties")
            st.caption(f"{result['a_wins']} for A, {result['b_wins']} for B, {result['ties']} ties from "
                       f"{len(result['reviewers'])} reviewer(s). {result['ties_rule']}")
        csv = call(review.export_review_csv, review_id)
        if csv is not None and access.allowed("export"):
            st.download_button("Download the votes (CSV)", csv, file_name=f"review-{review_id}.csv",
                               mime="text/csv", key=state.REVIEW_CSV)
        review_pairs_panel(review_id)
