"""The import rules of DESIGN §1, read from the source with ast."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "peft", "accelerate", "safetensors")
UI_FORBIDDEN = ("sqlalchemy", "core.store.orm", "core.store.db", "core.ml", *HEAVY)


def _imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _matches(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _files(*folders: str) -> list[Path]:
    out: list[Path] = []
    for folder in folders:
        target = ROOT / folder
        out.extend([target] if target.is_file() else sorted(target.rglob("*.py")))
    return out


def test_core_never_imports_streamlit() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in _files("core")
                 if any(_matches(n, ("streamlit",)) for n in _imports(p))]
    assert offenders == []


def test_pages_and_ui_stay_above_the_services() -> None:
    offenders = {str(p.relative_to(ROOT)): sorted(n for n in _imports(p) if _matches(n, UI_FORBIDDEN))
                 for p in _files("app.py", "pages", "ui")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_only_core_ml_imports_torch_at_module_level() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in _files("core")
                 if "core/ml/" not in p.as_posix() and p.name != "worker.py"
                 and any(_matches(n, HEAVY) for n in _imports(p, top_level_only=True))]
    assert offenders == []


def test_user_files_are_never_unpickled() -> None:
    risky = ("pickle", "joblib", "dill", "cloudpickle")
    offenders = [str(p.relative_to(ROOT)) for p in _files("core", "pages", "ui")
                 if any(_matches(n, risky) for n in _imports(p))]
    sources = "\n".join(p.read_text(encoding="utf-8") for p in _files("core"))
    assert offenders == []
    assert "trust_remote_code=True" not in sources
    assert "weights_only=False" not in sources


@pytest.mark.parametrize("module", ["core.data.datasets", "core.models.catalog", "core.training.service",
                                    "core.results.evaluation"])
def test_services_import_without_torch(module: str) -> None:
    code = (f"import sys, importlib; importlib.import_module('{module}'); "
            "print(','.join(m for m in ('torch', 'transformers') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == ""
