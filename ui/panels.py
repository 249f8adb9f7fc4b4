"""Larger blocks shared by several pages: gallery cards, dataset and run tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core.data import gallery
from core.entities import DatasetInfo, RunInfo
from ui import access, state
from ui.widgets import call, md_escape, status_label, when

CARDS_PER_ROW = 4


_IMPORTED = "gallery_imported_message"


def gallery_cards(key_prefix: str = state.GALLERY_IMPORT_PREFIX) -> None:
    """Show the use-case gallery as cards with one-click import (then the page redraws with it listed)."""
    message = st.session_state.pop(_IMPORTED, None)
    if message:
        st.success(message, icon=":material/check_circle:")
    entries = call(gallery.list_gallery) or []
    for start in range(0, len(entries), CARDS_PER_ROW):
        columns = st.columns(CARDS_PER_ROW)
        for column, entry in zip(columns, entries[start:start + CARDS_PER_ROW], strict=False):
            with column.container(border=True):
                st.markdown(f"**{entry.title}**")
                st.caption(f"“{entry.question}”")
                classes = f" · {entry.classes} classes" if entry.classes else ""
                st.text(f"{entry.task} · {entry.rows:,} rows{classes}")
                st.caption(f"Licence: {entry.licence} · Source: {entry.source}")
                if access.allowed("upload") and st.button("Import", key=f"{key_prefix}{entry.key}",
                                                          icon=":material/download:"):
                    with st.spinner(f"Importing {entry.title}…"):
                        imported = call(gallery.import_gallery, entry.key)
                    if imported is not None:
                        st.session_state[state.CURRENT_DATASET] = imported.id
                        st.session_state[_IMPORTED] = (
                            f"Imported {md_escape(imported.label)} ({imported.row_count:,} rows). "
                            "Train it on the Fine-tuning page.")
                        st.rerun()  # so the lists above show it


def datasets_frame(datasets: Sequence[DatasetInfo]) -> pd.DataFrame:
    """One row per dataset version with its counts, for st.dataframe."""
    rows: list[dict[str, Any]] = []
    for d in datasets:
        sizes = d.split_sizes or {}
        rows.append({"id": d.id, "name": d.name, "version": d.version, "task": d.task,
                     "rows": d.row_count, "train": sizes.get("train"),
                     "validation": sizes.get("validation"), "test": sizes.get("test"),
                     "source file": d.source_filename, "created": when(d.created_at)})
    return pd.DataFrame(rows, columns=["id", "name", "version", "task", "rows", "train",
                                       "validation", "test", "source file", "created"])


def runs_frame(runs: Sequence[RunInfo], positions: dict[int, int] | None = None) -> pd.DataFrame:
    """One row per run with status, progress and the headline metric, for st.dataframe."""
    rows: list[dict[str, Any]] = []
    for r in runs:
        status = status_label(r.status)
        if positions and positions.get(r.id):
            status += f" (#{positions[r.id]} in queue)"
        rows.append({"id": r.id, "name": r.name or r.model_key, "task": r.task,
                     "model": r.model_key, "dataset": r.dataset_id, "status": status,
                     "progress": r.progress, "best": r.best_metric, "created": when(r.created_at)})
    return pd.DataFrame(rows, columns=["id", "name", "task", "model", "dataset", "status",
                                       "progress", "best", "created"])


def runs_table(runs: Sequence[RunInfo], key: str, positions: dict[int, int] | None = None) -> None:
    """Render the runs as a table with a progress column."""
    st.dataframe(runs_frame(runs, positions), hide_index=True, key=key, column_config={
        "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0,
                                                    format="percent"),
        "best": st.column_config.NumberColumn("best metric", format="%.3f"),
    })
