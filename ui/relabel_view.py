"""Fixing labels with lineage: the Evaluation page's "Check the labels" panel, the Datasets page's
lineage of a version (with "Train again"), and the Compare page's note on dataset versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core.data import relabel
from core.entities import DatasetInfo, RunInfo
from core.errors import UserError
from core.results import compare, label_review, verdict
from core.task_specs import label_fixes
from core.training import service as training
from ui import access, state
from ui.widgets import call, md_escape

WRONG, RIGHT = "wrong", "right"
VERDICTS = {WRONG: "The label is wrong", RIGHT: "The label is right"}


def _short(text: str, n: int = 70) -> str:
    text = " ".join(str(text)[: 8 * n + 64].split())  # cut first: a cell may hold megabytes
    return text if len(text) <= n else text[: n - 1] + "…"


def label_check_panel(run: RunInfo, split: str) -> None:
    """The rows the run got wrong (and a sample of the right ones) for a person to check, the checks
    so far, and for editors the button that makes the next version with the fixed labels."""
    if not label_fixes(run.task):
        return
    st.subheader("Check the labels")
    st.caption("A wrong prediction is sometimes a wrong label. Check the rows the model got wrong (and a "
               "few it got right): your checks are kept with the dataset version, beside your team's, and "
               "the labels you agree are wrong make its next version.")
    try:
        review = label_review.label_review(run.id, split)
    except UserError as error:  # e.g. a cross-validation fold: a note, not a failure of the page
        st.caption(md_escape(error))
        return
    table_box = st.container()
    if access.allowed("correct"):
        if _check_form(review, run) is not None:
            review = call(label_review.label_review, run.id, split) or review
    else:
        access.not_allowed("check labels")
    with table_box:
        right = len(review.rows) - review.wrong
        st.caption(f"{review.wrong:,} rows of {md_escape(review.dataset_label)} the model got wrong, most "
                   f"confident first, then {right} it got right (a sample). Rows are numbered from 1 in "
                   "the dataset version.")
        shown = review.rows.assign(
            confidence=review.rows["confidence"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}"),
            text=review.rows["text"].map(lambda t: _short(t, 400)))
        st.dataframe(shown[["row", "text", "stored", "predicted", "confidence", "checks"]].astype(str)
                     .rename(columns={"stored": "stored label", "predicted": "model's prediction"}),
                     hide_index=True, key=state.EVALUATION_CHECK_TABLE)
    _summary(review, run)


def _check_form(review: label_review.LabelReview, run: RunInfo) -> Any:
    """The check of one row; what was saved (None when nothing was)."""
    rows = review.rows
    if rows.empty:
        return None
    by_row = {int(r["row"]): r for _, r in rows.iterrows()}
    suffix = f"{run.id}_{review.split}"
    row_key = f"{state.EVALUATION_CHECK_ROW}{suffix}"
    upcoming = st.session_state.pop(state.EVALUATION_CHECK_NEXT, None)
    if upcoming in by_row:  # after a save, the form moves on to the next row
        st.session_state[row_key] = upcoming
    row = st.selectbox("Row to check", list(by_row), key=row_key,
                       format_func=lambda r: (f"row {r} · stored {_short(by_row[r]['stored'], 30)} · model "
                                              f"{_short(by_row[r]['predicted'], 30)} · "
                                              f"{_short(by_row[r]['text'], 50)}"))
    picked = by_row[int(row)]
    st.text(f"Text: {_short(picked['text'], 3000)}\nStored label: {picked['stored']}\n"
            f"Model's prediction: {picked['predicted']}")
    choice = st.radio("Your check", list(VERDICTS), format_func=VERDICTS.get, horizontal=True,
                      key=f"{state.EVALUATION_CHECK_VERDICT}{suffix}")
    new_value: Any = None
    if choice == WRONG:
        if review.column == "tags":
            new_value = st.text_input(
                "It should be (one tag per token, separated by spaces)", value=str(picked["predicted"]),
                key=f"{state.EVALUATION_CHECK_TAGS}{suffix}_{row}",
                help=f"{len(str(picked['text']).split())} tokens; tags: {', '.join(review.labels)}")
        else:
            options = [lab for lab in review.labels if lab != picked["stored"]] or review.labels
            start = options.index(picked["predicted"]) if picked["predicted"] in options else 0
            new_value = st.selectbox("It should be", options, index=start,
                                     key=f"{state.EVALUATION_CHECK_LABEL}{suffix}_{row}")
    reason = st.text_input("Why (optional)", key=f"{state.EVALUATION_CHECK_REASON}{suffix}", max_chars=500)
    if not st.button("Save check", key=state.EVALUATION_CHECK_SAVE, icon=":material/fact_check:"):
        return None
    saved = call(relabel.record_check, review.dataset_id, int(row), new_value, reviewer=access.actor(),
                 reason=reason, run_id=run.id)
    if saved is not None:
        what = ("right" if saved.new_value is None
                else f"wrong, it should be {label_review.show_value(saved.new_value)}")
        order = list(by_row)
        following = order[order.index(int(row)) + 1:] if int(row) in order else []
        if following:
            st.session_state[state.EVALUATION_CHECK_NEXT] = following[0]
        st.success(md_escape(f"Saved: row {saved.row}'s label is {what}."
                             + (f" Next: row {following[0]}." if following else "")),
                   icon=":material/check_circle:")
    return saved


def _verdicts(verdicts: Sequence[tuple[str, Any]]) -> str:
    return "; ".join(f"{who}: " + ("right" if new is None else f"should be {label_review.show_value(new)}")
                     for who, new in verdicts)


def _summary(review: label_review.LabelReview, run: RunInfo) -> None:
    st.write(md_escape(label_review.summary_sentence(review)))
    res = review.resolution
    if res.conflicts:
        st.warning(md_escape(f"{len(res.conflicts)} row{'s' if len(res.conflicts) != 1 else ''} have "
                             "conflicting checks; they stay out of the next version until the people who "
                             "checked them agree (a later check of a row replaces the same person's)."),
                   icon=":material/warning:")
        st.dataframe(pd.DataFrame([{"row": str(c.row), "stored label": label_review.show_value(c.old),
                                    "checks": _verdicts(c.verdicts)} for c in res.conflicts]),
                     hide_index=True, key=state.EVALUATION_CHECK_CONFLICTS)
    if not res.fixes:
        return
    if not access.allowed("upload"):
        access.not_allowed("make a new dataset version (an editor or owner can)")
        return
    n = len(res.fixes)
    upcoming = call(relabel.next_version, review.dataset_id)
    if st.button(f"Make version {upcoming} with {n} fixed label{'s' if n != 1 else ''}",
                 key=state.EVALUATION_CHECK_MAKE, type="primary", icon=":material/difference:"):
        made = call(relabel.make_fixed_version, review.dataset_id, created_by=access.actor(), from_run=run.id)
        if made is not None:
            st.session_state[state.CURRENT_DATASET] = made.id
            st.success(md_escape(f"Saved {made.label} (id {made.id}): {n} labels fixed, every row in the "
                                 "same split. See its lineage and train again on the Datasets page."),
                       icon=":material/check_circle:")


def lineage_panel(version: DatasetInfo) -> None:
    """Where a version comes from (v1 → v2: 37 labels fixed by 2 people), the rows it changed, and
    for a version made from checks on a run, "Train again" with that run's settings."""
    chain = call(relabel.lineage, version.id) or []
    children = call(relabel.children_of, version.id) or []
    if len(chain) <= 1 and not children:
        return
    st.caption("Lineage")
    for step in chain[1:]:
        st.write(md_escape(step.sentence))
    for child in children:
        st.write(md_escape(f"{child.label} (id {child.id}) was made from this version by fixing labels."))
    step = chain[-1] if chain else None
    if step is None or step.parent_id is None:
        return
    changes = pd.DataFrame([{"row": str(c.get("row")), "split": str(c.get("split")),
                             "old label": label_review.show_value(c.get("old")),
                             "new label": label_review.show_value(c.get("new")),
                             "by": ", ".join(c.get("by") or []), "why": str(c.get("why") or "")}
                            for c in step.changes])
    st.dataframe(changes, hide_index=True, key=state.DATASETS_LINEAGE_CHANGES)
    if step.from_run is None:
        return
    if not access.allowed("train"):
        access.not_allowed("train (an editor or owner can)")
        return
    if st.button(f"Train again on v{version.version}", key=state.DATASETS_TRAIN_AGAIN, type="primary",
                 icon=":material/replay:", help=f"A new run with the settings of run {step.from_run}, "
                                                f"whose evaluation the labels were checked on."):
        started = call(training.train_again, version.id, created_by=access.actor())
        if started is not None:
            st.success(md_escape(f"Run {started.id} queued on {version.label} with the settings of run "
                                 f"{step.from_run}; follow it on the Fine-tuning page and compare the two "
                                 "when it finishes."),
                       icon=":material/check_circle:")


def versions_note(run_ids: Sequence[int], same_dataset: bool) -> None:
    """On the Compare page: which version each run trained on and, for versions made from one another
    by fixing labels, the runs scored on the same test rows against the newest labels."""
    note = call(compare.version_note, run_ids) if not same_dataset else None
    if note is None:
        if not same_dataset:
            st.warning("These runs were trained on different datasets, so their numbers are not directly "
                       "comparable.")
        return
    if not note.related:
        st.warning(md_escape(note.sentence + " Their numbers are not directly comparable."))
        return
    st.info(md_escape(note.sentence), icon=":material/difference:")
    if not note.same_rows:
        st.caption("Their test rows differ, so they are compared only by their own figures below.")
        return
    for same in note.same_rows:
        found = verdict.same_rows_verdict(same)
        show = st.success if found.tone == verdict.GOOD else st.info
        show(md_escape(found.sentence), icon=":material/compare_arrows:")
    st.dataframe(pd.DataFrame([{
        "runs": f"{s.run_a} → {s.run_b}", "rows": f"{s.examples:,} {s.split}",
        "labels of": s.labels_from, "labels changed in these rows": str(s.changed_in_split),
        "run A": f"{s.score_a * 100:.2f} %", "run B": f"{s.score_b * 100:.2f} %",
        "B − A": f"{s.gain * 100:+.2f} pts",
        "95 % interval": "—" if s.low is None else f"{s.low * 100:+.2f} to {s.high * 100:+.2f} pts",
        "scored by": s.metric.replace("_", " ")}
        for s in note.same_rows]),
        hide_index=True, key=state.COMPARE_SAME_ROWS)
