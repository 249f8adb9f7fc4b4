"""Counts, with ast, the places where one concept of the project lives in several rooms (issue 26).

    python scripts/concept_counts.py [--details]

Scans app.py, core/, ui/ and pages/ (never tests/) and prints one line per fact:

- task-keyed dicts: dict literals with at least two keys that are task names (core.entities.TASKS)
- task comparisons: ``==``/``!=``/``in``/``not in`` whose other side is a task name or a tuple of them
- run folder joins: ``<x> / str(<...id>)`` joins (the run folder from its id), and joins of the
  literal layout folders ``"model"``, ``"checkpoints"``, ``"eval"``, ``"lora"``, ``"final"``
- core/ml -> core/store imports: import statements in core/ml naming core.store
- worker launchers: ``subprocess.Popen`` calls in core/training, and the places that write
  the worker module name ``core.training.worker`` into a command
- child environments: dict displays that copy ``os.environ`` (``{**os.environ, ...}``) in core/training
- UCLAB_* reads outside core/config.py, widget ``key="literal"`` outside ui/state.py
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASKS = {"classification", "regression", "token-classification", "causal-lm", "tabular"}
LAYOUT = {"model", "checkpoints", "eval", "lora", "final"}
FACTS = ("task-keyed dicts", "task comparisons", "run folder joins (x / str(id))",
         "layout folder joins ('model', 'checkpoints', ...)", "core/ml -> core/store imports",
         "worker launchers (Popen in core/training)", "worker commands ('core.training.worker')",
         "child environments built (core/training)", "UCLAB_* names outside core/config.py",
         "widget key= literals outside ui/state.py")


def _files() -> Iterator[Path]:
    yield ROOT / "app.py"
    for folder in ("core", "ui", "pages"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations/versions" not in path.as_posix():
                yield path


def is_task_name(node: ast.AST) -> bool:
    """A task name, or a tuple/list/set of task names only (what a task comparison compares with)."""
    if isinstance(node, ast.Constant):
        return node.value in TASKS
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return bool(node.elts) and all(isinstance(e, ast.Constant) and e.value in TASKS
                                       for e in node.elts)
    return False


def dotted(node: ast.AST) -> str:
    """'os.environ' for a dotted name, '' for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ""


def _is_str_of_id(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and dotted(node.func) == "str" and len(node.args) == 1
            and ("id" in dotted(node.args[0]).rsplit(".", 1)[-1]))


def count(path: Path) -> Counter[str]:
    rel = path.relative_to(ROOT).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: Counter[str] = Counter()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = [k for k in node.keys if isinstance(k, ast.Constant) and k.value in TASKS]
            if len(keys) >= 2:
                found["task-keyed dicts"] += 1
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn) for op in node.ops) and any(
                    is_task_name(s) for s in sides):
                found["task comparisons"] += 1
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            if _is_str_of_id(node.right):
                found["run folder joins (x / str(id))"] += 1
            elif isinstance(node.right, ast.Constant) and node.right.value in LAYOUT:
                found["layout folder joins ('model', 'checkpoints', ...)"] += 1
        elif isinstance(node, ast.Import | ast.ImportFrom) and rel.startswith("core/ml/"):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if any(n == "core.store" or n.startswith("core.store.") for n in names):
                found["core/ml -> core/store imports"] += 1
        elif isinstance(node, ast.Call) and rel.startswith("core/training/"):
            if dotted(node.func).endswith("Popen"):
                found["worker launchers (Popen in core/training)"] += 1
        if (isinstance(node, ast.Constant) and node.value == "core.training.worker"
                and rel.startswith("core/")):
            found["worker commands ('core.training.worker')"] += 1
        if (isinstance(node, ast.Dict) and rel.startswith("core/training/")
                and any(k is None and dotted(v) == "os.environ" for k, v in zip(node.keys, node.values,
                                                                                  strict=True))):
            found["child environments built (core/training)"] += 1
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("UCLAB_")
                and node.value.isupper() and rel != "core/config.py"):
            found["UCLAB_* names outside core/config.py"] += 1
        if (isinstance(node, ast.keyword) and node.arg == "key" and rel != "ui/state.py"
                and isinstance(node.value, ast.Constant | ast.JoinedStr)
                and rel.startswith(("ui/", "pages/", "app"))):
            found["widget key= literals outside ui/state.py"] += 1
    return found


def main(argv: list[str]) -> int:
    total: Counter[str] = Counter()
    where: dict[str, Counter[str]] = {}
    for path in _files():
        found = count(path)
        total.update(found)
        for fact, n in found.items():
            where.setdefault(fact, Counter())[path.relative_to(ROOT).as_posix()] += n
    for fact in FACTS:
        print(f"{total[fact]:5d}  {fact}  ({len(where.get(fact, {}))} files)")
        if "--details" in argv:
            for file, n in where.get(fact, Counter()).most_common():
                print(f"         {n:4d} {file}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
