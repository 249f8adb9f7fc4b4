"""The Evaluation page of a preference (DPO) run: held-out pairs against the parent, answers against the
parent's, and one button that sets up a blind review "parent vs this run" on the same prompts."""

from __future__ import annotations

import streamlit as st

from core.entities import RunInfo
from core.results import preference_eval
from ui import access, state
from ui.widgets import call, md_escape


def applies(run: RunInfo) -> bool:
    """Whether the run was trained on preference pairs."""
    return preference_eval.is_preference_run(run)


def section(run: RunInfo, split: str) -> None:
    """The pair scores with their 95 % intervals, the answer comparison and the review button."""
    found = call(preference_eval.get_preference_evaluation, run.id, split)
    if found is None:
        return
    st.subheader("What the preferences changed")
    st.caption(md_escape(
        f"Each held-out {split} pair scored by {found.parent} and by this run. Preference accuracy: the "
        "share of pairs where a model gives the chosen answer a higher log-probability than the rejected "
        "one. Reward "
        f"accuracy (DPO, beta {found.pairs.get('beta')}): the share where the run moved towards the chosen "
        "answer relative to its parent. 95 % intervals (Wilson for shares, paired bootstrap for the gain)."))
    numbers = {c: st.column_config.NumberColumn(format="%.3f") for c in ("value", "low", "high")}
    st.dataframe(found.pairs_frame(), hide_index=True, key=state.EVALUATION_PREF_PAIRS, column_config=numbers)
    if found.training:
        st.caption(md_escape("Last validation during training (TRL): " + ", ".join(
            f"{k.replace('_', ' ')} {v:.3f}" for k, v in sorted(found.training.items())) + "."))
    if found.answers:
        st.markdown(f"**Answers on {md_escape(found.parent)}'s test examples** (paired over "
                    f"{found.answers_examples}): did the preferences cost answer quality?")
        st.dataframe(found.answers_frame(), hide_index=True, key=state.EVALUATION_PREF_ANSWERS,
                     column_config={c: st.column_config.NumberColumn(format="%.3f")
                                    for c in ("parent", "run", "gain", "low", "high")})
    else:
        st.caption("No answer quality to compare: the parent is a catalogue model, or its test answers were "
                   "not scored.")
    predictions = call(_pairs, run.id, split) if found.pairs.get("pairs") else None
    if predictions is not None and len(predictions):
        with st.expander("The held-out pairs, scored"):
            st.dataframe(predictions, hide_index=True, key=state.EVALUATION_PREF_EXAMPLES)
    if access.allowed("create_review") and st.button(
            f"Review {found.parent} against this run", key=state.EVALUATION_PREF_REVIEW,
            icon=":material/how_to_vote:", help="A blind review of both models' answers to the same prompts: "
            "the team's votes confirm (or not) what the numbers say."):
        review_id = call(preference_eval.start_parent_review, run.id, created_by=access.actor())
        if review_id is not None:
            st.success(f"Review {review_id} is ready on the Review page.", icon=":material/how_to_vote:")


def _pairs(run_id: int, split: str) -> object:
    from core.results.evaluation import read_predictions

    frame = read_predictions(run_id, split)
    wanted = ("prompt", "chosen", "rejected", "prefers_chosen", "parent_prefers_chosen", "reward_margin")
    keep = [c for c in wanted if c in frame]
    return frame[keep]
