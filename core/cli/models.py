"""`python -m core models list|show|prepare|probe|add-local|add-hub`: the model catalogue."""

from __future__ import annotations

import argparse
import sys
from typing import Any

COLUMNS = ("key", "tasks", "params", "size", "licence", "context", "ready", "speed")


def _human(n: int | None, unit: str = "") -> str:
    if n is None:
        return "-"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}{suffix}{unit}"
    return f"{n}{unit}"


def _speed(speed: dict[str, Any] | None) -> str:
    if not speed:
        return "not measured"
    figures = speed.get("figures") or [speed]
    parts = [f"{f['value']:g} {f['unit']} {f['measure'].split('_')[0]}" for f in figures]
    return f"{', '.join(parts)} ({speed['measured_at'][:10]})"


def _row(info: Any) -> dict[str, str]:
    return {"key": info.key, "tasks": ",".join(info.tasks), "params": _human(info.params),
            "size": _human(info.size_bytes, "B"), "licence": info.licence,
            "context": str(info.context_length or "-"), "ready": "yes" if info.ready else "no",
            "speed": _speed(info.speed)}


def render_table(models: list[Any]) -> str:
    """A plain-text table of catalogue entries."""
    rows = [_row(m) for m in models]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) for c in COLUMNS)]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def render_one(info: Any) -> str:
    """A readable block for one model."""
    data = info.to_dict()
    data["speed"] = _speed(info.speed)
    data["tasks"] = ", ".join(info.tasks)
    return "\n".join(f"{k:15} {v}" for k, v in data.items())


def _progress_line(fraction: float, message: str) -> None:
    # stderr, so that `--json` keeps stdout to exactly one JSON document
    print(f"\r{fraction:4.0%}  {message[:70]:<70}", end="\n" if fraction >= 1 else "",
          file=sys.stderr, flush=True)


def _list(args: argparse.Namespace) -> Any:
    from core.models import catalog

    return catalog.list_models()


def _show(args: argparse.Namespace) -> Any:
    from core.models import catalog

    return catalog.get_model(args.key)


def _prepare(args: argparse.Namespace) -> Any:
    from core.models import catalog

    catalog.get_model(args.key)  # a clear sentence for an unknown key before any work
    catalog.model_path(args.key, progress=None if args.json else _progress_line)
    return catalog.get_model(args.key)


def _probe(args: argparse.Namespace) -> Any:
    from core.models import catalog

    if not catalog.get_model(args.key).ready:
        catalog.model_path(args.key, progress=None if args.json else _progress_line)
    if not args.json:
        print(f"Measuring {args.key} on this machine (a few seconds)...", file=sys.stderr, flush=True)
    return catalog.probe_model(args.key)


def _languages(args: argparse.Namespace) -> Any:
    from core.errors import ModelError
    from core.models import catalog, languages

    catalog.get_model(args.key)  # a clear sentence for an unknown key
    readings = languages.model_languages(args.key)
    if readings is None:
        raise ModelError(f"The model '{args.key}' has no tokenizer of its own to measure languages with.")
    return {"model": args.key, "summary": languages.summary(readings),
            "languages": [{**r.__dict__, "verdict": r.verdict} for r in readings]}


def _render_languages(data: dict[str, Any]) -> str:
    lines = [data["summary"], f"{'language':24} {'unknown':>8} {'chars/token':>11}  verdict"]
    lines += [f"{r['language']:24} {r['unknown_share']:>8.1%} {r['chars_per_token']:>11.2f}  {r['verdict']}"
              for r in data["languages"]]
    return "\n".join(lines)


def _add_local(args: argparse.Namespace) -> Any:
    from core.models import catalog

    return catalog.add_local_model(args.folder)


def _add_hub(args: argparse.Namespace) -> Any:
    from core.models import catalog

    return catalog.add_hub_model(args.model_id)


def register(subparsers: Any) -> None:
    """Add the `models` command group."""
    parser = subparsers.add_parser("models", help="the model catalogue")
    sub = parser.add_subparsers(dest="models_command", required=True)

    def add(name: str, handler: Any, help_text: str, render: Any = render_one) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--json", action="store_true", help="print one JSON document")
        p.set_defaults(handler=handler, render=render)
        return p

    add("list", _list, "list every model with tasks, size, licence and measured speed", render_table)
    add("show", _show, "show one model").add_argument("key")
    add("prepare", _prepare, "make a model ready to load (converts SmolLM2 once)").add_argument("key")
    add("probe", _probe, "measure the model's speed on this machine").add_argument("key")
    add("languages", _languages, "the languages its tokenizer reads, measured on a sample of each (cached)",
        _render_languages).add_argument("key")
    add("add-local", _add_local, "register a local HF folder (safetensors only)").add_argument("folder")
    add("add-hub", _add_hub, "download a Hub model (needs internet)").add_argument("model_id")
