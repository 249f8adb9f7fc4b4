"""Plain sentences and code snippets for the report and the model card, by task."""

from __future__ import annotations

import html

from core.task_specs import SPECS, generates_text

# The sentences and snippets live in the task specs (core.task_specs).
SENTENCES = {spec.task: spec.sentence for spec in SPECS}
SNIPPETS = {spec.task: spec.snippet for spec in SPECS if spec.snippet}


def task_sentence(task: str, data_name: str) -> str:
    """One plain sentence saying what the model is for."""
    return SENTENCES.get(task, "Learn from {data}.").format(data=f"'{data_name}'")


def code_snippet(task: str, folder: str) -> str:
    """Python that loads the saved model and calls it (plain text)."""
    snippet = SNIPPETS.get(task)
    return snippet.format(folder=folder or "path/to/model") if snippet else ""


def load_snippet(task: str, folder: str, run_id: int) -> str:
    """HTML: how to call the model from the command line and from Python (escaped)."""
    cli = f"python -m core predict {run_id} --text \"Type a text here\""
    if generates_text(task):
        cli = f"python -m core generate --run {run_id} --prompt \"Type a question here\""
    python = code_snippet(task, folder)
    parts = ["<p>From the command line of this app:</p>", f"<pre><code>{html.escape(cli)}</code></pre>"]
    if python:
        parts += ["<p>From Python, with the transformers library:</p>",
                  f"<pre><code>{html.escape(python)}</code></pre>"]
    return "".join(parts)
