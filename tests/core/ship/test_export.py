"""Export: the zip holds safe files only and loads back with from_pretrained, predicting the same."""

from __future__ import annotations

import json
import socket
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from fake_runs import add_dataset, add_run

from core.config import get_settings
from core.errors import NotFoundError, RunStateError, UserError
from core.ship import export

LABELS = ["bad", "good"]
TEXTS = ["a good film", "bad plot and bad acting", "fine"]


def _tiny_model(folder: Path) -> None:
    """A 1-layer BERT classifier with a tiny WordPiece vocabulary, saved like a finished run."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "good", "bad", "film", "plot", "and",
             "acting", "fine"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=64, num_labels=2,
                        id2label=dict(enumerate(LABELS)), label2id={lab: i for i, lab in enumerate(LABELS)})
    import torch

    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    torch.nn.init.normal_(model.classifier.weight, std=2.0)  # distinct predictions per text
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "task.json").write_text(json.dumps({"task": "classification", "labels": LABELS,
                                                  "problem_type": "single_label_classification",
                                                  "max_length": 32}))
    (folder / "training_args.bin").write_bytes(b"pickle, never exported")
    (folder / "checkpoints" / "checkpoint-1").mkdir(parents=True)
    (folder / "checkpoints" / "checkpoint-1" / "model.safetensors").write_bytes(b"old")


def _predict_exported(folder: Path) -> np.ndarray:
    """What a user gets with plain from_pretrained on the unzipped folder."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    with torch.no_grad():
        logits = model(**tokenizer(TEXTS, padding=True, return_tensors="pt")).logits
    return logits.softmax(-1).numpy()


def _predict_run(folder: Path) -> np.ndarray:
    """What the app itself predicts with the run's model (the task adapter's loader)."""
    from core.ml.tasks.registry import get_adapter
    from core.ml.tasks.text_classification import predict_frame

    model, tokenizer, meta = get_adapter("classification").load(folder)
    return predict_frame(model, tokenizer, TEXTS, meta)["proba"]


@pytest.fixture
def run_id(home) -> int:
    ds = add_dataset()
    rid = add_run(ds, name="tiny", output_dir="runs/77")
    _tiny_model(get_settings().resolve("runs/77") / "model")
    return rid


def test_zip_loads_back_and_predicts_the_same(run_id, tmp_path) -> None:
    path = export.export_model_zip(run_id)
    assert path.parent == get_settings().home / "exports" and path.suffix == ".zip"
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "unzipped")
    assert {"model.safetensors", "config.json", "tokenizer.json", "label_map.json", "README.md",
            "task.json"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl")) or n.startswith("checkpoints") for n in names)
    out = tmp_path / "unzipped"
    exported, original = _predict_exported(out), _predict_run(get_settings().resolve("runs/77") / "model")
    np.testing.assert_allclose(exported, original, atol=1e-5)
    assert exported.argmax(1).tolist() == original.argmax(1).tolist()
    assert np.ptp(exported[:, 0]) > 1e-3  # the texts really get different predictions
    labels = json.loads((out / "label_map.json").read_text())
    assert labels["id2label"] == {"0": "bad", "1": "good"} and labels["label2id"] == {"bad": 0, "good": 1}
    card = (out / "README.md").read_text()
    for part in ("## Intended use", "## Data", "## Metrics", "## Limits", "accuracy 0.8", "reviews"):
        assert part in card


def test_unfinished_or_missing_runs_are_refused(home) -> None:
    ds = add_dataset()
    with pytest.raises(NotFoundError):
        export.export_model_zip(999)
    running = add_run(ds, status="running", output_dir="runs/5")
    with pytest.raises(RunStateError):
        export.export_model_zip(running)
    no_weights = add_run(ds, output_dir="runs/6")
    with pytest.raises(RunStateError, match="safetensors"):
        export.export_model_zip(no_weights)


def test_push_without_token_or_network_says_so_quickly(run_id, monkeypatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(UserError, match="token"):
        export.push_to_hub(run_id, "me/model", None)
    with pytest.raises(UserError, match="repository name"):
        export.push_to_hub(run_id, "not a repo", "hf_x")
    with _silent_server() as port:  # accepts connections, never answers: a dead proxy
        monkeypatch.setattr(export, "HUB_HOST", ("127.0.0.1", port))
        monkeypatch.setattr(export, "HUB_ENDPOINT", f"http://127.0.0.1:{port}")
        start = time.perf_counter()
        with pytest.raises(UserError, match="cannot be reached"):
            export.push_to_hub(run_id, "me/model", "hf_x", timeout=0.5)
        assert time.perf_counter() - start < 5


@contextmanager
def _silent_server() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def test_hub_reachable_answers_fast_when_nothing_listens() -> None:
    with _silent_server() as port:
        assert export.hub_reachable(1.0, ("127.0.0.1", port)) is True
    start = time.perf_counter()
    assert export.hub_reachable(1.0, ("127.0.0.1", port)) is False  # closed now: refused
    assert export.hub_reachable(1.0, ("no-such-host.invalid", 443)) is False
    assert time.perf_counter() - start < 3
