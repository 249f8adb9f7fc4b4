"""Fault walk, part 6: `generate` on a model folder whose chat template nests two range(100000)
loops. Before the template budget it never returned; now it answers with the ChatML fallback
and one sentence (logged) after the 2 s budget.

    UCLAB_HOME=/tmp/walk-template timeout 60 python scripts/fault_walk_template.py
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

HOSTILE = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


def main() -> None:
    from tiny_chat import build_tiny_chat_lm

    from core.inference import generation as gen
    from core.models import catalog

    folder = build_tiny_chat_lm(Path(os.environ["UCLAB_HOME"]) / "hostile")
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["chat_template"] = HOSTILE
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    key = catalog.add_local_model(str(folder)).key
    start = time.time()
    settings = gen.GenerationSettings(temperature=0, top_k=0, max_new_tokens=4, engine="exact")
    record = gen.generate(key, "Hi", store=False, settings=settings)
    print(f"generated {record.stats['new_tokens']} tokens in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
