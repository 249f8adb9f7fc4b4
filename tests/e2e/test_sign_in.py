"""Sign-in in headless Chromium against a real OpenID Connect provider started locally.

`oidc-provider-mock` is the provider: its authorize form takes the address to sign in as. The
app runs with an [auth] and a [roles] section in a secrets file of its own. A reviewer sees
the saved dataset's quality report and finds no upload or train control; an owner starts a run,
which records who started it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from local import free_port

from tests.e2e.conftest import App

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]




def _serve(command: list[str], url: str, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail(f"{command[2]} did not start within 120 s; see {log}")


@pytest.fixture(scope="module")
def signed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    base = tmp_path_factory.mktemp("sign-in")
    home, oidc_port, app_port = base / "uclab", free_port(), free_port()
    env = {**os.environ, "UCLAB_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT)}
    env.pop("UCLAB_DATABASE_URL", None)
    issuer = f"http://127.0.0.1:{oidc_port}"
    secrets = base / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"\n'
        'cookie_secret = "a-test-cookie-secret-that-is-long-enough-0123456789"\n'
        'client_id = "uclab"\nclient_secret = "uclab-secret"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n\n'
        '[roles]\nowner = ["ada@example.com"]\nreviewer = ["linus@example.com"]\n')
    provider = _serve([sys.executable, "-m", "oidc_provider_mock", "--port", str(oidc_port)],
                      f"{issuer}/.well-known/openid-configuration", base / "oidc.log", env)
    app = _serve([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                  "--server.address", "127.0.0.1", "--server.port", str(app_port),
                  "--server.fileWatcherType", "none", "--secrets.files", str(secrets)],
                 f"http://127.0.0.1:{app_port}/_stcore/health", base / "streamlit.log", env)
    done = App(url=f"http://127.0.0.1:{app_port}", home=home, env=env)
    csv = base / "reviews.csv"
    csv.write_text("text,label\n" + "".join(f"\"{'great' if i % 2 else 'awful'} film {i}\","
                                            f"{'pos' if i % 2 else 'neg'}\n" for i in range(60)))
    done.cli("datasets", "add", str(csv), "--name", "reviews", "--task", "classification", "--json")
    yield done
    for proc in (app, provider):
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    _cancel_live(done)  # nothing keeps training afterwards


def _cancel_live(app: App) -> None:
    for run in json.loads(app.cli("runs", "list", "--json")):
        if run["status"] in ("queued", "running"):
            subprocess.run([sys.executable, "-m", "core", "runs", "cancel", str(run["id"])], cwd=ROOT,
                           env=app.env, capture_output=True, timeout=300)  # it may finish meanwhile


def _sign_in(browser, app: App, email: str):  # noqa: ANN001, ANN202
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app.url)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/oauth2/authorize**")
    page.fill("input[name=sub]", email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{app.url}/**")
    page.get_by_text(f"Signed in as {email}").wait_for()
    return context, page


def test_a_reviewer_sees_the_report_and_no_train_button_an_owner_trains(browser, signed_app: App) -> None:  # noqa: ANN001
    context, page = _sign_in(browser, signed_app, "linus@example.com")
    try:
        page.goto(f"{signed_app.url}/datasets")
        page.get_by_text("Your role cannot upload or save datasets").wait_for()
        assert page.locator("[data-testid=stFileUploader]").count() == 0
        page.get_by_role("tab", name="Saved versions").click()
        page.get_by_text("Quality report at saving time").wait_for()  # the saved version's report
        page.goto(f"{signed_app.url}/finetune")
        page.get_by_text("cannot start training runs").wait_for()
        assert page.get_by_role("button", name="Start training").count() == 0
    finally:
        context.close()

    context, page = _sign_in(browser, signed_app, "ada@example.com")
    try:
        page.goto(f"{signed_app.url}/finetune")
        page.get_by_role("button", name="Start training").click()
        deadline = time.time() + 120
        while not (listed := json.loads(signed_app.cli("runs", "list", "--json"))):
            assert time.time() < deadline, "no run was started"
            time.sleep(1)
    finally:
        context.close()
    [run] = listed
    assert run["created_by"] == "ada@example.com"
    _cancel_live(signed_app)
