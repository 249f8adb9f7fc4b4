"""A causal-LM run for Ollama: the merged model as safetensors plus a ``Modelfile`` (template, stops).

Ollama imports a safetensors Llama folder itself (``ollama create NAME -f Modelfile``). The chat
template is written in Ollama's Go template syntax when the model uses ChatML (SmolLM2 does);
otherwise Ollama reads the template from ``tokenizer_config.json``. GGUF is not written: no HF to
GGUF converter is published on PyPI (``gguf`` ships the file format, not ``convert_hf_to_gguf``).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from core.errors import RunStateError
from core.ship.export import SAFE_SUFFIXES, _facts

CHATML_TEMPLATE = """{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""

_README = """# {name}: for Ollama (merged safetensors + Modelfile)

Exported by Use Case Lab from run {run_id}, fine-tuned from `{model_key}`; any LoRA adapters are
merged into the weights, so this folder is a plain transformers model too.

## Ollama

```sh
cd this-folder && ollama create {slug} -f Modelfile && ollama run {slug} "Hello!"
```

## transformers

```python
from transformers import pipeline

chat = pipeline("text-generation", model=".")  # this folder
print(chat([{{"role": "user", "content": "Hello!"}}], max_new_tokens=64)[0]["generated_text"][-1])
```

## An OpenAI-compatible server

```sh
uclab serve --run {run_id}     # then: openai.OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="none")
```
"""


def _stops(folder: Path, tokenizer: Any) -> list[str]:
    config = json.loads((folder / "generation_config.json").read_text()) \
        if (folder / "generation_config.json").is_file() else {}
    ids = config.get("eos_token_id", tokenizer.eos_token_id)
    ids = ids if isinstance(ids, list) else [ids]
    stops = [tokenizer.convert_ids_to_tokens(int(i)) for i in ids if i is not None]
    if "<|im_start|>" in tokenizer.get_vocab():
        stops += ["<|im_end|>", "<|im_start|>"]
    return list(dict.fromkeys(s for s in stops if s))


def _default_system(tokenizer: Any) -> str | None:
    """The system message the chat template adds when a conversation has none (SmolLM2 has one)."""
    try:
        text = tokenizer.apply_chat_template([{"role": "user", "content": "\u2063"}], tokenize=False,
                                             add_generation_prompt=True)
    except Exception:  # noqa: BLE001 - a template that needs more than one user turn: no default
        return None
    found = re.search(r"<\|im_start\|>system\n(.*?)<\|im_end\|>", text, re.S)
    return found.group(1) if found else None


def modelfile(tokenizer: Any, folder: Path, params: dict[str, Any] | None = None) -> str:
    """The Modelfile text: FROM this folder, the chat template, stop tokens and sampling defaults."""
    lines = ["# Build with:  ollama create NAME -f Modelfile", "FROM ."]
    template = getattr(tokenizer, "chat_template", None) or ""
    if "<|im_start|>" in template:
        lines.append(f'TEMPLATE """{CHATML_TEMPLATE}"""')
        system = _default_system(tokenizer)
        if system:
            lines.append(f'SYSTEM """{system}"""')
    for stop in _stops(folder, tokenizer):
        lines.append(f"PARAMETER stop {json.dumps(stop)}")
    for key, value in (params or {"temperature": 0.7, "top_p": 0.95}).items():
        lines.append(f"PARAMETER {key} {value}")
    return "\n".join(lines) + "\n"


def build_ollama(run_id: int, dest: Path) -> dict[str, Any]:
    """Write the merged model, its tokenizer, a Modelfile and a README into dest."""
    from core.inference.generation import merge_lora
    from core.ml.models import load_tokenizer

    facts = _facts(run_id)
    if facts["task"] != "causal-lm":
        raise RunStateError(f"Run {run_id} is a {facts['task']} run; Ollama exports are for causal-LM runs "
                            "(an encoder run exports as ONNX).")
    folder = merge_lora(run_id)
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in SAFE_SUFFIXES and path.name.lower() != "readme.md":
            shutil.copy2(path, dest / path.name)
    tokenizer = load_tokenizer(folder)
    (dest / "Modelfile").write_text(modelfile(tokenizer, folder), encoding="utf-8")
    slug = re.sub(r"[^a-z0-9-]+", "-", (facts["name"] or "").lower()).strip("-") or f"run-{run_id}"
    (dest / "README.md").write_text(_README.format(name=facts["name"] or f"run {run_id}", run_id=run_id,
                                                   model_key=facts["model_key"], slug=slug), encoding="utf-8")
    return facts
