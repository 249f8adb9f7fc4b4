"""CLI: ``preferences build`` (pairs from a review's votes, the judge, corrections or references)
and ``preferences show ID`` (a preference dataset's source, counts and a few pairs)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.errors import ConfigError

SHOWN_PAIRS = 3


def _progress(label: str) -> Any:
    def report(done: int, total: int) -> None:
        if done == total or done % 25 == 0:
            print(f"{label}: {done}/{total}", file=sys.stderr, flush=True)  # stdout: the one JSON document
    return report


def _build(args: argparse.Namespace) -> dict[str, Any]:
    from core.results import preference_pairs as pp

    sources = [name for name, given in (("--review", args.review is not None),
                                        ("--from-references", args.from_references),
                                        ("--corrections", args.corrections)) if given]
    if len(sources) != 1:
        raise ConfigError("Give one source of pairs: --review ID (with --judge for the judge's verdicts), "
                          "--run RUN --from-references, or --corrections [--run RUN].")
    if args.judge and args.review is None:
        raise ConfigError("--judge builds pairs from the judge's verdicts on a review; add --review ID.")
    if args.review is not None:
        if args.judge:
            info = pp.build_from_judge(args.review, name=args.name, progress=_progress("judge"))
        else:
            info = pp.build_from_review(args.review, name=args.name)
    elif args.from_references:
        if args.run is None:
            raise ConfigError("--from-references needs the run whose answers are paired: add --run RUN.")
        info = pp.build_from_references(args.run, limit=args.limit, threshold=args.threshold, name=args.name,
                                        progress=_progress("answers"))
    else:
        info = pp.build_from_corrections(args.run, name=args.name)
    return _shown(info.id)


def _shown(dataset_id: int) -> dict[str, Any]:
    from core.data.datasets import get_dataset
    from core.data.preferences import load_pairs, preference_facts

    info = get_dataset(dataset_id)
    pairs = load_pairs(dataset_id)
    findings = [f for f in (info.quality or {}).get("findings", []) if f["severity"] != "info"]
    return {"dataset_id": info.id, "name": info.name, "version": info.version, "label": info.label,
            "pairs": info.row_count, "split_sizes": info.split_sizes, "source": preference_facts(info),
            "findings": findings,
            "examples": [{"prompt": p.prompt_text, "chosen": p.chosen, "rejected": p.rejected,
                          "meta": dict(p.meta)} for p in pairs[:SHOWN_PAIRS]]}


def _show(args: argparse.Namespace) -> dict[str, Any]:
    return _shown(args.id)


def _one_line(text: str, n: int = 100) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"


def render(result: dict[str, Any]) -> str:
    """A preference dataset: where its pairs came from, the counts, warnings and a few pairs."""
    facts = result["source"]
    sizes = " · ".join(f"{k} {result['split_sizes'].get(k, 0):,}" for k in ("train", "validation", "test"))
    from core.data.preferences import counts_sentence, source_sentence

    lines = [f"{result['label']} (id {result['dataset_id']}): {result['pairs']:,} preference pairs — {sizes}",
             f"  {source_sentence(facts)} {counts_sentence(facts)}"]
    if facts.get("rule"):
        lines.append(f"  rule: {facts['rule']}")
    if isinstance(facts.get("agreement"), dict):
        from core.results.preference_pairs import agreement_sentence

        lines.append(f"  {agreement_sentence(facts['agreement'])}")
    for f in result["findings"]:
        lines.append(f"  {f['severity']}: {f['message']}")
    for number, pair in enumerate(result["examples"], start=1):
        lines += [f"pair {number}: {_one_line(pair['prompt'])}", f"  chosen:   {_one_line(pair['chosen'])}",
                  f"  rejected: {_one_line(pair['rejected'])}"]
    return "\n".join(lines)


def register(subparsers: Any) -> None:
    """Add the `preferences` command group."""
    parser = subparsers.add_parser("preferences", help="preference pairs (chosen vs rejected answers) from "
                                                       "votes, the judge, corrections or references")
    sub = parser.add_subparsers(dest="preferences_command", required=True)
    p = sub.add_parser("build", help="save a preference dataset version from one source")
    p.add_argument("--review", type=int, default=None, help="a blind review's id: its votes, by majority")
    p.add_argument("--judge", action="store_true", help="with --review: the judge's A/B verdicts instead "
                                                        "(a separate dataset)")
    p.add_argument("--run", type=int, default=None, help="the run (references: whose answers; corrections: "
                                                         "whose corrections, default all)")
    p.add_argument("--from-references", action="store_true",
                   help="the reference answer (chosen) against the run's own wrong answer (rejected) on the "
                        "train prompts of its dataset")
    p.add_argument("--corrections", action="store_true", help="the better answers people wrote, and thumbs")
    p.add_argument("--limit", type=int, default=200, help="references: train prompts to answer (default 200)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="references: an answer below this ROUGE-L against the reference is wrong "
                        "(default 0.5)")
    p.add_argument("--name", default=None, help="the dataset's name (default: from its source)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=_build, render=render)
    p = sub.add_parser("show", help="a preference dataset's source, counts, report and a few pairs")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=_show, render=render)
