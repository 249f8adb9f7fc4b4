"""ONNX for encoder runs: export a classifier or tagger, quantize it to int8, run it with onnxruntime.

``optimum``'s ONNX exporter (``optimum-onnx`` 0.1.0) requires transformers < 4.58, so the export
uses ``torch.onnx.export`` (the TorchScript exporter) with dynamic batch and sequence axes, and
int8 comes from onnxruntime's dynamic quantization (weights int8, activations quantized per call).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

OPSET = 17
MODEL_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"


def _inputs(tokenizer: Any, model: Any) -> tuple[list[str], dict[str, torch.Tensor]]:
    enc = tokenizer(["a short example", "a slightly longer example text"], padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in enc]
    device = next(model.parameters()).device
    return names, {n: enc[n].to(device) for n in names}


def export_onnx(model: Any, tokenizer: Any, folder: Path) -> Path:
    """Write ``model.onnx`` (fp32, inputs named as the tokenizer's, output ``logits``) into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    model = model.float().cpu().eval()
    names, sample = _inputs(tokenizer, model)
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["logits"] = {0: "batch", 1: "sequence"} if _per_token(model) else {0: "batch"}
    path = folder / MODEL_FILE
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the TorchScript exporter's tracer warnings are expected here
        torch.onnx.export(model, tuple(sample[n] for n in names), str(path), input_names=names,
                          output_names=["logits"], dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    return path


def _per_token(model: Any) -> bool:
    return "TokenClassification" in type(model).__name__


def quantize_int8(source: Path, target: Path) -> Path:
    """Dynamic int8 quantization of an ONNX model's weights (MatMul/Gemm), written to target."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    return target


class OnnxModel:
    """An ONNX file on onnxruntime's CPU provider, fed by a transformers tokenizer."""

    def __init__(self, path: Path, tokenizer: Any, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = [i.name for i in self.session.get_inputs()]
        self.tokenizer = tokenizer

    def logits(self, texts: list[str], max_length: int = 128) -> np.ndarray:
        """Logits of a batch of texts (padded to its longest)."""
        enc = self.tokenizer(texts, truncation=True, max_length=max_length, padding=True, return_tensors="np")
        return self.session.run(None, {n: enc[n].astype(np.int64) for n in self.names})[0]

    def probabilities(self, texts: list[str], max_length: int = 128, batch_size: int = 32) -> np.ndarray:
        """Softmax class probabilities of a sequence classifier, batch by batch."""
        chunks = []
        for start in range(0, len(texts), batch_size):
            logits = self.logits(texts[start:start + batch_size], max_length).astype(np.float64)
            logits -= logits.max(axis=-1, keepdims=True)
            exp = np.exp(logits)
            chunks.append(exp / exp.sum(axis=-1, keepdims=True))
        return np.concatenate(chunks) if chunks else np.zeros((0, 0))
