"""A transformers Llama folder written as a GGUF file, with the llama.cpp project's own ``gguf`` package.

The file is what llama.cpp (the generation engine of ``core.ml.llama_engine``), Ollama and LM Studio
load: the model's shape as GGUF metadata, its byte-level BPE vocabulary and merges, its chat template,
and the weights under llama.cpp's tensor names (query and key rows permuted to llama.cpp's rotary
layout, as the project's converter does). Weights are stored as ``F16``/``BF16`` (16-bit, what the
app's engine answers with), ``Q8_0`` (8-bit blocks), ``Q4_1`` (4-bit blocks, what the bundled
SmolLM2 file uses) or ``F32``;
norms and tensors whose rows do not divide into blocks stay F32. Only the Llama architecture
(SmolLM2 and friends) is written; ``unsupported_reason`` says why another model is not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

Q8_0, Q4_1, F16, BF16, F32 = "Q8_0", "Q4_1", "F16", "BF16", "F32"
TYPES = (Q8_0, Q4_1, F16, BF16, F32)
_TOKEN_NORMAL, _TOKEN_CONTROL, _TOKEN_USER, _TOKEN_UNUSED = 1, 3, 4, 5
_LAYER_NAMES = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
                "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
                "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
                "mlp.down_proj": "ffn_down"}


def _config(folder: Path) -> dict[str, Any]:
    return json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))


def unsupported_reason(folder: Path) -> str | None:
    """None when the folder can be written as GGUF, else a sentence saying why not."""
    folder = Path(folder)
    if not (folder / "config.json").is_file() or not any(folder.glob("*.safetensors")):
        return f"'{folder.name}' holds no transformers model with safetensors weights"
    config = _config(folder)
    if config.get("model_type") != "llama":
        return (f"its architecture is '{config.get('model_type')}', and only Llama-architecture models "
                "(such as SmolLM2) are converted for llama.cpp")
    if config.get("attention_bias") or config.get("mlp_bias"):
        return "its layers have bias terms, which llama.cpp's Llama graph does not read"
    if config.get("rope_scaling") or (config.get("rope_parameters") or {}).get("rope_type", "default") \
            not in ("default", None):
        return "it uses a scaled rotary embedding, which this converter does not write"
    if not (folder / "tokenizer.json").is_file():
        return "its tokenizer is not a byte-level BPE tokenizer.json"
    model = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8")).get("model") or {}
    if model.get("type") != "BPE":
        return f"its tokenizer is {model.get('type')}, and only byte-level BPE tokenizers are converted"
    return None


def _permute(weights: np.ndarray, heads: int) -> np.ndarray:
    """transformers' rotary layout (halves) -> llama.cpp's (interleaved pairs), per head."""
    return (weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _tensors(folder: Path, config: dict[str, Any]) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    raw: dict[str, np.ndarray] = {}
    for file in sorted(folder.glob("*.safetensors")):
        try:
            part = load_file(str(file))
        except (TypeError, ValueError):  # bf16 weights: numpy has no bfloat16, read them through torch
            from safetensors.torch import load_file as load_torch

            part = {k: v.float().numpy() for k, v in load_torch(str(file)).items()}
        raw.update(part)
    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads") or heads)
    out: dict[str, np.ndarray] = {}
    for name, value in raw.items():
        value = value.astype(np.float32)
        if name == "model.embed_tokens.weight":
            out["token_embd.weight"] = value
        elif name == "model.norm.weight":
            out["output_norm.weight"] = value
        elif name == "lm_head.weight":
            if not config.get("tie_word_embeddings", False):
                out["output.weight"] = value
        elif name.startswith("model.layers."):
            rest = name[len("model.layers."):]
            index, _, inner = rest.partition(".")
            module = inner.removesuffix(".weight")
            if module not in _LAYER_NAMES or not inner.endswith(".weight"):
                raise ValueError(f"unexpected tensor '{name}'")
            if module == "self_attn.q_proj":
                value = _permute(value, heads)
            elif module == "self_attn.k_proj":
                value = _permute(value, kv_heads)
            out[f"blk.{index}.{_LAYER_NAMES[module]}.weight"] = value
        elif not name.endswith("rotary_emb.inv_freq"):
            raise ValueError(f"unexpected tensor '{name}'")
    return out


def _vocabulary(folder: Path, vocab_size: int) -> tuple[list[str], list[int], list[str], Any]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    by_id = {i: t for t, i in tok.get_vocab().items()}
    added = {i: t for i, t in tok.added_tokens_decoder.items()}
    tokens, types = [], []
    for i in range(max(vocab_size, len(by_id))):
        if i in added:
            tokens.append(added[i].content)
            types.append(_TOKEN_CONTROL if added[i].special else _TOKEN_USER)
        elif i in by_id:
            tokens.append(by_id[i])
            types.append(_TOKEN_NORMAL)
        else:  # the embedding matrix is larger than the vocabulary
            tokens.append(f"[PAD{i}]")
            types.append(_TOKEN_UNUSED)
    model = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    return tokens, types, merges, tok


def write_gguf(folder: Path, out: Path, qtype: str = Q8_0, *, name: str = "", pre: str | None = None) -> Path:
    """Write the Llama model in ``folder`` as ``out`` (a GGUF file), atomically; returns ``out``.

    ``pre`` names llama.cpp's pre-tokenizer (``"smollm"`` for SmolLM2's vocabulary); without it
    llama.cpp uses its default split, and callers that hand it token ids (as the app does) are unaffected.
    """
    import gguf

    folder, out = Path(folder), Path(out)
    reason = unsupported_reason(folder)
    if reason:
        raise ValueError(reason)
    if qtype not in TYPES:
        raise ValueError(f"unknown GGUF type '{qtype}'; choose one of {', '.join(TYPES)}")
    config = _config(folder)
    heads = int(config["num_attention_heads"])
    hidden = int(config["hidden_size"])
    head_dim = int(config.get("head_dim") or hidden // heads)
    tensors = _tensors(folder, config)
    tokens, types, merges, tok = _vocabulary(folder, int(tensors["token_embd.weight"].shape[0]))
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    writer = gguf.GGUFWriter(str(partial), "llama")
    writer.add_name(name or folder.name)
    writer.add_context_length(int(config.get("max_position_embeddings", 2048)))
    writer.add_embedding_length(hidden)
    writer.add_block_count(int(config["num_hidden_layers"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(heads)
    writer.add_head_count_kv(int(config.get("num_key_value_heads") or heads))
    writer.add_rope_freq_base(float(config.get("rope_theta")
                                    or (config.get("rope_parameters") or {}).get("rope_theta", 10000.0)))
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-5)))
    writer.add_rope_dimension_count(head_dim)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_vocab_size(len(tokens))
    writer.add_file_type({Q8_0: gguf.LlamaFileType.MOSTLY_Q8_0, Q4_1: gguf.LlamaFileType.MOSTLY_Q4_1,
                          F16: gguf.LlamaFileType.MOSTLY_F16, BF16: gguf.LlamaFileType.MOSTLY_BF16,
                          F32: gguf.LlamaFileType.ALL_F32}[qtype])
    writer.add_tokenizer_model("gpt2")
    if pre:
        writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for key, token_id in (("bos", tok.bos_token_id), ("eos", tok.eos_token_id), ("unk", tok.unk_token_id),
                          ("pad", tok.pad_token_id)):
        if token_id is not None:
            getattr(writer, f"add_{key}_token_id")(int(token_id))
    writer.add_add_bos_token(False)
    writer.add_add_space_prefix(False)
    if getattr(tok, "chat_template", None):
        writer.add_chat_template(str(tok.chat_template))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for tensor_name, value in tensors.items():
        data, dtype = _quantize(tensor_name, value, qtype)
        writer.add_tensor(tensor_name, data, raw_dtype=dtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.replace(out)
    return out


def _quantize(name: str, value: np.ndarray, qtype: str) -> tuple[np.ndarray, Any]:
    import gguf

    kind = gguf.GGMLQuantizationType
    if value.ndim == 1 or qtype == F32:
        return value, kind.F32
    if qtype == F16:
        return value.astype(np.float16), kind.F16
    if qtype == BF16:
        return gguf.quants.quantize(value, kind.BF16), kind.BF16
    target = kind.Q8_0 if qtype == Q8_0 or name == "token_embd.weight" else kind.Q4_1
    block, _ = gguf.GGML_QUANT_SIZES[target]
    if value.shape[-1] % block:
        return value, kind.F32  # rows that do not divide into blocks stay exact
    return gguf.quants.quantize(value, target), target
