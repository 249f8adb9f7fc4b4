"""Loading helpers, folder safety checks, speed probes, and the two bundled models working offline."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from sqlalchemy import select
from tiny_models import build_tiny_causal_lm, build_tiny_encoder, copy_minilm_tokenizer

from core.errors import ModelError
from core.ml import models
from core.models import catalog
from core.store.db import session_scope
from core.store.orm import ModelProbe

LABELS = {0: "neg", 1: "neu", 2: "pos"}


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny") / "tiny-bert")


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny") / "tiny-llama")


def test_folder_facts_are_read_without_loading(tiny_encoder: Path, tiny_lm: Path) -> None:
    config = models.read_config(tiny_encoder)
    assert models.model_family(config) == "encoder" and models.context_length(config) == 128
    assert models.model_family(models.read_config(tiny_lm)) == "causal-lm"
    loaded = models.load_causal_lm(tiny_lm)
    assert models.count_parameters(tiny_lm) == loaded.num_parameters()  # tied embeddings counted once
    assert models.folder_size(tiny_lm) > (tiny_lm / "model.safetensors").stat().st_size


def test_loaders_refuse_unsafe_folders(tmp_path: Path) -> None:
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}), encoding="utf-8")
    (folder / "model.pt").write_bytes(b"\x80\x04")
    with pytest.raises(ModelError, match="only pickle weights"):
        models.load_sequence_classifier(folder, num_labels=2)
    (folder / "model.pt").unlink()
    with pytest.raises(ModelError, match="has no model weights"):
        models.check_folder_is_safe(folder)
    (folder / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="cannot be read as JSON"):
        models.check_folder_is_safe(folder)


def test_tokenizer_only_folder_loads_but_not_with_remote_code(tmp_path: Path) -> None:
    folder = tmp_path / "tok"
    copy_minilm_tokenizer(folder)
    assert models.load_tokenizer(folder)("hello")["input_ids"][0] == 101
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["auto_map"] = {"AutoTokenizer": ["tok.EvilTokenizer", None]}
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelError, match="needs its own Python code"):
        models.load_tokenizer(folder)


def test_sequence_and_token_classifiers_get_the_right_heads(tiny_encoder: Path) -> None:
    tok = models.load_tokenizer(tiny_encoder)
    batch = tok(["good film", "a dull and slow film"], padding=True, return_tensors="pt")
    clf = models.load_sequence_classifier(tiny_encoder, 3, LABELS, {v: k for k, v in LABELS.items()})
    assert clf.config.id2label[2] == "pos"
    assert clf(**batch).logits.shape == (2, 3)
    reg = models.load_sequence_classifier(tiny_encoder, 1, problem_type="regression")
    assert reg.config.problem_type == "regression" and reg(**batch).logits.shape == (2, 1)
    tagger = models.load_token_classifier(tiny_encoder, {0: "O", 1: "B-ORG"}, {"O": 0, "B-ORG": 1})
    assert tagger(**batch).logits.shape == (2, batch["input_ids"].shape[1], 2)


def test_causal_lm_loads_in_fp32_and_generates(tiny_lm: Path) -> None:
    model = models.load_causal_lm(tiny_lm)
    tok = models.load_tokenizer(tiny_lm)
    assert model.dtype == torch.float32 and not model.training and tok.pad_token is not None
    ids = tok("hello there", return_tensors="pt")["input_ids"]
    out = model.generate(ids, max_new_tokens=4, min_new_tokens=4, do_sample=False,
                         pad_token_id=tok.pad_token_id)
    assert out.shape[1] == ids.shape[1] + 4


def test_probe_stores_figures_with_date_and_device(home: Path, tiny_encoder: Path, tiny_lm: Path) -> None:
    enc = catalog.add_local_model(str(tiny_encoder))
    probed = catalog.probe_model(enc.key)
    speed = probed.speed
    assert speed["measure"] == "train_samples_per_s" and speed["unit"] == "samples/s" and speed["value"] > 0
    assert [f["measure"] for f in speed["figures"]] == ["train_samples_per_s", "predict_samples_per_s"]
    assert speed["device"].startswith(("cpu (", "cuda (")) and speed["measured_at"][:2] == "20"
    lm = catalog.probe_model(catalog.add_local_model(str(tiny_lm)).key)
    assert lm.speed["measure"] == "generate_tokens_per_s" and lm.speed["value"] > 0
    with session_scope() as session:
        rows = session.scalars(select(ModelProbe).order_by(ModelProbe.id)).all()
        assert [(r.model_key, r.measure) for r in rows] == [
            (enc.key, "train_samples_per_s"), (enc.key, "predict_samples_per_s"),
            (lm.key, "generate_tokens_per_s")]
        assert rows[0].details["batch_size"] == 16 and rows[0].details["tokens"] == 64
        assert rows[2].details["new_tokens"] == 16


@pytest.mark.slow
def test_bundled_models_load_offline_and_answer(home: Path, converted_smollm2: Path) -> None:
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    minilm = catalog.model_path(catalog.MINILM_KEY)
    tok = models.load_tokenizer(minilm)
    clf = models.load_sequence_classifier(minilm, 3, LABELS, {v: k for k, v in LABELS.items()})
    batch = tok(["I loved it.", "Terrible.", "It was fine, I guess."], padding=True, return_tensors="pt")
    with torch.inference_mode():
        assert clf(**batch).logits.shape == (3, 3)

    smol = catalog.model_path(catalog.SMOLLM2_KEY)
    assert smol == converted_smollm2 and catalog.get_model(catalog.SMOLLM2_KEY).ready
    tok = models.load_tokenizer(smol)
    lm = models.load_causal_lm(smol)
    ids = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        out = lm.generate(**ids, max_new_tokens=16, do_sample=False, pad_token_id=tok.eos_token_id)
    answer = tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in answer
