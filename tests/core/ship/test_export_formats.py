"""Exports loaded back outside the app: ONNX (fp32, int8) with onnxruntime, Ollama folders with transformers.

Tolerances: ONNX fp32 probabilities within 1e-4 of the app's PyTorch predictions; int8 within 0.05
(weights rounded to 8 bits); the Ollama folder's greedy text is identical to the app's.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from served_runs import causal_run, encoder_run
from tiny_chat import needs_llama_cpp
from transformers import AutoTokenizer

from core.errors import ConfigError, RunStateError
from core.inference import generation as gen
from core.inference import ner_predict, predict
from core.ship import export_onnx
from core.ship.export_formats import export_run

TEXTS = ["the film was great and lovely", "the film was awful", "dull"]


@pytest.fixture(autouse=True)
def _fresh(home):
    predict.clear_cache()
    ner_predict.clear_models()
    yield
    predict.clear_cache()
    ner_predict.clear_models()


def _onnx_probabilities(folder: Path, file: str, texts: list[str]) -> np.ndarray:
    """What a product does with the export: tokenizer + onnxruntime, nothing from this project."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    session = ort.InferenceSession(str(folder / file), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    enc = tokenizer(texts, truncation=True, max_length=32, padding=True, return_tensors="np")
    logits = session.run(None, {n: enc[n].astype(np.int64) for n in names})[0]
    exp = np.exp(logits - logits.max(-1, keepdims=True))
    return exp / exp.sum(-1, keepdims=True)


def test_onnx_exports_of_a_classifier_give_the_apps_predictions(tmp_path) -> None:
    run_id = encoder_run("classification")
    app = predict.predict_texts(run_id, TEXTS)[["p:neg", "p:pos"]].to_numpy()
    path = export_run(run_id, "onnx")
    assert path.name == f"run-{run_id}-onnx.zip"
    zipfile.ZipFile(path).extractall(tmp_path / "fp32")
    names = {p.name for p in (tmp_path / "fp32").iterdir()}
    assert {"model.onnx", "tokenizer.json", "label_map.json", "README.md"} <= names
    labels = json.loads((tmp_path / "fp32" / "label_map.json").read_text())["id2label"]
    assert labels == {"0": "neg", "1": "pos"}
    assert np.abs(_onnx_probabilities(tmp_path / "fp32", "model.onnx", TEXTS) - app).max() < 1e-4
    assert "onnxruntime" in (tmp_path / "fp32" / "README.md").read_text()
    folder = export_run(run_id, "onnx-int8", tmp_path / "int8")  # a folder this time
    assert (folder / "model_int8.onnx").is_file() and not (folder / "model.onnx").exists()
    assert np.abs(_onnx_probabilities(folder, "model_int8.onnx", TEXTS) - app).max() < 0.05
    with pytest.raises(ConfigError, match="already holds files"):
        export_run(run_id, "onnx", folder)


def test_the_side_by_side_measurement_is_stored_for_the_evaluation_page() -> None:
    run_id = encoder_run("classification")
    result = export_onnx.measure_onnx(run_id)
    assert [r["model"] for r in result["rows"]] == ["PyTorch fp32", "ONNX fp32", "ONNX int8"]
    for row in result["rows"]:
        assert row["latency_ms"] > 0 and row["examples_per_s"] > 0 and row["size_mb"] > 0
        assert 0 <= row["accuracy"] <= 1
    torch_row, fp32_row, _ = result["rows"]
    assert fp32_row["accuracy"] == torch_row["accuracy"]  # the same model, to float rounding
    assert export_onnx.stored_measurement(run_id) == result and result["examples"] == 8
    line = export_onnx.summary(result)
    assert line.startswith("int8 against PyTorch on the same 8 test rows: one at a time ")
    int8 = result["rows"][2]
    assert f"{torch_row['examples_per_s']:.1f} → {int8['examples_per_s']:.1f} examples/s" in line
    assert f"accuracy {torch_row['accuracy'] * 100:.1f} % → {int8['accuracy'] * 100:.1f} %" in line


def test_onnx_export_of_a_tagger_keeps_its_token_logits(tmp_path) -> None:
    import torch
    from transformers import AutoModelForTokenClassification

    run_id = encoder_run("token-classification")
    folder = export_run(run_id, "onnx", tmp_path / "tagger")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    enc = tokenizer(["Anna paid Dell .", "Bob"], padding=True, return_tensors="np")
    logits = session.run(None, {i.name: enc[i.name].astype(np.int64) for i in session.get_inputs()})[0]
    model = AutoModelForTokenClassification.from_pretrained(home_model(run_id)).eval()
    with torch.no_grad():
        expected = model(**{k: torch.tensor(v) for k, v in enc.items()}).logits.numpy()
    assert logits.shape == expected.shape and np.abs(logits - expected).max() < 1e-4


def home_model(run_id: int) -> Path:
    from core.config import get_settings

    return get_settings().runs_dir / str(run_id) / "model"


@needs_llama_cpp
def test_ollama_export_is_gguf_that_llama_cpp_loads_with_the_apps_greedy_text(tiny_chat_folder,
                                                                              tmp_path) -> None:
    run_id = causal_run(tiny_chat_folder)
    folder = export_run(run_id, "ollama", tmp_path / "ollama")
    modelfile = (folder / "Modelfile").read_text()
    assert "FROM ./model-F16.gguf" in modelfile and "<|im_start|>{{ .Role }}" in modelfile
    assert 'PARAMETER stop "<|im_end|>"' in modelfile and "model-Q4_1.gguf" in modelfile
    assert "ollama create" in (folder / "README.md").read_text()
    assert not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin"))
    sizes = [(folder / f"model-{q}.gguf").stat().st_size for q in ("F16", "Q8_0", "Q4_1")]
    assert sizes == sorted(sizes, reverse=True)
    greedy = gen.GenerationSettings(temperature=0, max_new_tokens=10)
    app = gen.generate(f"run:{run_id}", "Hello!", store=False, settings=greedy)
    exact = gen.generate(f"run:{run_id}", "Hello!", store=False,
                         settings=gen.GenerationSettings(temperature=0, max_new_tokens=10, engine="exact"))
    assert app.stats["engine"] == "llama.cpp" and exact.stats["engine"] == "exact"
    # what a product does with the export: llama.cpp on the file, nothing from this project
    from llama_cpp import Llama

    tokenizer = AutoTokenizer.from_pretrained(folder)
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "Hello!"}], add_generation_prompt=True,
                                        return_dict=True)["input_ids"]
    llm = Llama(model_path=str(folder / "model-F16.gguf"), n_ctx=256, verbose=False)
    out = []
    for token in llm.generate(list(ids), temp=0.0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0):
        if token == tokenizer.eos_token_id or len(out) == 10:
            break
        out.append(token)
    text = tokenizer.decode(out, skip_special_tokens=True)
    assert text == app.text  # the app's default engine answers with this very file
    assert text == exact.text  # 16-bit weights: the exact engine's greedy answer


def test_formats_refuse_runs_they_do_not_fit(tiny_chat_folder) -> None:
    causal = causal_run(tiny_chat_folder)
    with pytest.raises(RunStateError, match="causal-LM run exports for Ollama"):
        export_run(causal, "onnx")
    with pytest.raises(ConfigError, match="Unknown export format 'gguf'"):
        export_run(causal, "gguf")
    tagger = encoder_run("token-classification")
    with pytest.raises(RunStateError, match="exports as ONNX"):
        export_run(tagger, "ollama")


def test_the_cli_exports_and_prints_one_json_document(tmp_path, capsys) -> None:
    from core.cli import main

    run_id = encoder_run("classification")
    assert main(["export", str(run_id), "--format", "onnx-int8", "--out", str(tmp_path / "m.zip"),
                 "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["path"] == str(tmp_path / "m.zip") and "model_int8.onnx" in zipfile.ZipFile(
        tmp_path / "m.zip").namelist()
    assert main(["export", "999", "--format", "onnx"]) == 2
    assert "no run with id 999" in capsys.readouterr().err
