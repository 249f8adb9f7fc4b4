"""GGUF files written by core.ml.gguf_export, loaded by llama.cpp: the exact path's greedy tokens back.

F32 keeps every weight, so llama.cpp must give transformers' greedy tokens one for one (a wrong
tensor name, a missing query/key permutation or a wrong vocabulary would not). Q8_0 rounds the
weights to 8-bit blocks: on the tiny random model the first tokens must still agree.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny_chat import needs_llama_cpp
from transformers import AutoModelForCausalLM, AutoTokenizer

from core.ml import gguf_export, llama_engine

pytestmark = needs_llama_cpp
PROMPT = [{"role": "user", "content": "What is the capital of France?"}]


def _exact(folder: Path, ids: list[int], n: int) -> list[int]:
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    with torch.inference_mode():
        out = model.generate(input_ids=torch.tensor([ids]), max_new_tokens=n, do_sample=False,
                             eos_token_id=None, pad_token_id=0)
    return out[0, len(ids):].tolist()


def _llama(path: Path, ids: list[int], n: int) -> list[int]:
    engine = llama_engine.LlamaEngine(path, context_tokens=256)
    out: list[int] = []
    engine.generate(ids, n, llama_engine.GREEDY, set(), lambda token, _piece: out.append(token) is None)
    engine.close()
    return out


def test_f32_gguf_gives_the_exact_greedy_tokens_and_q8_the_first_ones(tiny_chat_folder: Path,
                                                                     tmp_path: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_chat_folder)
    ids = list(tok.apply_chat_template(PROMPT, add_generation_prompt=True, return_dict=True)["input_ids"])
    expected = _exact(tiny_chat_folder, ids, 24)
    f32 = gguf_export.write_gguf(tiny_chat_folder, tmp_path / "model-F32.gguf", gguf_export.F32)
    assert _llama(f32, ids, 24) == expected
    q8 = gguf_export.write_gguf(tiny_chat_folder, tmp_path / "model-Q8_0.gguf", gguf_export.Q8_0)
    assert q8.stat().st_size < f32.stat().st_size * 0.6  # really 8-bit blocks
    assert _llama(q8, ids, 24)[:6] == expected[:6]
    q4 = gguf_export.write_gguf(tiny_chat_folder, tmp_path / "model-Q4_1.gguf", gguf_export.Q4_1)
    assert len(_llama(q4, ids, 8)) == 8 and q4.stat().st_size < q8.stat().st_size


def test_the_file_carries_the_vocabulary_and_chat_template(tiny_chat_folder: Path, tmp_path: Path) -> None:
    import gguf

    path = gguf_export.write_gguf(tiny_chat_folder, tmp_path / "m.gguf", gguf_export.Q8_0, name="support-bot")
    reader = gguf.GGUFReader(str(path))
    tok = AutoTokenizer.from_pretrained(tiny_chat_folder)
    assert reader.fields["general.architecture"].contents() == "llama"
    assert reader.fields["general.name"].contents() == "support-bot"
    assert reader.fields["tokenizer.ggml.tokens"].contents()[tok.eos_token_id] == "<|im_end|>"
    assert "<|im_start|>" in reader.fields["tokenizer.chat_template"].contents()
    assert reader.fields["tokenizer.ggml.eos_token_id"].contents() == tok.eos_token_id
    assert not list(tmp_path.glob("*.part"))


def test_a_model_llama_cpp_cannot_read_gets_a_sentence(tmp_path: Path) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=64)).save_pretrained(tmp_path)
    reason = gguf_export.unsupported_reason(tmp_path)
    assert reason is not None and "architecture is 'gpt2'" in reason
    with pytest.raises(ValueError, match="only Llama-architecture"):
        gguf_export.write_gguf(tmp_path, tmp_path / "x.gguf")
