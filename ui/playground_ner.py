"""The playground tab for entity taggers: the text with entities highlighted, and a table of them."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from core.entities import RunInfo
from core.inference import ner_predict
from core.results import verdict
from ui import highlight, state
from ui.widgets import call, run_picker

KEY = state.PLAYGROUND_NER_PREFIX


def entities_frame(entities: object) -> pd.DataFrame:
    """The service's entities (a frame or a list of dicts) as a frame: type, text, start, end, confidence."""
    frame = entities if isinstance(entities, pd.DataFrame) else pd.DataFrame(list(entities or []))
    columns = [c for c in ("type", "text", "start", "end", "confidence") if c in frame]
    return frame[columns] if columns else frame


def panel(runs: Sequence[RunInfo]) -> None:
    """Pick a token-classification run, type a text, see the entities."""
    taggers = [r for r in runs if r.task == "token-classification"]
    if not taggers:
        st.info("No finished entity-extraction run yet: import the support-ticket entities from the gallery "
                "and train it on the Fine-tuning page.")
        return
    best = verdict.best_run(taggers)
    run = run_picker(taggers, key=KEY + "run", label="Model (a finished run)", sync_url=False,
                     default=best.id if best else None)
    text = st.text_area("Text", key=KEY + "text", height=120,
                        placeholder="Anna Berg from Nordwind GmbH paid invoice INV-2041 on 3 May.")
    if st.button("Find entities", key=KEY + "go", type="primary"):
        with st.spinner("Tagging (the first call loads the model)…"):
            found = call(ner_predict.predict_entities, run.id, text)
        if found is not None:
            records = entities_frame(found.get("entities", [])).to_dict("records")
            st.session_state[KEY + "result"] = (run.id, text, records, found.get("latency_ms"))
    stored = st.session_state.get(KEY + "result")
    if not stored or stored[0] != run.id:
        return
    _, tagged_text, records, latency = stored
    if latency is not None:
        st.caption(f"{len(records)} entities · {latency:,.0f} ms")
    if not records:
        st.caption("No entity found in this text.")
        st.text(tagged_text)
        return
    st.html(highlight.legend_html([str(r["type"]) for r in records]))
    st.html(highlight.entity_html(tagged_text, records))
    bar = st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0, format="%.2f")
    st.dataframe(pd.DataFrame(records), hide_index=True, key=KEY + "table", column_config={"confidence": bar})
