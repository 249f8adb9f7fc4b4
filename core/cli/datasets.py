"""`python -m core datasets add|list|show|gallery|import`: dataset versions from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.entities import TASKS

ROLE_FLAGS = (("text", "text-column"), ("label", "label-column"), ("tokens", "tokens-column"),
              ("tags", "tags-column"), ("prompt", "prompt-column"),
              ("completion", "completion-column"), ("messages", "messages-column"),
              ("chosen", "chosen-column"), ("rejected", "rejected-column"),
              ("group", "group-column"), ("split_column", "split-column"))


def _table(rows: list[dict[str, str]], columns: tuple[str, ...]) -> str:
    if not rows:
        return "(none)"
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _sizes(info: Any) -> str:
    s = info.split_sizes or {}
    return " · ".join(f"{k} {s.get(k, 0):,}" for k in ("train", "validation", "test"))


def render_saved(info: Any) -> str:
    """The saved version with its id and row counts, then its warnings."""
    lines = [f"Saved '{info.name}' v{info.version} (id {info.id}, {info.task}): "
             f"{info.row_count:,} rows — {_sizes(info)}"]
    findings = (info.quality or {}).get("findings", [])
    for severity in ("warning", "info"):
        for f in findings:
            if f["severity"] == severity:
                lines.append(f"  {severity}: {f['message']}")
    return "\n".join(lines)


def render_list(infos: list[Any]) -> str:
    """A plain-text table of dataset versions."""
    rows = [{"id": str(d.id), "name": d.name, "version": str(d.version), "task": d.task,
             "rows": f"{d.row_count:,}", "splits": _sizes(d), "source": d.source_filename,
             "created": d.created_at.isoformat(sep=" ", timespec="minutes")} for d in infos]
    return _table(rows, ("id", "name", "version", "task", "rows", "splits", "source", "created"))


def render_show(info: Any) -> str:
    """One version: identity, mapping, split sizes and its quality report."""
    mapping = {k: v for k, v in info.mapping.items() if v not in (None, [], "")}
    lines = [f"{info.label} (id {info.id})", f"task      {info.task}",
             f"rows      {info.row_count:,} — {_sizes(info)}",
             f"source    {info.source_filename}", f"hash      {info.content_hash}",
             f"file      {info.path}", f"mapping   {mapping}",
             f"created   {info.created_at.isoformat(sep=' ', timespec='seconds')}"]
    if info.info.get("preference"):
        facts = ", ".join(f"{k} {v}" for k, v in info.info["preference"].items() if not isinstance(v, dict))
        lines.append(f"pairs     {facts}")
    if info.info.get("licence"):
        lines.append(f"licence   {info.info['licence']}")
    lines.append("quality report:")
    for f in (info.quality or {}).get("findings", []):
        lines.append(f"  {f['severity']}: {f['message']}")
    return "\n".join(lines)


def render_gallery(entries: list[Any]) -> str:
    """The gallery cards as a table."""
    rows = [{"key": e.key, "task": e.task, "rows": f"{e.rows:,}",
             "classes": str(e.classes or "-"), "title": e.title, "question": e.question}
            for e in entries]
    return _table(rows, ("key", "task", "rows", "classes", "title", "question"))


def _add(args: argparse.Namespace) -> Any:
    from core.config import get_settings
    from core.data import datasets
    from core.errors import DatasetError

    path = Path(args.path).expanduser()
    if not path.is_file():
        raise DatasetError(f"There is no file at '{args.path}'; check the path.")
    limit = get_settings().upload_limit_bytes
    if path.stat().st_size > limit:
        raise DatasetError(f"'{path.name}' is {path.stat().st_size / 2**20:.1f} MB, over the upload "
                           f"limit of {limit // 2**20} MB; raise UCLAB_UPLOAD_LIMIT_MB or use a "
                           "smaller file.")
    parsed = datasets.read_upload(path.read_bytes(), path.name, args.encoding)
    mapping = datasets.suggest_mapping(parsed.frame, args.task)
    for key, flag in ROLE_FLAGS:
        value = getattr(args, flag.replace("-", "_"))
        if value:
            mapping[key] = value
    if args.format:
        mapping["format"] = args.format
    if args.features:
        mapping["features"] = [c.strip() for c in args.features.split(",") if c.strip()]
    split = datasets.SplitConfig(validation_size=args.validation_size, test_size=args.test_size,
                                 seed=args.seed, group_column=mapping.get("group"),
                                 split_column=mapping.get("split_column"))
    return datasets.save_dataset(parsed, mapping, name=args.name, task=args.task, split=split,
                                 model_key=args.model, max_length=args.max_length)


def _list(args: argparse.Namespace) -> Any:
    from core.data import datasets

    return datasets.list_datasets()


def _show(args: argparse.Namespace) -> Any:
    from core.data import datasets

    return datasets.get_dataset(args.id)


def _gallery(args: argparse.Namespace) -> Any:
    from core.data import gallery

    return gallery.list_gallery()


def _import(args: argparse.Namespace) -> Any:
    from core.data import gallery

    return gallery.import_gallery(args.key)


def register(subparsers: Any) -> None:
    """Add the `datasets` command group."""
    parser = subparsers.add_parser("datasets", help="upload, check and list dataset versions")
    sub = parser.add_subparsers(dest="datasets_command", required=True)

    def add(name: str, handler: Any, help_text: str, render: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--json", action="store_true", help="print one JSON document")
        p.set_defaults(handler=handler, render=render)
        return p

    p = add("add", _add, "check a file and save it as a new dataset version", render_saved)
    p.add_argument("path", help="CSV, TSV, JSON, JSONL, Parquet or .xlsx file")
    p.add_argument("--name", required=True, help="dataset name (versions share a name)")
    p.add_argument("--task", required=True, choices=TASKS)
    for _, flag in ROLE_FLAGS:
        p.add_argument(f"--{flag}", default=None, help=f"column to use ({flag.split('-')[0]})")
    p.add_argument("--format", choices=("text", "prompt_completion", "messages", "preference"), default=None,
                   help="causal-lm data shape (preference: TRL's prompt/chosen/rejected pairs; detected "
                        "from those column names)")
    p.add_argument("--features", default=None, help="tabular feature columns, comma-separated")
    p.add_argument("--encoding", default=None,
                   help="text encoding of the file (e.g. gbk, cp1251, utf-16-le); detected when left "
                        "out, and asked for when two readings are both plausible")
    p.add_argument("--validation-size", type=float, default=0.1)
    p.add_argument("--test-size", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--model", default="minilm-l6", help="model whose tokenizer counts tokens")
    p.add_argument("--max-length", type=int, default=128)
    add("list", _list, "list every dataset version with its counts", render_list)
    add("show", _show, "show one version and its quality report", render_show).add_argument(
        "id", type=int)
    add("gallery", _gallery, "list the use-case gallery", render_gallery)
    add("import", _import, "import a gallery dataset (once)", render_saved).add_argument(
        "key", help="a key from `datasets gallery`")
