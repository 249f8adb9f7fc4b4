"""``uclab serve`` over a converted causal-LM run starts without torch or transformers (their import was
most of a server's start): a fresh process builds the app, lists the model and answers a chat request
with llama.cpp, and neither module is in its ``sys.modules``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tiny_chat import needs_llama_cpp

ROOT = Path(__file__).resolve().parents[3]
START = """
import json, sys
from fastapi.testclient import TestClient
from core.serve import server
from core.serve.app import ServeOptions
from core.serve.backend import resolve_served

said = []
server.say = said.append
client = TestClient(server.build(resolve_served(run_id=int(sys.argv[1])), ServeOptions()),
                    base_url="http://127.0.0.1")
models = client.get("/v1/models")
reply = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "Hello!"}],
                                                   "max_tokens": 5, "temperature": 0})
print(json.dumps({"models": models.status_code, "chat": reply.status_code, "said": said,
                  "engine": reply.json().get("system_fingerprint"),
                  "heavy": sorted(m for m in ("torch", "transformers") if m in sys.modules)}))
"""


@needs_llama_cpp
def test_serving_a_converted_run_imports_neither_torch_nor_transformers(home, tiny_chat_folder) -> None:
    from served_runs import causal_run

    from core.inference import generation as gen

    run_id = causal_run(tiny_chat_folder)
    source = gen.ensure_gguf(gen.resolve_model(f"run:{run_id}"))  # converted once, as a finished run is
    assert source.gguf is not None and source.gguf.is_file()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", START, str(run_id)], capture_output=True, text=True,
                          env=env, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["models"] == 200 and facts["chat"] == 200
    assert facts["engine"] == "uclab-llama.cpp"
    assert facts["heavy"] == []
    assert facts["said"][0].startswith("Loading ") and "Ready in" in facts["said"][-1]
