"""A causal LM as an ONNX graph with its KV cache as inputs and outputs, run by onnxruntime.

``export_decoder`` traces one decoding step (new tokens + the past keys/values -> last logits + the
present keys/values) with the TorchScript exporter, once per model folder. ``OrtCausalLM`` looks
enough like a transformers model for ``core.ml.decode.decode``: it is called with ``input_ids``,
``attention_mask`` and a cache from ``new_cache()``, and returns an object with ``logits``.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from transformers import DynamicCache

FILE = "decoder.onnx"
_export_lock = threading.Lock()


class _Step(torch.nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model, self.layers = model, model.config.num_hidden_layers

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                *past: torch.Tensor) -> tuple[torch.Tensor, ...]:
        cache = DynamicCache(config=self.model.config)
        for i in range(self.layers):
            cache.update(past[2 * i], past[2 * i + 1], i)
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         past_key_values=cache, use_cache=True, logits_to_keep=1)
        present = [t for layer in out.past_key_values.layers for t in (layer.keys, layer.values)]
        return (out.logits, *present)


def _shape(config: Any) -> tuple[int, int, int]:
    heads = config.num_key_value_heads or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return config.num_hidden_layers, heads, head_dim


def cache_folder(folders: list[Path], root: Path) -> Path:
    """Where the ONNX graph of a model (its folder, plus a LoRA adapter's) is kept, keyed by their weights."""
    key = [(str(Path(f).resolve()), sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns)
                                            for p in Path(f).glob("*.safetensors"))) for f in folders]
    return root / hashlib.sha256(repr(key).encode()).hexdigest()[:16]


def export_decoder(model: Any, folder: Path) -> Path:
    """Write ``decoder.onnx`` for the model into folder (once; later calls return the existing file)."""
    path = folder / FILE
    with _export_lock:
        if path.is_file():
            return path
        folder.mkdir(parents=True, exist_ok=True)
        layers, heads, head_dim = _shape(model.config)
        step = _Step(model.float().eval())
        past = [torch.zeros(1, heads, 3, head_dim) for _ in range(2 * layers)]
        names = ["input_ids", "attention_mask", "position_ids"] + [f"past_{i}" for i in range(2 * layers)]
        outputs = ["logits"] + [f"present_{i}" for i in range(2 * layers)]
        axes: dict[str, dict[int, str]] = {"input_ids": {0: "batch", 1: "new"},
                                           "attention_mask": {0: "batch", 1: "total"},
                                           "position_ids": {0: "batch", 1: "new"}, "logits": {0: "batch"}}
        axes |= {f"past_{i}": {0: "batch", 2: "past"} for i in range(2 * layers)}
        axes |= {f"present_{i}": {0: "batch", 2: "total"} for i in range(2 * layers)}
        sample = (torch.tensor([[1, 2]]), torch.ones(1, 5, dtype=torch.long), torch.tensor([[3, 4]]), *past)
        partial = folder / (FILE + ".part")
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # tracer warnings about Python control flow are expected
            torch.onnx.export(step, sample, str(partial), input_names=names, output_names=outputs,
                              dynamic_axes=axes, opset_version=17, dynamo=False)
        partial.replace(path)
        return path


class OrtCausalLM:
    """One decoding step at a time on onnxruntime's CPU provider (fp32, the same weights)."""

    def __init__(self, path: Path, config: Any, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        # no busy-waiting between steps: spinning threads starve everything else on a shared CPU
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.config = config
        self.layers, self.heads, self.head_dim = _shape(config)

    def new_cache(self) -> SimpleNamespace:
        """An empty KV cache for one generation."""
        return SimpleNamespace(past=None)

    def __call__(self, *, input_ids: torch.Tensor, attention_mask: torch.Tensor, past_key_values: Any,
                 **_: Any) -> SimpleNamespace:
        batch, new = input_ids.shape
        if past_key_values.past is None:
            past_key_values.past = [np.zeros((batch, self.heads, 0, self.head_dim), np.float32)
                                    for _ in range(2 * self.layers)]
        seen = past_key_values.past[0].shape[2]
        positions = np.broadcast_to(np.arange(seen, seen + new, dtype=np.int64), (batch, new)).copy()
        feed = {"input_ids": input_ids.numpy().astype(np.int64),
                "attention_mask": attention_mask.numpy().astype(np.int64), "position_ids": positions}
        feed |= {f"past_{i}": t for i, t in enumerate(past_key_values.past)}
        logits, *present = self.session.run(None, feed)
        past_key_values.past = present
        return SimpleNamespace(logits=torch.from_numpy(logits))
