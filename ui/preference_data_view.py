"""Preference data on the pages: corrections under an answer (Playground, Evaluation), pairs from a
blind review's votes or the judge (Review), and the preview of a preference dataset (Datasets).

Reviewers may write corrections; building a dataset from votes or corrections is an editor's (the
``upload`` right). User text is shown as text, never Markdown.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.data.preferences import counts_sentence, load_pairs, preference_facts, source_sentence
from core.entities import DatasetInfo
from core.results import judge
from core.results import preference_pairs as pp
from ui import access, state
from ui.widgets import call, md_escape

PREVIEW_ROWS = 50


def generation_corrections(generation_id: int | None, outputs: list[str]) -> None:
    """Under a playground answer: write a better answer, or thumbs up/down between two sampled answers."""
    if generation_id is None or not outputs or not access.allowed("correct"):
        return
    with st.expander("Write a better answer (preference data)"):
        st.caption("The model's answer becomes the rejected side and your text the chosen side of a "
                   "preference pair; an editor can make a dataset of them for preference training.")
        if len(outputs) > 1:
            numbers = list(range(len(outputs)))
            up_col, down_col, go_col = st.columns([2, 2, 1])
            up = up_col.selectbox("Better answer (thumbs up)", numbers, key=state.PREF_THUMB_UP,
                                  format_func=lambda i: f"Sequence {i + 1}")
            down = down_col.selectbox("Worse answer (thumbs down)", numbers, index=1,
                                      key=state.PREF_THUMB_DOWN, format_func=lambda i: f"Sequence {i + 1}")
            if go_col.button("Save the pair", key=state.PREF_SAVE_THUMBS):
                if call(pp.thumbs_on_generation, generation_id, int(up), int(down),
                        created_by=access.actor()) is not None:
                    st.success("Saved: the thumbs-up answer is preferred to the thumbs-down one.")
        better = st.text_area("A better answer to the first answer's prompt", value=outputs[0],
                              key=f"{state.PREF_BETTER_PREFIX}{generation_id}", height=120)
        if st.button("Save the better answer", key=state.PREF_SAVE_BETTER):
            if call(pp.correct_generation, generation_id, better, created_by=access.actor()) is not None:
                st.success("Saved: your answer is preferred to the model's.")


def worst_answer_corrections(worst: pd.DataFrame, run_id: int | None) -> None:
    """Under the lowest-scoring answers of a chat run: write a better answer to one of them."""
    if worst.empty or not access.allowed("correct"):
        return
    rows = worst.head(50).to_dict("records")
    with st.expander("Write a better answer to one of these (preference data)"):
        positions = [int(r["position"]) for r in rows]
        picked = st.selectbox("Example (by position)", positions, key=state.PREF_EVAL_PICK)
        row = rows[positions.index(picked)]
        st.caption("Prompt")
        st.text(str(row["prompt"]))
        st.caption("The model's answer (the rejected side)")
        st.text(str(row["answer"]))
        better = st.text_area("Your better answer (the chosen side; it starts as the reference)",
                              value=str(row.get("reference") or ""),
                              key=f"{state.PREF_EVAL_BETTER_PREFIX}{picked}", height=120)
        if st.button("Save the better answer", key=state.PREF_EVAL_SAVE):
            if call(pp.record_correction, str(row["prompt"]), str(row["answer"]), better, run_id=run_id,
                    place="evaluation", created_by=access.actor()) is not None:
                st.success("Saved: your answer is preferred to the model's.")


def _saved(info: DatasetInfo | None) -> None:
    if info is None:
        return
    facts = preference_facts(info)
    left = [f"{facts[k]} {k.replace('_left_out', '').replace('_', ' ')}" for k in
            ("ties_left_out", "split_decisions_left_out", "unreadable_left_out") if facts.get(k)]
    st.success(f"Saved {md_escape(info.label)}: {info.row_count:,} preference pairs"
               + (f" ({md_escape(', '.join(left))} left out)" if left else "")
               + ". It is on the Datasets page.")


def review_pairs_panel(review_id: int) -> None:
    """Make preference data from a review's votes (and from the judge's verdicts when a judge is set);
    the judge's agreement with the people beside them."""
    st.markdown("**Preference data**")
    st.caption(pp.MAJORITY_RULE + " Each pair keeps who voted and when.")
    agreement = call(pp.judge_agreement_of, review_id)
    if agreement:
        st.caption(md_escape(f"Judge ({agreement['dataset']}): {pp.agreement_sentence(agreement)}"))
    if not access.allowed("upload"):
        access.not_allowed("make datasets from the votes")
        return
    name = st.text_input("Name of the preference dataset (optional)", key=state.PREF_REVIEW_NAME)
    left, right = st.columns(2)
    if left.button("Make preference data from these votes", key=state.PREF_FROM_VOTES):
        _saved(call(pp.build_from_review, review_id, name=name.strip() or None, created_by=access.actor()))
    if judge.judge_status() is None and right.button("Make preference data from the judge's verdicts",
                                                     key=state.PREF_FROM_JUDGE,
                                                     help="A separate dataset marked 'judge', never mixed "
                                                          "with the people's votes."):
        with st.spinner("Asking the judge about every item…"):
            info = call(pp.build_from_judge, review_id, name=(name.strip() + " (judge)") if name.strip()
                        else None, created_by=access.actor())
        _saved(info)
        if info is not None:
            st.caption(md_escape(pp.agreement_sentence(preference_facts(info).get("agreement") or {})))


def preference_preview(info: DatasetInfo) -> None:
    """A preference dataset version: its source and counts, and its pairs as prompt / chosen / rejected."""
    facts = preference_facts(info)
    st.markdown(f"**{md_escape(source_sentence(facts))}**")
    st.caption(md_escape(counts_sentence(facts)))
    if facts.get("rule"):
        st.caption(md_escape(str(facts["rule"])))
    if isinstance(facts.get("agreement"), dict):
        st.caption(md_escape(pp.agreement_sentence(facts["agreement"])))
    split = st.radio("Split", ["train", "validation", "test"], key=state.PREF_PREVIEW_SPLIT,
                     horizontal=True)
    pairs = call(load_pairs, info.id, split) or []
    frame = pd.DataFrame([{"prompt": p.prompt_text, "chosen": p.chosen, "rejected": p.rejected,
                           "source": str(p.meta.get("source", facts.get("source", "upload")))}
                          for p in pairs[:PREVIEW_ROWS]], columns=["prompt", "chosen", "rejected", "source"])
    st.caption(f"{len(pairs):,} pairs in {split}" + (f"; the first {PREVIEW_ROWS} shown." if len(pairs) >
                                                     PREVIEW_ROWS else "."))
    st.dataframe(frame, hide_index=True, key=state.PREF_PREVIEW)  # cells are text, never markup
