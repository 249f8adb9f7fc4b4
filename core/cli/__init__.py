"""`python -m core`: the same services as the pages, for scripts, benchmarks and CI.

Every command accepts ``--json`` and then prints exactly one JSON document on stdout.
Errors go to stderr as one sentence: exit code 2 for bad input, 1 for a failure.
Each command group lives in its own module with a ``register(subparsers)`` function that
adds its sub-commands and sets ``handler`` (a function ``(args) -> object``) on each.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

from core.cli import (
    baselines,
    datasets,
    evaluate,
    export,
    generate,
    models,
    preferences,
    report,
    runs,
    serve,
    sweep,
    worker,
)
from core.errors import UserError

# The command groups, imported for real: a renamed module fails here, never as a missing command.
COMMAND_MODULES = (datasets, models, runs, evaluate, baselines, generate, report, serve, export, worker,
                   sweep, preferences)


def _jsonable(value: Any) -> Any:
    if type(value).__name__ == "DataFrame":  # before to_dict, which would give columns, not rows
        return json.loads(value.to_json(orient="records", date_format="iso"))
    if hasattr(value, "to_dict"):
        return _jsonable(value.to_dict())
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value


def print_result(result: Any, *, as_json: bool, render: Callable[[Any], str] | None = None) -> None:
    """Print a command's result: one JSON document with --json, else readable text."""
    if as_json:
        print(json.dumps(_jsonable(result), indent=2, default=str))
    elif render is not None:
        print(render(result))
    else:
        print(json.dumps(_jsonable(result), indent=2, default=str))


def build_parser() -> argparse.ArgumentParser:
    from core import __version__

    parser = argparse.ArgumentParser(prog="uclab",
                                     description="Use Case Lab command line (also: python -m core).")
    parser.add_argument("--version", action="version", version=f"Use Case Lab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except UserError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - one sentence, never a traceback
        print(f"Failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
              file=sys.stderr)
        return 1
    if result is not None:
        print_result(result, as_json=getattr(args, "json", False),
                     render=getattr(args, "render", None))
    return 0
