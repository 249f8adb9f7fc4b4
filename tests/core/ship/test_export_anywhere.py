"""Exports load outside the app: a plain script (no `core` importable) predicts what the app predicts.

Tabular MLP and gradient boosting, classification and regression, go through the export's own
``load_tabular.py``; a text-regression export through plain ``from_pretrained``, in real units.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_runs import add_dataset, add_run
from sklearn.datasets import load_diabetes, load_iris

from core.config import get_settings
from core.ml.tabular_model import TabularPredictor, encode_targets, make_config, train_mlp
from core.ml.tasks.registry import get_adapter
from core.ship import export
from core.tasks.tabular import Preprocessor
from core.tasks.tabular_gbm import GBM_KEY, GradientBoostingModel

# Runs a script with the repository out of reach: no PYTHONPATH, and `import core` fails.
OUTSIDE = "import runpy, sys; sys.modules['core'] = None; sys.argv = sys.argv[1:]; " \
          "runpy.run_path(sys.argv[0], run_name='__main__')"


def _table(loader, kind: str) -> pd.DataFrame:
    data = loader(as_frame=True)
    frame = data.frame.rename(columns={"target": "label"}).sample(n=120, random_state=0)
    frame = frame.reset_index(drop=True)
    if kind == "classification":
        frame["label"] = [str(data.target_names[int(i)]) for i in frame["label"]]
    # A categorical column with a missing value exercises the one-hot and fill steps too.
    frame.insert(0, "colour", ["red", "blue", None, "green"] * 30)
    frame.loc[3, frame.columns[1]] = np.nan
    return frame


def _save_model(folder: Path, frame: pd.DataFrame, kind: str, model_key: str) -> TabularPredictor:
    features = [c for c in frame.columns if c != "label"]
    types = {c: "categorical" if c == "colour" else "numeric" for c in features}
    pre = Preprocessor.fit(frame, types)
    x = pre.transform(frame)
    y = frame["label"].astype(str).tolist() if kind == "classification" else frame["label"].astype(float)
    if model_key == GBM_KEY:
        labels = sorted(set(y)) if kind == "classification" else ()
        model = GradientBoostingModel.fit(x, list(y), kind, labels)
    else:
        config = make_config(kind, x.shape[1], list(y), (16, 8))
        model, _ = train_mlp(x, encode_targets(config, list(y)), config, epochs=5)
    predictor = TabularPredictor(pre, model)
    labels = list(predictor.labels)
    meta = {"problem_type": "single_label_classification" if kind == "classification" else "regression",
            "kind": kind, "labels": labels, "features": features, "feature_types": types, "model": model_key}
    get_adapter("tabular").save(model, pre, folder, meta)
    return predictor


def _unzipped(run_id: int, dest: Path) -> Path:
    with zipfile.ZipFile(export.export_model_zip(run_id)) as zf:
        zf.extractall(dest)
    return dest


@pytest.mark.parametrize(("loader", "kind", "model_key"), [
    (load_iris, "classification", "mlp"), (load_diabetes, "regression", "mlp"),
    (load_iris, "classification", GBM_KEY), (load_diabetes, "regression", GBM_KEY)])
def test_a_tabular_export_predicts_the_same_with_its_own_loader(home, tmp_path, loader, kind, model_key):
    frame = _table(loader, kind)
    run_id = add_run(add_dataset(task="tabular"), task="tabular", model_key=model_key, output_dir="runs/9")
    predictor = _save_model(get_settings().resolve("runs/9") / "model", frame, kind, model_key)
    out = _unzipped(run_id, tmp_path / "export")
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "load_tabular.py", "README.md", "preprocessor.json"} <= names
    assert ("model.skops" if model_key == GBM_KEY else "model.safetensors") in names
    assert not [n for n in names if n.endswith((".pkl", ".pickle", ".joblib", ".bin", ".pt"))]
    config = json.loads((out / "config.json").read_text())
    assert config["format"] == "use-case-lab/tabular" and config["kind"] == kind

    rows = frame.drop(columns="label").iloc[:40]
    rows.to_csv(tmp_path / "rows.csv", index=False)
    done = subprocess.run([sys.executable, "-E", "-s", "-c", OUTSIDE, "load_tabular.py",
                           str(tmp_path / "rows.csv")], cwd=out, capture_output=True, text=True,
                          check=False, env={"PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode == 0, done.stderr
    printed = pd.read_csv(io.StringIO(done.stdout))
    app = predictor.predict_frame(rows)
    if kind == "classification":
        assert printed["predicted"].tolist() == app["predicted"].tolist()
        columns = [f"p:{label}" for label in predictor.labels]
        np.testing.assert_allclose(printed[columns].to_numpy(), app[columns].to_numpy(float), atol=1e-5)
        assert printed["predicted"].nunique() > 1
    else:
        np.testing.assert_allclose(printed["predicted"], app["predicted"], rtol=1e-5, atol=1e-3)
        assert np.ptp(printed["predicted"]) > 1  # real units, not standardised outputs

    from huggingface_hub import ModelCard

    card = ModelCard.load(out / "README.md")  # the Hub's own parser reads the header back
    assert card.data.pipeline_tag.startswith("tabular-") and "load_tabular" in card.text
    assert [(r.dataset_split, r.metric_type, r.metric_value) for r in card.data.eval_results][0] == (
        "test", "accuracy", 0.8)


def test_the_loader_refuses_a_file_missing_a_feature(home, tmp_path):
    frame = _table(load_iris, "classification")
    run_id = add_run(add_dataset(task="tabular"), task="tabular", model_key="mlp", output_dir="runs/4")
    _save_model(get_settings().resolve("runs/4") / "model", frame, "classification", "mlp")
    out = _unzipped(run_id, tmp_path / "export")
    with open(tmp_path / "rows.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["colour"], ["red"]])
    done = subprocess.run([sys.executable, "load_tabular.py", str(tmp_path / "rows.csv")], cwd=out,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 2 and "has no column" in done.stderr and "Traceback" not in done.stderr


def _tiny_regressor(folder: Path) -> tuple[list[str], np.ndarray]:
    """A tiny BERT regressor saved through the adapter (mean 50, std 20); the app's own predictions."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    from core.ml.tasks.text_classification import predict_frame

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "good", "bad", "film", "plot"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64, num_labels=1, problem_type="regression")).eval()
    torch.nn.init.normal_(model.classifier.weight, std=2.0)
    meta = {"problem_type": "regression", "target_mean": 50.0, "target_std": 20.0, "max_length": 32}
    texts = ["a good film", "bad plot", "a bad bad film"]
    in_memory = predict_frame(model, tokenizer, texts, meta)["value"]  # what evaluation scores
    adapter = get_adapter("regression")
    adapter.save(model, tokenizer, folder, meta)
    head_before = model.classifier.weight.detach().clone()
    _, _, saved_meta = adapter.load(folder)
    assert saved_meta["target_scaling"] == {"folded_into_head": True, "mean": 50.0, "std": 20.0}
    assert torch.equal(model.classifier.weight, head_before)  # saving left the live model alone
    return texts, in_memory


def test_a_text_regression_export_gives_real_units_with_plain_from_pretrained(home, tmp_path):
    run_id = add_run(add_dataset(task="regression"), task="regression", output_dir="runs/3")
    folder = get_settings().resolve("runs/3") / "model"
    texts, in_memory = _tiny_regressor(folder)
    from core.ml.tasks.text_classification import predict_frame

    model, tokenizer, meta = get_adapter("regression").load(folder)
    np.testing.assert_allclose(predict_frame(model, tokenizer, texts, meta)["value"], in_memory, rtol=1e-5)

    out = _unzipped(run_id, tmp_path / "export")
    script = ("import json, sys, torch\n"
              "from transformers import AutoModelForSequenceClassification, AutoTokenizer\n"
              "tok = AutoTokenizer.from_pretrained('.')\n"
              "model = AutoModelForSequenceClassification.from_pretrained('.').eval()\n"
              "with torch.no_grad():\n"
              "    out = model(**tok(json.loads(sys.argv[1]), padding=True, return_tensors='pt')).logits\n"
              "print(json.dumps(out[:, 0].tolist()))\n")
    (tmp_path / "plain.py").write_text(script)
    done = subprocess.run([sys.executable, "-E", "-s", "-c", OUTSIDE, str(tmp_path / "plain.py"),
                           json.dumps(texts)], cwd=out, capture_output=True, text=True, check=False,
                          env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}, timeout=300)
    assert done.returncode == 0, done.stderr
    plain = np.asarray(json.loads(done.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(plain, in_memory, rtol=1e-4)
    assert plain.min() > 10  # around the mean of 50: the head's standardised outputs sit near 0
