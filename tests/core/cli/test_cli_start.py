"""Every `uclab` command (`uclab serve` first) builds its parser without pandas, the store or
scikit-learn: the CLI's options come from light modules (the export formats from the task specs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("pandas", "sqlalchemy", "sklearn", "torch", "transformers")


def test_the_parser_is_built_without_heavy_modules() -> None:
    code = ("import json, sys\nfrom core.cli import build_parser\nbuild_parser()\n"
            f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_export_choices_are_the_export_service_formats() -> None:
    from core.cli import build_parser
    from core.ship.export_formats import FORMATS

    parser = build_parser()
    args = parser.parse_args(["export", "1", "--format", "ollama"])
    assert args.format == "ollama"
    sub = next(a for a in parser._subparsers._group_actions if a.choices)  # noqa: SLF001
    option = next(a for a in sub.choices["export"]._actions if "--format" in a.option_strings)  # noqa: SLF001
    assert set(option.choices) == set(FORMATS)
