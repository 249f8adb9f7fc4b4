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
    assert sorted(set(registered)) == files  # every page file is in st.navigation
    visible = [p for p in registered if p != "home.py"]
    assert len(visible) == len(set(visible))  # none twice (home is also served, hidden, at /home)


def test_every_declared_url_path_is_served_home_included(open_page: Callable[..., AppTest]) -> None:
    """The default page is served at "/" whatever its url_path, so /home needs a page of its own."""
    import re

    at = open_page("home", via_app=True)
    pages = at._registered_pages.values()
    served = {info["url_pathname"]: Path(str(info["script_path"])).name for info in pages}
    assert served.get("home") == "home.py" and served.get("") == "home.py"
    declared = re.findall(r'url_path="([^"]+)"(?!, default=True)', (ROOT / "app.py").read_text())
    assert "datasets" in declared and all(path in served for path in declared if path != "start")


def test_query_parameters_of_other_pages_do_not_follow(open_page: Callable[..., AppTest]) -> None:
    at = open_page("datasets", query={"run": "3", "runs": "1,2", "dataset": "4", "other": "x"}, via_app=True)
    assert not at.exception
    assert dict(at.query_params) == {"other": "x"}  # run, runs and dataset belong to other pages
    at = open_page("evaluation", via_app=True)
    at.query_params["run"], at.query_params["runs"] = "3", "1,2"
    at.run()
    assert "runs" not in at.query_params and at.query_params.get("run") == "3"


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


def test_every_page_that_writes_a_query_parameter_owns_it() -> None:
    """A page that writes ?dataset= or ?run= must be listed as its owner, or app.py would drop it."""
    from ui import state

    for page in (ROOT / "pages").glob("*.py"):
        source = page.read_text()
        if "dataset_picker(" in source:
            assert page.stem in state.QUERY_PAGES["dataset"], page.name
        if "run_picker(" in source and "sync_url=False" not in source:
            assert page.stem in state.QUERY_PAGES["run"], page.name
