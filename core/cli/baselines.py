"""`python -m core baselines save RUN_ID`: keep a classification run's keyword baseline (skops).

When the character n-gram or TF-IDF model beats the fine-tuned one, this saves it under the run's
folder (and to ``--out`` if given), so ``uclab serve --run RUN_ID --baseline`` can answer with it.
"""

from __future__ import annotations

import argparse
from typing import Any


def _save(args: argparse.Namespace) -> Any:
    from core.training.baseline_models import save_baseline

    return save_baseline(args.run_id, args.name, args.out)


def _render(saved: Any) -> str:
    agree = (f" On the {saved.rows} {saved.split} rows it answers as the evaluated baseline did "
             f"{saved.same_answers} times.") if saved.rows else ""
    where = f" Copied to {saved.exported_to}." if saved.exported_to else ""
    return (f"Saved the {saved.title} of run {saved.run_id} to {saved.folder} (skops).{where}{agree} "
            f"Serve it with: uclab serve --run {saved.run_id} --baseline")


def register(subparsers: Any) -> None:
    """Add the `baselines` command group."""
    p = subparsers.add_parser("baselines", help="save a run's keyword baseline to serve or export it")
    sub = p.add_subparsers(dest="action", required=True)
    save = sub.add_parser("save", help="Save a classification run's keyword baseline (skops).")
    save.add_argument("run_id", type=int, metavar="RUN_ID")
    save.add_argument("--name", default=None, help="tfidf_logreg or tfidf_char_logreg (default: the one "
                                                  "the run stored, the winner first).")
    save.add_argument("--out", default=None, help="Also copy model.skops and baseline.json to this new "
                                                 "folder.")
    save.add_argument("--json", action="store_true", help="Print one JSON document.")
    save.set_defaults(handler=_save, render=_render)
