"""Small widgets shared by the pages: error display, status badges, dataset and run pickers."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

from core.entities import DatasetInfo, RunInfo
from core.errors import UserError
from core.text import labels
from ui import state

T = TypeVar("T")

STATUS_COLOURS = {"queued": "gray", "running": "blue", "succeeded": "green", "failed": "red",
                  "cancelled": "orange", "interrupted": "violet"}


@contextmanager
def user_errors() -> Iterator[None]:
    """Show a UserError raised inside the block as one red sentence instead of a traceback."""
    try:
        yield
    except UserError as error:
        st.error(md_escape(error), icon=":material/error:")


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Call a service; on a UserError show its sentence and return None."""
    try:
        return fn(*args, **kwargs)
    except UserError as error:
        st.error(md_escape(error), icon=":material/error:")
        return None


def status_label(status: str) -> str:
    """A status as tables and select boxes show it (plain text: emoji fonts are not everywhere)."""
    return labels.status_label(status)


def status_badge(status: str, not_learned: bool = False) -> None:
    """Render a run status as a coloured badge; a finished model that has not learned is not green."""
    if status == "succeeded" and not_learned:
        st.badge("Finished · not learned", color="orange", icon=":material/warning:")
        return
    st.badge(labels.status_label(status), color=STATUS_COLOURS.get(status, "gray"))  # type: ignore[arg-type]


def when(moment: datetime | None) -> str:
    """A timestamp as the pages show it (minutes, no seconds)."""
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"


def duration(seconds: float | None) -> str:
    """Seconds as '1 h 05 min', '3 min 20 s' or '12 s'."""
    if seconds is None:
        return "—"
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def size(n_bytes: int | None) -> str:
    """Bytes as MB or GB."""
    if not n_bytes:
        return "—"
    if n_bytes >= 1024 ** 3:
        return f"{n_bytes / 1024 ** 3:.1f} GB"
    return f"{n_bytes / 1024 ** 2:.0f} MB"


def count(n: int | float | None) -> str:
    """A parameter or row count as 22.7M / 12.8k / 950."""
    if n is None:
        return "—"
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.1f}{unit}"
    return f"{n:g}"


DATASET_QUERY = "dataset"  # query parameter naming the dataset a form works on (survives a reload)


def dataset_picker(datasets: Sequence[DatasetInfo], key: str, label: str = "Dataset version",
                   tasks: Sequence[str] | None = None) -> DatasetInfo | None:
    """A select box of saved dataset versions (newest first), optionally of some tasks only.

    It opens on the dataset chosen last (this session, else the one named in the URL, so a reload
    keeps it), else the newest; a choice is written to the URL (?dataset=ID).
    """
    options = [d for d in datasets if tasks is None or d.task in tasks]
    if not options:
        return None
    by_id = {d.id: d for d in options}
    ids = list(by_id)
    if st.session_state.get(key) not in by_id:
        wanted = st.session_state.get("current_dataset_id")
        raw = st.query_params.get(DATASET_QUERY)
        from_url = int(raw) if raw and raw.isdigit() else None
        st.session_state[key] = next((i for i in (wanted, from_url) if i in by_id), ids[0])

    def remember() -> None:
        st.query_params[DATASET_QUERY] = str(st.session_state[key])

    picked = st.selectbox(label, ids, key=key, on_change=remember,
                          format_func=lambda i: f"{by_id[i].label} · {labels.task_label(by_id[i].task)} · "
                                                f"{by_id[i].row_count:,} rows")
    if st.query_params.get(DATASET_QUERY) != str(picked):
        st.query_params[DATASET_QUERY] = str(picked)
    return by_id.get(picked)


def keep_page_query(url_path: str) -> None:
    """Drop the query parameters that belong to other pages (``state.QUERY_PAGES``), so ?run=3 from
    the evaluation page does not follow the user onto the datasets page. Unknown parameters stay."""
    for name, owners in state.QUERY_PAGES.items():
        if name in st.query_params and url_path not in owners:
            del st.query_params[name]


def run_option(run: RunInfo) -> str:
    """A run as select boxes show it: 'Run 5 · name · Text classification · Finished'."""
    return (f"{labels.run_label(run.id, run.name, run.model_key)} · {labels.task_label(run.task)} · "
            f"{labels.status_label(run.status)}")


def run_picker(runs: Sequence[RunInfo], key: str, label: str = "Run",
               selected: int | None = None, sync_url: bool = True,
               default: int | None = None) -> RunInfo | None:
    """A select box of runs (newest first) that follows `selected` (the run named in the URL).

    Without a selection it opens on `default` (e.g. the best run), else the newest. Choosing a
    run writes it to the URL (?run=ID) before the rerun, so the URL and the box agree and a
    refresh shows the same run; a URL changed from outside (a link) wins.
    """
    if not runs:
        return None
    by_id = {r.id: r for r in runs}
    if selected in by_id:
        st.session_state[key] = selected
    elif st.session_state.get(key) not in by_id:
        st.session_state[key] = default if default in by_id else next(iter(by_id))

    def remember() -> None:
        st.query_params["run"] = str(st.session_state[key])

    picked = st.selectbox(label, list(by_id), key=key, on_change=remember if sync_url else None,
                          format_func=lambda i: run_option(by_id[i]))
    if sync_url and st.query_params.get("run") != str(picked):
        st.query_params["run"] = str(picked)
    return by_id.get(picked)


def follow_newest(key: str, newest: Any) -> None:
    """Point the select box `key` at `newest` whenever a newer item appears (first visit included),
    and leave the person's own choice alone otherwise."""
    seen = key + "_newest_seen"
    if st.session_state.get(seen) != newest:
        st.session_state[seen] = newest
        st.session_state[key] = newest


def select_run(key: str, run_id: int) -> None:
    """Make `run_id` the run shown by the picker with this key (and in the URL), e.g. after starting it."""
    st.session_state[key] = run_id
    st.query_params["run"] = str(run_id)


PARENT_KINDS = ("cv", "learning-curve")  # runs that only group child runs: no model of their own


def with_model(runs: Sequence[RunInfo]) -> list[RunInfo]:
    """The runs that trained a model themselves (not cross-validation or learning-curve parents)."""
    return [r for r in runs if r.kind not in PARENT_KINDS]


def run_from_query(runs: Sequence[RunInfo]) -> int | None:
    """The run id named in the URL (?run=ID) when it is one of `runs`, else None."""
    raw = st.query_params.get("run")
    try:
        run_id = int(raw) if raw is not None else None
    except ValueError:
        return None
    return run_id if run_id in {r.id for r in runs} else None


def show_table_text(row: dict[str, Any] | None) -> None:
    """Show one example row as a table; user text stays text (never markdown or HTML)."""
    if not row:
        return
    st.dataframe({k: [v if isinstance(v, (int, float, bool)) or v is None else str(v)]
                  for k, v in row.items()}, hide_index=True, width="stretch")


def machine_summary() -> str:
    """A one-line description of this machine (cores, GPU present), read without importing torch."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    gpus = Path("/proc/driver/nvidia/gpus")
    gpu = " + NVIDIA GPU" if gpus.is_dir() and any(gpus.iterdir()) else ""
    return f"CPU, {cores} cores{gpu}"


_MD_SPECIAL = "\\`*_{}[]<>()#+-.!|~$:"
# GitHub-flavoured Markdown turns bare "http://…", "www.…" and "name@host" into links even when
# their characters are escaped; an invisible word joiner (U+2060) right before the "://", the
# "." after "www" or the "@" breaks each pattern, and the text still reads the same.
WORD_JOINER = "\u2060"
_AUTOLINK = re.compile(r"(?i)(?<=[a-z0-9])(?=://)|(?<=\bwww)(?=\.)|(?<=[\w.+-])(?=@)")


def md_escape(text: object) -> str:
    """Escape markdown (and so any HTML-looking text) so user text shows literally in st.markdown;
    URLs and e-mail addresses in it stay text, never links."""
    plain = _AUTOLINK.sub(WORD_JOINER, str(text))
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in plain)


def ensure_app_frame() -> None:
    """Rerun through app.py when Streamlit ran this page on its own (legacy `pages/` discovery).

    A fresh server treats a `pages/` folder as a legacy multipage app until app.py has called
    st.navigation once, so the first visitor who opens e.g. /finetune?run=3 directly would get the
    page without app.py's frame. Switching the legacy mode off and rerunning keeps the URL and
    the query parameters, and lands on the same page inside the frame (the page hashes match
    because every url_path equals its file name).
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def restore_fields(slot: str, defaults: Mapping[str, Any] | None = None) -> None:
    """Put back the fields of a form that Streamlit dropped while the user was on another page (it
    forgets a widget's value once a page without that widget has run; plain keys survive), then give
    the fields still unset their ``defaults`` (so the widgets take no ``value=`` that would clash with
    a restored one). Call before the form's first widget; ``remember_fields`` keeps the copy under the
    plain key ``slot``."""
    for key, value in (st.session_state.get(slot) or {}).items():
        if key not in st.session_state:
            st.session_state[key] = value
    for key, value in (defaults or {}).items():
        st.session_state.setdefault(key, value)


def remember_fields(slot: str, *, prefix: str | None = None, kept: tuple[str, ...] = (),
                    skip_prefix: str | None = None) -> None:
    """Keep a copy of a form's fields under the plain key ``slot`` (call after its last widget): the keys
    in ``kept`` and those starting with ``prefix`` (not with ``skip_prefix``). A button's key must not be
    among them (Streamlit refuses to set a button's value)."""
    st.session_state[slot] = {
        key: value for key, value in st.session_state.items()
        if key in kept or (prefix is not None and str(key).startswith(prefix) and key != slot
                           and not (skip_prefix and str(key).startswith(skip_prefix)))}
