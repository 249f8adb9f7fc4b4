"""The project installs as a package: pyproject's ranges admit requirements.txt's pins, and the wheel
holds `core` (with its migrations and bundled samples) and the `uclab` command."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        spec = line.split("#", 1)[0].strip()
        if spec:
            name, version = spec.split("==")
            pins[canonicalize_name(Requirement(name).name)] = version.strip()
    return pins


def test_every_runtime_dependency_is_pinned_within_its_declared_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = [spec for name, specs in project["optional-dependencies"].items()
              if name not in ("dev", "llamacpp") for spec in specs]
    # Runtime extras (postgres) are pinned in requirements.txt too, so CI tests them.
    declared = {canonicalize_name(r.name): r for r in map(Requirement, [*project["dependencies"], *extras])}
    pins = _pins(ROOT / "requirements.txt")
    assert set(declared) == set(pins), "pyproject.toml and requirements.txt list different packages"
    outside = {name: pins[name] for name, req in declared.items() if pins[name] not in req.specifier}
    assert outside == {}
    dev = {canonicalize_name(r.name): r for r in map(Requirement, project["optional-dependencies"]["dev"])}
    dev_pins = _pins(ROOT / "requirements-dev.txt")
    assert {n: v for n, v in dev_pins.items() if n not in dev or v not in dev[n].specifier} == {}
    # llama.cpp compiles at install time, so it has its own file (scripts/install.sh installs it)
    engine = {canonicalize_name(r.name): r
              for r in map(Requirement, project["optional-dependencies"]["llamacpp"])}
    engine_pins = _pins(ROOT / "requirements-llamacpp.txt")
    assert set(engine) == set(engine_pins) and all(engine_pins[n] in engine[n].specifier for n in engine)
    assert project["scripts"]["uclab"] == "core.cli:main"


def test_the_wheel_holds_core_and_the_uclab_command(tmp_path: Path) -> None:
    source = tmp_path / "src"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(ROOT / "core", source / "core", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                             "-q", "-w", str(tmp_path), str(source)], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("use_case_lab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"core", wheel.name.split("-")[0] + "-0.1.0.dist-info"}
    migrations = "core/store/migrations"
    for needed in ("core/cli/__init__.py", f"{migrations}/env.py", f"{migrations}/script.py.mako",
                   f"{migrations}/versions/0001_initial_schema.py",
                   "core/data/samples/support_tickets_ner.jsonl"):
        assert needed in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt")))
    assert "uclab = core.cli:main" in entry_points.decode()
