"""A tiny chat model for fast causal-LM tests: a 2-layer Llama plus a byte-level BPE tokenizer with ChatML.

Unlike ``tests/tiny_models.py`` (MiniLM WordPiece, no chat template), this tokenizer decodes text
exactly and carries SmolLM2's chat template, so chat rendering, streaming and loss masking behave
as with the real model. Building it takes well under a second.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
          "{% endif %}")
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "What is the capital of France? The capital of France is Paris.",
    "Name three fruits: apples, oranges and grapes.",
    "Hello! How can I help you today? Our product helps small teams fine-tune models.",
    "The quick brown fox jumps over the lazy dog. 0123456789, ; : ! ? - ' \"",
    "Once upon a time, in a small village, there lived a wise old wizard.",
]


def build_tokenizer(vocab_size: int = 400) -> object:
    """A byte-level BPE tokenizer (exact decoding) trained on a few sentences, with the ChatML template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    raw.train_from_iterator(CORPUS * 4, trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                  pad_token="<|im_end|>", unk_token="<|endoftext|>")
    tok.chat_template = CHATML
    return tok


def build_tiny_chat_lm(folder: Path, layers: int = 2, hidden: int = 64, seed: int = 0,
                       context: int = 512, scale: float = 1.0) -> Path:
    """Save a tiny random Llama with the tokenizer above into `folder` (safetensors).

    At ``scale`` 1 its greedy answer is one token repeated; weights (not norms) multiplied by about 6
    make the next token depend on the text, so answers differ from prompt to prompt."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tok = build_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=4, intermediate_size=hidden * 2,
                         max_position_embeddings=context, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                         tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    if scale != 1.0:
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "norm" not in name:
                    param.mul_(scale)
    model.generation_config = GenerationConfig(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                               pad_token_id=tok.pad_token_id)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _llama_cpp_missing() -> str | None:
    from core.ml.llama_engine import unavailable_reason

    return unavailable_reason()


# llama.cpp compiles at install time; a developer without a compiler skips its tests, CI never does
# (scripts/install.sh --dev must have built it, so a missing engine fails there instead of hiding)
needs_llama_cpp = pytest.mark.skipif(_llama_cpp_missing() is not None and not os.environ.get("CI"),
                                     reason=f"{_llama_cpp_missing()}")
