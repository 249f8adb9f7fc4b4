"""Chat templates under a time and size budget: the same text as transformers for real templates, a
ChatML fallback with one sentence for runaway ones, in generate and in the datasets chat check."""

from __future__ import annotations

import json
import logging
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest

from core.data import chat_checks
from core.tasks import chat_template
from core.tasks.chat_template import render_chat, render_with
from tests.tiny_chat import CHATML

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"},
            {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "What is 2+2?"}]
# Shapes real templates use: namespace, loop.last, raise_exception, tojson, trim, generation blocks.
REAL = [
    CHATML,
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}<<SYS>>{{ m['content'] | trim }}"
    "<</SYS>>{% elif m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]{% else %} {{ m['content'] }}"
    "{{ eos_token }}{% endif %}{% endfor %}",
    "{% set ns = namespace(system='') %}{% for m in messages %}{% if m.role == 'system' %}"
    "{% set ns.system = m.content %}{% endif %}{% endfor %}{{ ns.system | tojson }}\n"
    "{% for m in messages if m.role != 'system' %}{% if m.role == 'assistant' %}{% generation %}"
    "{{ m.content }}{% endgeneration %}{% else %}{{ m.content }}{% endif %}"
    "{% if not loop.last %}\n{% endif %}{% endfor %}{% if add_generation_prompt %}>>{% endif %}",
]
BOMBS = {
    "nested loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "a loop over a saved range": "{% set r = range(100000) %}{% for i in r %}{% for j in r %}{% endfor %}"
                                 "{% endfor %}",
    "a 3 GB string": "{{ 'A' * 3000000000 }}",
    "a string doubled": "{% set ns = namespace(s='A') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
                        "{% endfor %}{{ ns.s }}",
    "a wide format": "{{ '{:>3000000000}'.format('a') }}",
    "a wide %": "{{ '%3000000000s' % 'a' }}",
    "a wide filter": "{{ 'a' | center(3000000000) }}",
    "a long output": "{% set big = 'A' * 1000000 %}{% for i in range(100000) %}{{ big }}{% endfor %}",
    "a long capture": "{% set big = 'A' * 1000000 %}{% set x %}{% for i in range(100000) %}{{ big }}"
                      "{% endfor %}{% endset %}{{ x | length }}",
    "endless recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
}


@pytest.mark.parametrize("template", REAL)
def test_real_templates_render_as_transformers_renders_them(template: str) -> None:
    from transformers.utils.chat_template_utils import render_jinja_template

    for prompt in (False, True):
        expected = render_jinja_template([MESSAGES], chat_template=template, add_generation_prompt=prompt,
                                         bos_token="<s>", eos_token="</s>")[0][0]
        rendered = render_with(template, MESSAGES, add_generation_prompt=prompt, bos_token="<s>",
                               eos_token="</s>")
        assert rendered.problem is None and rendered.text == expected


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_runaway_template_falls_back_to_chatml_with_a_sentence(name: str) -> None:
    chat_template._broken.clear()
    tracemalloc.start()  # this render's own allocations, whatever the process already holds
    try:
        rendered = render_with(BOMBS[name], MESSAGES, add_generation_prompt=True, seconds=0.5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rendered.text == chat_template.chatml(MESSAGES, add_generation_prompt=True)
    assert rendered.problem and rendered.problem.startswith("The model's chat template ")
    assert "ChatML" in rendered.problem
    assert peak < 200_000_000  # bytes: no 3 GB string was built
    again = render_with(BOMBS[name], MESSAGES, seconds=0.5)  # remembered: no second wait
    assert again.problem == rendered.problem and BOMBS[name] in chat_template._broken


def test_a_template_that_refuses_the_conversation_still_says_why() -> None:
    from jinja2.exceptions import TemplateError

    with pytest.raises(TemplateError, match="roles must alternate"):
        render_with("{{ raise_exception('Conversation roles must alternate') }}", MESSAGES)


def _hostile_model(folder: Path, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "hostile-chat"
    shutil.copytree(folder, copy)
    for name in ("chat_template.jinja",):
        (copy / name).unlink(missing_ok=True)
    config = json.loads((copy / "tokenizer_config.json").read_text())
    config["chat_template"] = BOMBS["nested loops"]
    (copy / "tokenizer_config.json").write_text(json.dumps(config))
    return copy


def test_generate_and_the_datasets_chat_check_survive_a_hostile_template(
        home: Path, tiny_chat_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from core.inference import generation as gen
    from core.models import catalog

    chat_template._broken.clear()
    monkeypatch.setattr(chat_template, "SECONDS", 0.5)
    folder = _hostile_model(tiny_chat_folder, tmp_path)
    key = catalog.add_local_model(str(folder)).key
    gen.clear_loaded()
    settings = gen.GenerationSettings(temperature=0, top_k=0, max_new_tokens=4, engine="exact")
    with caplog.at_level(logging.WARNING):
        record = gen.generate(key, "Hi", store=False, settings=settings)
    assert record.stats["new_tokens"] >= 1
    assert any("chat template was stopped" in r.getMessage() for r in caplog.records)
    gen.clear_loaded()
    chat_template._broken.clear()
    frame = pd.DataFrame({"messages": [json.dumps(MESSAGES)] * 3})
    findings = {f.code: f for f in chat_checks.check_causal_frame(frame, {"format": "messages"},
                                                                  tokenizer=folder, max_length=64)}
    assert "ran past its time budget" in findings["chat_template_fallback"].message
    no_template = type("Tokenizer", (), {"chat_template": None})()
    assert render_chat(no_template, MESSAGES).text.startswith("<|im_start|>system")
