"""Helpers for the page tests: open one page in AppTest, on its own or inside app.py's navigation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def open_app_page(page: str, query: dict[str, str] | None = None, *, via_app: bool = False,
                  timeout: float = 30) -> AppTest:
    """Run pages/<page>.py and return the AppTest.

    With ``via_app`` it runs app.py first and switches to the page through st.navigation (the
    real frame). AppTest resets Streamlit's legacy ``pages/`` flag before every run, so each run
    first starts the page on its own and ``ui.widgets.ensure_app_frame`` reruns it through app.py;
    that rerun drops a button click. So tests that click run the page file alone.
    """
    # AppTest keeps select boxes' format functions (lambdas) in session state, which the app's
    # enforceSerializableSessionState setting would reject; the check only matters in the real app.
    st_config.set_option("runner.enforceSerializableSessionState", False)
    script = ROOT / ("app.py" if via_app else f"pages/{page}.py")
    at = AppTest.from_file(str(script), default_timeout=timeout)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    if via_app:
        at.switch_page(f"pages/{page}.py")
        at.run()
    return at


@pytest.fixture
def open_page(home: Path) -> Callable[..., AppTest]:
    """open_app_page bound to a fresh UCLAB_HOME (the `home` fixture)."""
    return open_app_page


@pytest.fixture
def launcher() -> Iterator[object]:
    """No worker process is started by the test: runs it queues stay queued (``seed.NoLauncher``)."""
    from core.training import service as training
    from tests.pages.seed import NoLauncher

    fake = NoLauncher()
    training.set_launcher(fake)
    yield fake
    training.set_launcher(None)
