"""What the "Serve this model" panels show: the command, the URL, and copyable curl and openai snippets."""

from __future__ import annotations

import json
import shlex

from core import config
from core.config import get_settings
from core.serve.backend import CAUSAL

DEFAULT_PORT = 8000


def serve_snippets(model_id: str, kind: str, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                   run_id: int | None = None) -> dict[str, str]:
    """``command``, ``url``, ``curl`` and ``python`` texts for serving and calling one model."""
    source = f"--run {run_id}" if run_id is not None else f"--model {shlex.quote(model_id)}"
    # A new terminal has none of the app's environment: name its data folder, or the server answers
    # "There is no run with id N" from an empty ~/.uclab.
    home = f"{config.HOME_VARIABLE}={shlex.quote(str(get_settings().home))} "
    command = f"{home}uclab serve {source} --host {host} --port {port}"
    url = f"http://{host}:{port}/v1"
    if kind == CAUSAL:
        body = {"model": model_id, "messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 128}
        path = "chat/completions"
        python = (f'from openai import OpenAI\n\nclient = OpenAI(base_url="{url}", api_key="none")\n'
                  f"reply = client.chat.completions.create(\n    model={model_id!r},\n"
                  '    messages=[{"role": "user", "content": "Hello!"}],\n    max_tokens=128,\n)\n'
                  "print(reply.choices[0].message.content)\n")
    elif kind in ("classification", "token-classification"):
        path = "classify" if kind == "classification" else "entities"
        body = {"model": model_id, "input": ["Type a text here"]}
        python = (f"import json, urllib.request  # any HTTP client: openai has no /{path} call\n\n"
                  f"body = json.dumps({json.dumps(body)}).encode()\n"
                  f'request = urllib.request.Request("{url}/{path}", data=body,\n'
                  '                                 headers={"Content-Type": "application/json"})\n'
                  'print(json.load(urllib.request.urlopen(request))["data"])\n')
    else:
        path = "embeddings"
        body = {"model": model_id, "input": ["Type a text here"]}
        python = (f'from openai import OpenAI\n\nclient = OpenAI(base_url="{url}", api_key="none")\n'
                  f'vector = client.embeddings.create(model={model_id!r}, input="Type a text here")'
                  ".data[0].embedding\nprint(len(vector))\n")
    curl = (f"curl {url}/{path} \\\n  -H 'Content-Type: application/json' \\\n"
            f"  -d {shlex.quote(json.dumps(body))}")
    return {"command": command, "url": url, "curl": curl, "python": python}
