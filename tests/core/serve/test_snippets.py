"""The serve command a page shows works in a new terminal: it names the app's data folder."""

from __future__ import annotations

import shlex

from core.serve.snippets import serve_snippets


def test_the_serve_command_names_the_data_folder(home) -> None:
    command = serve_snippets("run:2", "encoder", run_id=2)["command"]
    assert command.startswith(f"UCLAB_HOME={shlex.quote(str(home))} uclab serve --run 2 ")
