"""The architecture of DESIGN §1, recomputed from the source with ast.

Every import counts, the ones inside functions included: a hidden import is still a dependency.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from scripts.concept_counts import TASKS, dotted, is_task_name

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "peft", "accelerate", "safetensors", "optimum", "onnxruntime")
SQL = ("sqlalchemy", "alembic")
# Modules allowed in core/ itself: settings, errors and the shared value types.
ROOT_MODULES = {"core", "core.__main__", "core.config", "core.errors", "core.entities", "core.run_config",
                "core.generation_settings", "core.task_specs", "core.run_folder"}
# Lowest first. A module may import its own package or a package of a lower rank, never a
# higher one and never a sibling of the same rank.
LAYERS: dict[str, int] = {
    "core": 0,
    "core.store": 1, "core.text": 1,
    "core.tasks": 2,
    "core.ml": 3,
    "core.models": 4,
    "core.data": 5,
    "core.inference": 6,
    "core.results": 7,
    "core.training": 8,
    "core.ship": 9,
    "core.serve": 10,
    "core.cli": 11,
    "core.__main__": 12,
    "ui": 13,
    "pages": 14,
    "app": 15,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    paths = [ROOT / "app.py", *sorted((ROOT / "core").rglob("*.py")), *sorted((ROOT / "ui").rglob("*.py")),
             *sorted((ROOT / "pages").rglob("*.py"))]
    return {_module_name(p): p for p in paths if "migrations/versions" not in p.as_posix()}


def _imported_names(source: str, package: str) -> frozenset[str]:
    """Every absolute module name imported anywhere in `source` (relative imports resolved)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(names)


@cache
def _imports(module: str) -> frozenset[str]:
    path = _modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return _imported_names(path.read_text(encoding="utf-8"), package)


def _internal_edges(module: str) -> set[str]:
    """The project modules that `module` imports (a `from pkg import name` of a submodule counts as it)."""
    known = _modules()
    edges: set[str] = set()
    for name in _imports(module):
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module:
            edges.add(name)
    return edges


def _layer(module: str) -> str:
    if module in ROOT_MODULES:
        return "core" if module != "core.__main__" else "core.__main__"
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "core" else parts[0]


def _matches(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _users_of(prefixes: tuple[str, ...]) -> set[str]:
    return {m for m in _modules() if any(_matches(n, prefixes) for n in _imports(m))}


def test_every_package_has_a_known_layer_and_says_what_it_owns() -> None:
    unknown = sorted(m for m in _modules() if _layer(m) not in LAYERS)
    assert unknown == [], "modules outside the known packages (or extra modules in core/ root)"
    for package in (p for p in LAYERS if p.startswith("core.") and p != "core.__main__"):
        init = ROOT / package.replace(".", "/") / "__init__.py"
        if init.exists():
            assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{init} has no docstring"


def test_core_root_holds_only_the_shared_value_modules() -> None:
    loose = sorted(p.name for p in (ROOT / "core").glob("*.py") if _module_name(p) not in ROOT_MODULES)
    assert loose == []


def test_every_import_points_down_the_layers() -> None:
    offenders = []
    for module in _modules():
        here = _layer(module)
        for target in _internal_edges(module):
            there = _layer(target)
            if there != here and LAYERS[there] >= LAYERS[here]:
                offenders.append(f"{module} -> {target}")
    assert sorted(offenders) == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components: every group of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycle_between_modules() -> None:
    assert _cycles({m: _internal_edges(m) for m in _modules()}) == []


def test_the_checks_see_imports_hidden_in_functions_and_the_cycles_they_make() -> None:
    """What the circles of the flat layout looked like: a service and the worker it launches."""
    service = "from core.training import worker\n"
    worker = "def run():\n    from core.training import service\n    return service\n"
    names = _imported_names(worker, "core.training")
    assert "core.training.service" in names
    graph = {"core.training.service": {"core.training.worker"}, "core.training.worker": set()}
    assert _cycles(graph) == []
    graph["core.training.worker"] = {n for n in names if n.count(".") == 2}
    assert "core.training.worker" in _imported_names(service, "core.training")
    assert _cycles(graph) == [["core.training.service", "core.training.worker"]]
    assert _imported_names("from .db import x\n", "core.store") >= {"core.store.db", "core.store.db.x"}


# Task-keyed tables still outside the specs, each for a reason: the data checks are functions of
# core.data (the spec module sits below it), the ONNX usage lines are export code.
TASK_TABLES_LEFT = {"core.data.datasets": 1, "core.ship.export_onnx": 1}


def _task_keyed_dicts(source: str) -> int:
    return sum(1 for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Dict)
               and sum(isinstance(k, ast.Constant) and k.value in TASKS for k in node.keys) >= 2)


def test_facts_about_a_task_live_in_its_spec() -> None:
    """No dictionary literal keyed by task names outside core.task_specs (issue 26)."""
    found = {m: n for m, p in _modules().items() if m != "core.task_specs"
             and (n := _task_keyed_dicts(p.read_text(encoding="utf-8")))}
    assert found == TASK_TABLES_LEFT
    assert _task_keyed_dicts('X = {"classification": 1, "causal-lm": 2}\n') == 1


def test_the_engine_never_imports_the_store() -> None:
    """core.ml is handed a RunFolder and a RunRecorder (core.run_folder); it never opens the database."""
    assert sorted(m for m in _users_of(("core.store",)) if _layer(m) == "core.ml") == []


def test_worker_processes_start_one_way() -> None:
    """Every launcher builds its worker's command and environment with core.training.launch."""
    starters, commands = [], []
    for module, path in _modules().items():
        if module == "core.training.launch":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            call = node.func if isinstance(node, ast.Call) else None
            if isinstance(call, ast.Attribute) and call.attr == "Popen":
                starters.append(module)
            if isinstance(node, ast.Constant) and node.value in ("core.training.worker",
                                                                 "core.training.daemon"):
                commands.append(module)
    assert (starters, commands) == ([], [])


def test_one_function_clears_the_model_cache() -> None:
    """MODELS.clear() is called only by core.inference.cache.clear_models (other names alias it)."""
    callers = []
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            func = node.func if isinstance(node, ast.Call) else None
            if (isinstance(func, ast.Attribute) and func.attr == "clear"
                    and isinstance(func.value, ast.Name) and func.value.id == "MODELS"):
                callers.append(module)
    assert callers == ["core.inference.cache"]


def test_only_the_store_imports_sqlalchemy() -> None:
    assert sorted(m for m in _users_of(SQL) if _layer(m) != "core.store") == []


def test_only_core_ml_imports_torch() -> None:
    assert sorted(m for m in _users_of(HEAVY) if _layer(m) != "core.ml") == []


def test_core_never_imports_streamlit() -> None:
    assert sorted(m for m in _users_of(("streamlit",)) if m.startswith("core")) == []


def test_pages_and_ui_reach_core_only_through_the_services() -> None:
    forbidden = ("core.store", "core.ml", *SQL, *HEAVY)
    offenders = sorted(m for m in _users_of(forbidden) if _layer(m) in ("ui", "pages", "app"))
    assert offenders == []


def test_user_files_are_never_unpickled() -> None:
    risky = ("pickle", "joblib", "dill", "cloudpickle")
    assert sorted(m for m in _users_of(risky) if not m.startswith("tests")) == []
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "core").rglob("*.py"))
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


_VARIABLE = re.compile(r"UCLAB_[A-Z0-9_]+=?")


def _env_variable_names(source: str) -> list[str]:
    """String constants that are exactly an UCLAB_* variable name (a read, a write, an alias), not a
    sentence that mentions one."""
    return [node.value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and _VARIABLE.fullmatch(node.value)]


def test_settings_are_read_only_in_config() -> None:
    """UCLAB_* variables are named only by core.config; everyone else asks it (issue 26)."""
    found = {m: names for m, p in _modules().items() if m != "core.config"
             and (names := _env_variable_names(p.read_text(encoding="utf-8")))}
    assert found == {}
    assert _env_variable_names('os.environ.get("UCLAB_HOST")\nf"UCLAB_HOME={x}"\n"set UCLAB_HOST"\n') == [
        "UCLAB_HOST", "UCLAB_HOME="]


KEY_ARGS = ("key", "key_prefix")


def _literal_start(node: ast.AST) -> bool:
    """Whether a key expression starts with text written in place ("x", f"x{..}", "x" + ...)."""
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        node = node.left
    if isinstance(node, ast.JoinedStr):
        node = node.values[0] if node.values else ast.Constant("")
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _widget_key_literals(source: str) -> list[int]:
    """Lines where a widget key (or key prefix) is written as a literal instead of a ui.state constant:
    a ``key=`` argument, a ``key`` parameter's default, or a module-level string a ``key=`` builds on."""
    tree = ast.parse(source)
    local = {t.id for node in tree.body if isinstance(node, ast.Assign) and _literal_start(node.value)
             for t in node.targets if isinstance(t, ast.Name)}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in KEY_ARGS:
            names = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
            if _literal_start(node.value) or names & local:
                lines.append(node.value.lineno)
        elif isinstance(node, ast.arguments):
            params = [*node.posonlyargs, *node.args][-len(node.defaults):] if node.defaults else []
            pairs = [*zip(params, node.defaults, strict=True),
                     *((a, d) for a, d in zip(node.kwonlyargs, node.kw_defaults, strict=True) if d)]
            lines += [d.lineno for a, d in pairs if a.arg in KEY_ARGS and _literal_start(d)]
    return lines


def test_widget_keys_come_from_ui_state() -> None:
    """Every widget key in pages/ and ui/ is a ui.state constant, or built from one (issue 26)."""
    found = {m: lines for m, p in _modules().items()
             if _layer(m) in ("ui", "pages", "app") and m != "ui.state"
             and (lines := _widget_key_literals(p.read_text(encoding="utf-8")))}
    assert found == {}
    sample = ('KEY = "page_"\ndef f(key: str = "x", *, key_prefix: str = state.P):\n'
              '    st.button("a", key="lit")\n    st.button("b", key=f"lit_{i}")\n'
              '    st.button("c", key=KEY + "c")\n'
              '    st.button("d", key=state.D)\n    st.button("e", key=f"{state.P}{i}")\n'
              '    st.button("f", key=key)\n    max(xs, key=len)\n')
    assert _widget_key_literals(sample) == [2, 3, 4, 5]


def _jsonl_loops(source: str) -> list[int]:
    """Lines where a loop (or comprehension) over ``.splitlines()`` calls ``json.loads``: a JSONL reader."""
    found = []
    for node in ast.walk(ast.parse(source)):
        loops = ([(node.iter, node.body)] if isinstance(node, ast.For) else
                 [(g.iter, [node]) for g in node.generators]
                 if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) else [])
        for iterable, body in loops:
            splits = any(isinstance(n, ast.Attribute) and n.attr == "splitlines" for n in ast.walk(iterable))
            loads = any(isinstance(n, ast.Call) and dotted(n.func) in ("json.loads", "loads")
                        for part in body for n in ast.walk(part))
            if splits and loads:
                found.append(node.lineno)
    return found


def test_one_jsonl_reader() -> None:
    """JSON Lines are read by core.text.jsonl.read_jsonl only (issue 26: there were three readers)."""
    found = {m: lines for m, p in _modules().items() if m != "core.text.jsonl"
             and (lines := _jsonl_loops(p.read_text(encoding="utf-8")))}
    assert found == {}
    sample = ("for n, line in enumerate(text.splitlines()):\n    rows.append(json.loads(line))\n"
              "rows = [json.loads(x) for x in t.splitlines() if x]\nfor x in items:\n    json.loads(x)\n")
    assert _jsonl_loops(sample) == [1, 3]


# Comparisons with task names left in the screens and the evidence, each a per-task code path (which
# view draws an evaluation, which form options a task has, a model family), not a fact a spec knows.
# A new fact about a task goes into core.task_specs; this table may only shrink (issue 26).
TASK_COMPARISONS_LEFT = {
    "pages.evaluation": 7, "pages.review": 1, "ui.finetune_form": 3, "ui.dataset_form": 1,
    "ui.models_view": 1, "ui.playground_classify": 1, "ui.playground_generate": 1, "ui.playground_ner": 1,
    "ui.playground_tabular": 1, "ui.run_view": 1, "core.results.answer_quality": 1,
    "core.results.compare": 1, "core.results.evaluation": 1, "core.results.report_figures": 1,
    "core.results.side_by_side": 1,
}


def _task_comparisons(source: str) -> int:
    return sum(1 for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Compare)
               and any(isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn) for op in node.ops)
               and any(is_task_name(side) for side in (node.left, *node.comparators)))


def test_screens_and_evidence_ask_the_spec_not_the_task_name() -> None:
    found = {m: n for m, p in _modules().items()
             if _layer(m) in ("pages", "ui", "app", "core.results")
             and (n := _task_comparisons(p.read_text(encoding="utf-8")))}
    assert found == TASK_COMPARISONS_LEFT
    sample = 'a = task == "causal-lm"\nb = t in ("tabular", "regression")\nc = t == "x"\n'
    assert _task_comparisons(sample) == 2
