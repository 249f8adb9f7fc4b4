"""Tiny models built from a config for fast tests: random weights, the bundled MiniLM tokenizer.

`build_tiny_encoder(folder)` writes a 1-layer BERT, `build_tiny_causal_lm(folder)` a 1-layer Llama;
both save safetensors weights plus a tokenizer, like a real model folder (each takes well under a second).
"""

from __future__ import annotations

import shutil
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")
VOCAB_SIZE = 30522  # the MiniLM WordPiece vocabulary


def copy_minilm_tokenizer(folder: Path) -> None:
    """Copy the bundled MiniLM tokenizer files into the folder."""
    from core.models.assets import minilm_dir

    folder.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        source = minilm_dir() / name
        if source.is_file():
            shutil.copy(source, folder / name)


def build_tiny_encoder(folder: Path) -> Path:
    """A 1-layer BERT (hidden 32) saved as safetensors with a tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=VOCAB_SIZE, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, pad_token_id=0)
    BertModel(config).save_pretrained(folder)
    copy_minilm_tokenizer(folder)
    return folder


def build_tiny_causal_lm(folder: Path) -> Path:
    """A 1-layer Llama (hidden 32) saved as safetensors with a tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB_SIZE, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=1, intermediate_size=64, max_position_embeddings=256,
                         pad_token_id=0, bos_token_id=101, eos_token_id=102, tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(folder)
    copy_minilm_tokenizer(folder)
    return folder
