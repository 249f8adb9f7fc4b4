"""ONNX exports of encoder runs (fp32 and int8), and the side-by-side table the evaluation page shows.

An export (``core.ship.export_formats``) holds ``model.onnx`` (or ``model_int8.onnx``), the
tokenizer, ``label_map.json``, ``task.json`` and a README saying how to run it with onnxruntime.
``measure_onnx`` runs the PyTorch model, the ONNX fp32 model and the int8 model on the run's test
split in one process and stores latency, throughput, file size and the test metric in
``runs/<id>/onnx-benchmark.json``.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.config import get_settings, staging_prefix
from core.errors import RunStateError, UserError
from core.results.evaluation import read_predictions
from core.results.onnx_benchmark import BENCH_FILE, stored_measurement, subset_note, summary
from core.run_folder import RunFolder
from core.ship.export import _facts, exports_dir, label_map, model_folder
from core.task_specs import SPECS

__all__ = ["BENCH_FILE", "build_onnx", "measure_onnx", "stored_measurement", "subset_note", "summary"]

ONNX_TASKS = tuple(spec.task for spec in SPECS if "onnx" in spec.exports)  # core.task_specs
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                   "merges.txt", "vocab.json", "task.json", "config.json")
LATENCY_EXAMPLES, MAX_EXAMPLES = 32, 400

_README = """# {name}: ONNX export ({variant})

Exported by Use Case Lab from run {run_id} (`{task}`, fine-tuned from `{model_key}`).
`{file}` takes `{inputs}` (int64, shape batch x sequence) and returns `logits`{shape}.
{quant}
## How to load it

```python
import json, numpy as np, onnxruntime as ort
from transformers import AutoTokenizer

folder = "."  # the unzipped export
tokenizer = AutoTokenizer.from_pretrained(folder)
session = ort.InferenceSession(f"{{folder}}/{file}", providers=["CPUExecutionProvider"])
names = [i.name for i in session.get_inputs()]
enc = tokenizer(["Type a text here"], truncation=True, max_length={max_length}, padding=True,
                return_tensors="np")
logits = session.run(None, {{n: enc[n].astype(np.int64) for n in names}})[0]
id2label = json.load(open(f"{{folder}}/label_map.json"))["id2label"]
{usage}
```
"""
_USAGE = {
    "classification": "probs = np.exp(logits - logits.max(-1, keepdims=True))\n"
                      "probs /= probs.sum(-1, keepdims=True)\n"
                      "print(id2label[str(int(probs[0].argmax()))], float(probs[0].max()))",
    "token-classification": "tags = [id2label[str(int(i))] for i in logits[0].argmax(-1)]\n"
                            "# one tag per sub-word token; a word takes its first sub-word's tag",
}


def _check(facts: dict[str, Any]) -> None:
    if facts["task"] not in ONNX_TASKS:
        raise RunStateError(f"Run {facts['id']} is a {facts['task']} run; ONNX exports are made for "
                            "classification and token-classification runs (a causal-LM run exports "
                            "for Ollama).")


def build_onnx(run_id: int, dest: Path, *, int8: bool = False) -> dict[str, Any]:
    """Export the run's model to ONNX (and int8) in dest; return the facts about the run."""
    from core.inference import ner_predict, predict
    from core.ml.onnx_export import INT8_FILE, MODEL_FILE, export_onnx, quantize_int8

    facts = _facts(run_id)
    _check(facts)
    folder = model_folder(facts["output_dir"])
    loaded = (ner_predict if facts["task"] == "token-classification" else predict).loaded_model(run_id)
    model, tokenizer, meta, lock = loaded
    with lock:
        fp32 = export_onnx(copy.deepcopy(model), tokenizer, dest)
    if int8:
        quantize_int8(fp32, dest / INT8_FILE)
        fp32.unlink()
    for name in TOKENIZER_FILES:
        if (folder / name).is_file():
            shutil.copy2(folder / name, dest / name)
    (dest / "label_map.json").write_text(json.dumps(label_map(folder), indent=2))
    file = INT8_FILE if int8 else MODEL_FILE
    inputs = [n for n in ("input_ids", "attention_mask", "token_type_ids")
              if n in tokenizer.model_input_names]
    quant = ("\nWeights are int8 (onnxruntime dynamic quantization): about 4x smaller, usually faster on "
             "CPU, with a small change in the scores; see the evaluation page's table.\n" if int8 else "")
    shape = " (batch x sequence x labels)" if facts["task"] == "token-classification" else " (batch x labels)"
    (dest / "README.md").write_text(_README.format(
        name=facts["name"] or f"run {run_id}", variant="int8" if int8 else "fp32", run_id=run_id,
        task=facts["task"], model_key=facts["model_key"], file=file, inputs="`, `".join(inputs), shape=shape,
        quant=quant, max_length=int(meta.get("max_length", 128)), usage=_USAGE[facts["task"]]),
        encoding="utf-8")
    return facts


def _timed(fn: Any, texts: list[str]) -> tuple[np.ndarray, float, float]:
    """Predictions, ms per example one at a time (first LATENCY_EXAMPLES), examples/s in batches."""
    fn(texts[:2])  # warm-up
    start = time.perf_counter()
    for text in texts[:LATENCY_EXAMPLES]:
        fn([text])
    latency = (time.perf_counter() - start) * 1000 / min(len(texts), LATENCY_EXAMPLES)
    start = time.perf_counter()
    out = fn(texts)
    return out, latency, len(texts) / (time.perf_counter() - start)


def _stored_accuracy(run_id: int, rows: Any) -> float | None:
    """The run's stored test predictions scored on these rows (a check on the PyTorch row) if they align."""
    try:
        stored = read_predictions(run_id, "test")
    except UserError:
        return None
    if len(stored) < len(rows) or not {"label", "predicted"} <= set(stored):
        return None
    head = stored.head(len(rows))
    if "text" in head and head["text"].astype(str).tolist() != rows["text"].astype(str).tolist():
        return None
    return float((head["label"].astype(str) == head["predicted"].astype(str)).mean())


def measure_onnx(run_id: int) -> dict[str, Any]:
    """PyTorch vs ONNX fp32 vs ONNX int8 on the run's test split, measured side by side; stored as JSON."""
    from core.data.datasets import load_dataset_frame
    from core.inference import predict
    from core.ml import device as devices
    from core.ml.onnx_export import INT8_FILE, MODEL_FILE, OnnxModel
    from core.ml.tasks.text_classification import predict_frame
    from core.store.runs import get_run
    from core.tasks.metrics import classification_metrics

    info = get_run(run_id)
    if info.task != "classification":
        raise RunStateError(f"Run {run_id} is a {info.task} run; the ONNX table compares classifiers.")
    full = load_dataset_frame(info.dataset_id, "test")
    test = full.head(MAX_EXAMPLES)
    if test.empty:
        raise RunStateError(f"Run {run_id}'s dataset has no test rows to measure on.")
    texts = test["text"].astype(str).tolist()
    model, tokenizer, meta, lock = predict.loaded_model(run_id)
    labels, max_length = list(meta["labels"]), int(meta.get("max_length", 128))
    index = {lab: i for i, lab in enumerate(labels)}
    truth = [index.get(str(v), -1) for v in test["label"]]
    rows = []
    with tempfile.TemporaryDirectory(dir=exports_dir(), prefix=staging_prefix()) as tmp:
        folder = Path(tmp)
        build_onnx(run_id, folder)
        from core.ml.onnx_export import quantize_int8

        quantize_int8(folder / MODEL_FILE, folder / INT8_FILE)
        weights = sum(p.stat().st_size for p in model_folder(info.output_dir).glob("*.safetensors"))
        variants = [("PyTorch fp32", lambda t: predict_frame(model, tokenizer, t, meta, 32)["proba"],
                     weights)]
        for name, file in (("ONNX fp32", MODEL_FILE), ("ONNX int8", INT8_FILE)):
            session = OnnxModel(folder / file, tokenizer, threads=devices.choose().threads)
            variants.append((name, lambda t, s=session: s.probabilities(t, max_length),
                             (folder / file).stat().st_size))
        with lock:
            for name, fn, size in variants:
                proba, latency, throughput = _timed(fn, texts)
                metrics = classification_metrics(truth, list(np.asarray(proba).argmax(1)), labels)
                rows.append({"model": name, "latency_ms": round(latency, 3),
                             "examples_per_s": round(throughput, 1),
                             "size_mb": round(size / 1e6, 2), "accuracy": metrics.get("accuracy"),
                             "macro_f1": metrics.get("macro_f1")})
    result = {"run_id": run_id, "examples": len(texts), "test_rows": len(full),
              "evaluation_accuracy": _stored_accuracy(run_id, test),
              "latency_examples": min(len(texts), LATENCY_EXAMPLES),
              "threads": devices.choose().threads, "cpu": str(devices.machine_facts()["cpu"]),
              "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "rows": rows}
    path = RunFolder.of(get_settings().runs_dir, run_id).root / BENCH_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    return result


