"""Sign-in and roles: who is using the app and what they may do.

Sign-in is Streamlit's own (``st.login``) with any OpenID Connect provider configured in the
``[auth]`` section of ``.streamlit/secrets.toml``. Roles come from its ``[roles]`` section::

    [roles]
    owner = ["ada@example.com"]
    editor = ["grace@example.com"]
    reviewer = ["linus@example.com"]

Owners may do everything; editors everything but deleting other people's work; reviewers look
(datasets' reports, evaluations, comparisons, reports, the blind review), vote and write
corrections (a better answer, a fixed label), and cannot upload, train, cancel, delete or export.
A signed-in address with no role gets nothing.

Without ``[auth]`` there is no sign-in: the person at the keyboard is the owner, which is only
allowed on a loopback address, unless the app is started with ``--allow-anonymous-lan`` (then
every page carries a red banner).
"""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import dataclass
from typing import Any

import streamlit as st

from core import config
from ui import state

OWNER, EDITOR, REVIEWER = "owner", "editor", "reviewer"
ROLES = (OWNER, EDITOR, REVIEWER)
# What a reviewer may do besides looking: vote in a blind review and write corrections (a better
# answer, a fixed label); the datasets and runs those make are an editor's to build and train.
REVIEWER_ACTIONS = frozenset({"view", "vote", "correct"})
ALLOW_LAN_FLAG = "--allow-anonymous-lan"
LAN_REFUSAL = ("This app listens on {address}, which other machines can reach, and no sign-in is "
               "configured. Add an [auth] section (an OpenID Connect provider) and a [roles] section to "
               ".streamlit/secrets.toml, bind 127.0.0.1, or start it with -- --allow-anonymous-lan to "
               "let anyone on the network use it.")
LAN_BANNER = ("Anyone who can reach this address can use this app: it was started with "
              "--allow-anonymous-lan and no sign-in.")


@dataclass(frozen=True)
class Identity:
    """Who is using this session and with which role ("" = none)."""

    email: str
    role: str
    signed_in: bool

    def can(self, action: str, owner: str | None = None) -> bool:
        """Whether this person may do `action` (to something `owner` made, for "delete")."""
        if self.role == OWNER:
            return True
        if self.role == EDITOR:
            return action != "delete" or (bool(owner) and owner == self.email)
        if self.role == REVIEWER:
            return action in REVIEWER_ACTIONS
        return False


ANONYMOUS_OWNER = Identity(email="", role=OWNER, signed_in=False)
NOBODY = Identity(email="", role="", signed_in=False)


def _secrets_section(name: str) -> dict[str, Any] | None:
    try:
        if name in st.secrets:
            return dict(st.secrets[name])
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):
        return None
    return None


def sign_in_configured() -> bool:
    """Whether an OpenID Connect provider is configured (``[auth]`` in secrets.toml)."""
    return _secrets_section("auth") is not None


def role_of(email: str, roles: dict[str, Any] | None) -> str:
    """The role given to this address in the ``[roles]`` section ("" when none)."""
    wanted = email.strip().lower()
    for role in ROLES:  # the strongest role wins when an address is listed twice
        members = (roles or {}).get(role) or []
        if isinstance(members, str):
            members = [members]
        if wanted and wanted in {str(m).strip().lower() for m in members}:
            return role
    return ""


def is_loopback(address: str) -> bool:
    """127.0.0.1, ::1 and localhost; an empty address means every interface."""
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def anonymous_lan_allowed() -> bool:
    """``streamlit run app.py -- --allow-anonymous-lan`` (or UCLAB_ALLOW_ANONYMOUS_LAN=1)."""
    return ALLOW_LAN_FLAG in sys.argv[1:] or config.allow_anonymous_lan()


def bound_address() -> str:
    return str(st.get_option("server.address") or "")


def gate() -> Identity:
    """Decide who this session is, or stop the script with the sentence that says why not.

    Called by app.py before any page runs.
    """
    if not sign_in_configured():
        address = bound_address()
        if not is_loopback(address):
            if not anonymous_lan_allowed():
                st.error(LAN_REFUSAL.format(address=address or "every network interface"),
                         icon=":material/lock:")
                st.stop()
            st.markdown(f":red-background[:material/warning: {LAN_BANNER}]")
        st.session_state[state.ACCESS_IDENTITY] = {"email": "", "role": OWNER, "signed_in": False}
        return ANONYMOUS_OWNER
    if not st.user.is_logged_in:
        st.session_state.pop(state.ACCESS_IDENTITY, None)
        st.title("Use Case Lab")
        st.write("Sign in to see your team's datasets, runs and reviews.")
        if st.button("Sign in", key=state.ACCESS_SIGN_IN, type="primary", icon=":material/login:"):
            st.login()
        st.stop()
    email = str(st.user.get("email") or "")
    identity = Identity(email=email, role=role_of(email, _secrets_section("roles")), signed_in=True)
    if not identity.role:
        st.session_state.pop(state.ACCESS_IDENTITY, None)
        st.error(f"You are signed in as {email or 'an account without an e-mail address'}, but this "
                 "address has no role here. Ask an owner to add it to [roles] in .streamlit/secrets.toml.",
                 icon=":material/block:")
        if st.button("Sign out", key=state.ACCESS_SIGN_OUT_UNKNOWN):
            st.logout()
        st.stop()
    st.session_state[state.ACCESS_IDENTITY] = {"email": identity.email, "role": identity.role,
                                               "signed_in": True}
    return identity


def current() -> Identity:
    """This session's identity (a page run on its own, as in page tests, is the local owner)."""
    data = st.session_state.get(state.ACCESS_IDENTITY)
    if not data:
        return NOBODY if sign_in_configured() else ANONYMOUS_OWNER
    return Identity(email=data["email"], role=data["role"], signed_in=bool(data["signed_in"]))


def allowed(action: str, owner: str | None = None) -> bool:
    """Whether this session may do `action` (upload, train, cancel, delete, export, vote)."""
    return current().can(action, owner)


def actor() -> str:
    """Who to record as the maker of a dataset, run or vote ("" without sign-in)."""
    return current().email


def not_allowed(what: str) -> None:
    """Say, in place of a control, that this role cannot do it."""
    st.caption(f":material/lock: Your role ({current().role}) cannot {what}.")
