"""The tokenizer read without transformers gives transformers' ids, template and special tokens."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer

from core.ml.light_tokenizer import LightTokenizer
from core.tasks.chat_template import render_chat

TEXTS = ["What is the capital of France?", "  spaces and\nnew lines ", "<|im_start|>user\nHi<|im_end|>\n",
         "数字 0123456789 ünïcödé"]


def test_ids_template_and_special_tokens_are_transformers_own(tiny_chat_folder: Path) -> None:
    light, full = LightTokenizer(tiny_chat_folder), AutoTokenizer.from_pretrained(tiny_chat_folder)
    for text in TEXTS:
        for special in (True, False):
            assert light(text, add_special_tokens=special)["input_ids"] == \
                full(text, add_special_tokens=special)["input_ids"]
        ids = full(text)["input_ids"]
        assert light.decode(ids, skip_special_tokens=True) == full.decode(ids, skip_special_tokens=True)
    assert light.chat_template == full.chat_template
    assert (light.eos_token_id, light.pad_token_id) == (full.eos_token_id, full.pad_token_id)
    turns = [{"role": "user", "content": "Hello"}]
    assert render_chat(light, turns, add_generation_prompt=True) == \
        render_chat(full, turns, add_generation_prompt=True)
    assert light.get_vocab() == full.get_vocab() and len(light) == len(full)
