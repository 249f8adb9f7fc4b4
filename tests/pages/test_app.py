"""app.py: the frame every page runs in (navigation with each page once, the shared sidebar)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def test_navigation_lists_every_page_file_once(open_page: Callable[..., AppTest]) -> None:
    at = open_page("home", via_app=True)
    assert not at.exception
    registered = [Path(str(info["script_path"])).name for info in at._registered_pages.values()]
    files = sorted(p.name for p in (ROOT / "pages").glob("*.py"))
    assert sorted(registered) == files  # every page file is in st.navigation, none twice


def test_sidebar_shows_the_data_folder_and_the_machine(open_page: Callable[..., AppTest], home: Path) -> None:
    at = open_page("home", via_app=True)
    assert at.sidebar.code[0].value == str(home.resolve())
    assert any(c.value.startswith("Machine: CPU") for c in at.sidebar.caption)


def test_the_app_sweeps_runs_whose_process_died_when_it_starts(open_page: Callable[..., AppTest],
                                                              home: Path) -> None:
    import subprocess
    import sys

    import streamlit as st

    from core.store import runs
    from tests.pages.seed import save_reviews

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run = runs.create_run(dataset_id=save_reviews().id, model_key="minilm-l6", task="classification",
                          config={}, seed=1)
    runs.claim_run(run.id, dead.pid)  # its worker died a moment ago; its heartbeat is still fresh
    st.cache_resource.clear()  # a fresh server start
    at = open_page("models", via_app=True)  # a page that reads no run
    assert not at.exception
    swept = runs.get_run(run.id)
    assert swept.status == "interrupted" and "gone" in swept.status_reason
