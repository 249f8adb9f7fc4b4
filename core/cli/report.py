"""`python -m core report RUN_ID --out FILE.html`: the offline HTML report of a run."""

from __future__ import annotations

import argparse
from typing import Any


def _report(args: argparse.Namespace) -> dict[str, Any]:
    from core.results.report import write_report

    ids = [int(i) for i in args.run_ids]
    path = write_report(ids[0] if len(ids) == 1 else ids, args.out, use_case=args.use_case)
    return {"path": str(path.resolve()), "runs": ids, "bytes": path.stat().st_size}


def register(subparsers: Any) -> None:
    """Add the `report` command."""
    p = subparsers.add_parser("report", help="Write a self-contained HTML report of a run (or runs).")
    p.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="The run (several runs: a comparison).")
    p.add_argument("--out", required=True, help="The HTML file to write, e.g. report.html.")
    p.add_argument("--use-case", default=None, help="One sentence saying what the model is for.")
    p.add_argument("--json", action="store_true", help="Print one JSON document.")
    p.set_defaults(handler=_report, render=lambda r: f"Wrote {r['path']} ({r['bytes'] / 1e6:.1f} MB).")
