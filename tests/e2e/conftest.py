"""Starts the real app on a free localhost port with its own UCLAB_HOME, and a headless Chromium."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from local import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def st_key(name: str) -> str:
    """The CSS selector of the Streamlit element with ``key=name``."""
    return f".st-key-{name}"


def idle(page: object) -> None:
    """Wait until Streamlit has finished the current script run."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !/Running/i.test(document.querySelector('[data-testid=\"stStatusWidget\"]').innerText)",
        timeout=120_000)


@dataclass(frozen=True)
class App:
    url: str
    home: Path
    env: dict[str, str]

    def cli(self, *args: str, timeout: int = 900) -> str:
        """Run `python -m core ...` against the same UCLAB_HOME as the app; returns stdout."""
        done = subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout




@contextlib.contextmanager
def serve_app(home: Path, extra_env: dict[str, str] | None = None) -> Iterator[App]:
    """The real app on a free 127.0.0.1 port over `home`, stopped (with its children) on exit."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run scripts/install.sh --dev (apt-get install chromium).")
    port = free_port()
    env = {**os.environ, "UCLAB_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", **(extra_env or {})}
    env.pop("UCLAB_DATABASE_URL", None)
    log = (home.parent / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "serve_app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("The app did not start within 120 s; see " + str(home.parent / "streamlit.log"))
    try:
        yield App(url=url, home=home, env=env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    home = tmp_path_factory.mktemp("e2e") / "uclab"
    home.mkdir(parents=True, exist_ok=True)
    with serve_app(home) as served:
        yield served


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, app: App) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    # What the browser showed last, for whoever reads a failure (next to streamlit.log).
    page.screenshot(path=str(app.home.parent / "last-page.png"), full_page=True)
    context.close()
