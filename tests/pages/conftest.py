"""Helpers for the page tests: open one page of the real app (app.py + st.navigation) in AppTest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def open_app_page(page: str, query: dict[str, str] | None = None, timeout: float = 30) -> AppTest:
    """Run app.py, switch to pages/<page>.py and run it (query params set before the first run)."""
    # AppTest keeps select boxes' format functions (lambdas) in session state, which the app's
    # enforceSerializableSessionState setting would reject; the check only matters in the real app.
    st_config.set_option("runner.enforceSerializableSessionState", False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(f"pages/{page}.py")
    return at.run()


@pytest.fixture
def open_page(home: Path) -> Callable[..., AppTest]:
    """open_app_page bound to a fresh UCLAB_HOME (the `home` fixture)."""
    return open_app_page
