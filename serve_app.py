"""Start Use Case Lab behind its Host check: ``streamlit run serve_app.py`` (or ``python serve_app.py``).

``app.py`` is the app itself; this launcher wraps it in ``st.App`` so that every request passes
``ui.host_guard.HostGuard`` (DNS rebinding, anti-framing headers). Settings come from
``.streamlit/config.toml`` and the usual ``--server.*`` flags, as with ``streamlit run app.py``.
"""

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from ui.host_guard import HostGuard

app = st.App(Path(__file__).with_name("app.py"), middleware=[Middleware(HostGuard)])

if __name__ == "__main__":
    app.run()
