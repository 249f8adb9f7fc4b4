"""Sign-in and roles: the gate in app.py, what each role sees, who is recorded as the maker.

These are AppTest-level tests: AppTest stands in for the OpenID Connect provider through
``AppTest.user`` and ``AppTest.secrets`` (the browser walk against a real provider is
tests/e2e/test_sign_in.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from core.store import runs
from core.training import service as training
from tests.pages.seed import NoLauncher, save_reviews, seed_run
from ui import access, state

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32,
        "client_id": "uclab", "client_secret": "secret",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}
ROLES = {"owner": ["ada@example.com"], "editor": ["grace@example.com", "ken@example.com"],
         "reviewer": ["linus@example.com"]}


@pytest.fixture
def address() -> Iterator[None]:
    before = st_config.get_option("server.address")
    yield
    st_config.set_option("server.address", before)


def _app(page: str = "home", *, email: str | None = None, signed_in: bool = True) -> AppTest:
    """app.py with sign-in configured, as `email` (None: signed out), switched to `page`."""
    st_config.set_option("runner.enforceSerializableSessionState", False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.secrets["auth"] = AUTH
    at.secrets["roles"] = ROLES
    at.user = {"is_logged_in": signed_in, "email": email or ""}
    at.run()
    if page != "home" and not at.exception and not at.error:
        at.switch_page(f"pages/{page}.py")
        at.run()
    return at


def _page(page: str, email: str, role: str) -> AppTest:
    """A page on its own with a signed-in identity (clicks work only without the app frame)."""
    st_config.set_option("runner.enforceSerializableSessionState", False)
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=30)
    at.session_state[state.ACCESS_IDENTITY] = {"email": email, "role": role, "signed_in": True}
    at.run()
    return at


def test_roles_and_addresses() -> None:
    assert access.role_of("Ada@Example.com ", ROLES) == "owner"
    assert access.role_of("linus@example.com", ROLES) == "reviewer"
    assert access.role_of("eve@example.com", ROLES) == ""
    reviewer = access.Identity("linus@example.com", "reviewer", True)
    assert reviewer.can("view") and reviewer.can("vote") and reviewer.can("correct")
    assert not any(reviewer.can(a) for a in ("upload", "train", "cancel", "delete", "export"))
    editor = access.Identity("grace@example.com", "editor", True)
    assert editor.can("train") and editor.can("delete", owner="grace@example.com")
    assert not editor.can("delete", owner="ada@example.com") and not editor.can("delete", owner="")
    assert access.Identity("ada@example.com", "owner", True).can("delete", owner="grace@example.com")
    assert not access.Identity("eve@example.com", "", True).can("view")
    assert all(access.is_loopback(a) for a in ("127.0.0.1", "localhost", "::1", "127.0.1.1"))
    assert not any(access.is_loopback(a) for a in ("0.0.0.0", "", "192.168.1.5", "my-laptop.lan"))


def test_a_lan_address_without_sign_in_refuses_to_start(home: Path, address: None) -> None:
    st_config.set_option("server.address", "0.0.0.0")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.run()
    assert not at.exception
    assert at.error[0].value.startswith("This app listens on 0.0.0.0, which other machines can reach")
    assert not at.title  # no page ran


def test_allow_anonymous_lan_runs_with_a_red_banner(home: Path, address: None,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    st_config.set_option("server.address", "0.0.0.0")
    monkeypatch.setenv("UCLAB_ALLOW_ANONYMOUS_LAN", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.run()
    assert not at.exception and not at.error
    assert any(":red-background[" in m.value and "--allow-anonymous-lan" in m.value for m in at.markdown)
    assert at.title  # the home page ran


def test_signed_out_sees_only_the_sign_in_button(home: Path) -> None:
    at = _app(signed_in=False)
    assert not at.exception
    assert [b.key for b in at.button] == [state.ACCESS_SIGN_IN]
    assert [t.value for t in at.title] == ["Use Case Lab"]


def test_an_address_without_a_role_gets_nothing(home: Path) -> None:
    at = _app(email="eve@example.com")
    assert not at.exception
    assert "eve@example.com" in at.error[0].value and "has no role" in at.error[0].value
    assert [b.key for b in at.button] == [state.ACCESS_SIGN_OUT_UNKNOWN]


def test_a_reviewer_sees_runs_but_no_train_cancel_or_upload(home: Path, launcher: NoLauncher) -> None:
    dataset = save_reviews()
    seed_run(dataset.id, status="running")
    at = _app("finetune", email="linus@example.com")
    assert not at.exception
    assert any("Signed in as linus@example.com (reviewer)" in c.value for c in at.sidebar.caption)
    keys = {b.key for b in at.button}
    assert not keys & {state.FINETUNE_START, state.FINETUNE_CANCEL, state.FINETUNE_RESUME,
                       state.FINETUNE_DELETE}
    assert any("cannot start training runs" in c.value for c in at.caption)
    assert at.selectbox(key=state.FINETUNE_RUN_SELECT).value is not None  # the run is there to see

    datasets_page = _page("datasets", "linus@example.com", "reviewer")
    assert not datasets_page.exception
    assert not datasets_page.get("file_uploader")
    assert not [b for b in datasets_page.button if b.label == "Import"]  # the gallery cannot import


def test_an_owner_sees_the_train_button(home: Path, launcher: NoLauncher) -> None:
    save_reviews()
    at = _app("finetune", email="ada@example.com")
    assert not at.exception
    assert at.button(key=state.FINETUNE_START)


def test_runs_and_datasets_record_who_made_them(home: Path, launcher: NoLauncher) -> None:
    save_reviews()
    at = _page("finetune", "grace@example.com", "editor")
    at.button(key=state.FINETUNE_START).click().run()
    assert not at.exception
    [run] = runs.list_runs()
    assert run.created_by == "grace@example.com"


def test_an_editor_deletes_their_own_run_but_not_someone_elses(home: Path, launcher: NoLauncher) -> None:
    dataset = save_reviews()
    theirs = seed_run(dataset.id, status="succeeded")
    at = _page("finetune", "grace@example.com", "editor")
    at.selectbox(key=state.FINETUNE_RUN_SELECT).set_value(theirs.id).run()
    assert not at.exception
    assert not [b for b in at.button if b.key == state.FINETUNE_DELETE]  # made by someone else

    mine = runs.create_run(dataset_id=dataset.id, model_key="minilm-l6", task="classification",
                           config=training.TrainConfig().to_dict(), seed=1, created_by="grace@example.com")
    runs.request_cancel(mine.id)  # a finished run (cancelled before it started)
    at = _page("finetune", "grace@example.com", "editor")
    at.selectbox(key=state.FINETUNE_RUN_SELECT).set_value(mine.id).run()
    at.button(key=state.FINETUNE_DELETE).click().run()
    assert not at.exception
    assert [r.id for r in runs.list_runs()] == [theirs.id]
