"""A causal-LM run for Ollama, llama.cpp and LM Studio: GGUF files plus a ``Modelfile`` (template, stops).

The run's model (LoRA merged) is written as GGUF by ``core.ml.gguf_export`` with the llama.cpp
project's ``gguf`` package: ``model-F16.gguf`` (the file the app's llama.cpp engine answers with,
reused from the run folder: the app's greedy answers), ``model-Q8_0.gguf`` (8-bit, about half the
size) and ``model-Q4_1.gguf`` (4-bit, a third). The Modelfile points at the F16 file and names the
smaller ones (``ollama create NAME -f Modelfile``); the chat template is
written in Ollama's Go template syntax when the model uses ChatML (SmolLM2 does). A model llama.cpp
cannot read (not a Llama architecture) is exported as its safetensors folder, which Ollama imports
itself, with a sentence in the README. The full-precision safetensors are the ``zip`` export.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from core.errors import RunStateError
from core.ship.export import SAFE_SUFFIXES, _facts
from core.tasks.chat_template import render_chat

CHATML_TEMPLATE = """{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""

F16, Q8, Q4 = "F16", "Q8_0", "Q4_1"
_GGUF_README = """The model is in GGUF, the file llama.cpp, Ollama and LM Studio read, in three sizes:

- `model-F16.gguf`: 16-bit weights, the file the app's llama.cpp engine answers with, so greedy
  answers are the app's (the Modelfile uses it);
- `model-Q8_0.gguf`: 8-bit blocks, half the size; greedy answers can drift from the app's after some
  tokens;
- `model-Q4_1.gguf`: 4-bit blocks, a third of the size, drifting further.

Any LoRA adapters are merged into the weights. The full-precision safetensors are the app's `zip`
export.

## llama.cpp (Python)

```python
from llama_cpp import Llama

llm = Llama("model-F16.gguf")
print(llm.create_chat_completion([{"role": "user", "content": "Hello!"}], max_tokens=64))
```
"""
_SAFETENSORS_README = """The model is a plain transformers folder (safetensors): it is not written as GGUF
because {problem}. Ollama imports the folder itself.
"""

_README = """# {name}: for Ollama and llama.cpp

Exported by Use Case Lab from run {run_id}, fine-tuned from `{model_key}`.

{formats}
## Ollama

```sh
cd this-folder && ollama create {slug} -f Modelfile && ollama run {slug} "Hello!"
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
        text = render_chat(tokenizer, [{"role": "user", "content": "\u2063"}],  # under the template budget
                           add_generation_prompt=True).text
    except Exception:  # noqa: BLE001 - a template that needs more than one user turn: no default
        return None
    found = re.search(r"<\|im_start\|>system\n(.*?)<\|im_end\|>", text, re.S)
    return found.group(1) if found else None


def modelfile(tokenizer: Any, folder: Path, params: dict[str, Any] | None = None, source: str = ".") -> str:
    """The Modelfile text: FROM the GGUF file (or this folder), the chat template, stops and sampling."""
    lines = ["# Build with:  ollama create NAME -f Modelfile", f"FROM {source}"]
    if source.endswith(f"{F16}.gguf"):
        lines[1:1] = [f"# Smaller files whose greedy answers drift from the app's: FROM ./model-{Q8}.gguf "
                      f"(8-bit, half the size) or FROM ./model-{Q4}.gguf (4-bit, a third)"]
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
    """Write the model as GGUF (8- and 4-bit), a Modelfile and a README into dest."""
    from core.config import get_settings
    from core.inference.generation import merge_lora, write_run_gguf
    from core.ml.gguf_export import unsupported_reason
    from core.ml.models import load_tokenizer

    facts = _facts(run_id)
    if facts["task"] != "causal-lm":
        raise RunStateError(f"Run {run_id} is a {facts['task']} run; Ollama exports are for causal-LM runs "
                            "(an encoder run exports as ONNX).")
    folder = merge_lora(run_id)
    dest.mkdir(parents=True, exist_ok=True)
    problem = unsupported_reason(folder)
    if problem is None:
        run_dir = get_settings().resolve(facts["output_dir"])
        for qtype in (F16, Q8, Q4):
            gguf = write_run_gguf(folder, run_dir, facts["model_key"], qtype)
            shutil.copy2(gguf, dest / f"model-{qtype}.gguf")
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                     "chat_template.jinja"):
            if (folder / name).is_file():
                shutil.copy2(folder / name, dest / name)
        source, formats = f"./model-{F16}.gguf", _GGUF_README
    else:
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in SAFE_SUFFIXES and path.name.lower() != "readme.md":
                shutil.copy2(path, dest / path.name)
        source, formats = ".", _SAFETENSORS_README.format(problem=problem)
    tokenizer = load_tokenizer(folder)
    (dest / "Modelfile").write_text(modelfile(tokenizer, folder, source=source), encoding="utf-8")
    slug = re.sub(r"[^a-z0-9-]+", "-", (facts["name"] or "").lower()).strip("-") or f"run-{run_id}"
    (dest / "README.md").write_text(_README.format(name=facts["name"] or f"run {run_id}", run_id=run_id,
                                                   model_key=facts["model_key"], slug=slug, formats=formats),
                                    encoding="utf-8")
    return facts
