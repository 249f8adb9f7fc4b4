"""CLI: ``worker [--slots N] [--gpus 0,1]``, a long-running worker for the shared queue (DESIGN §5)."""

from __future__ import annotations

import argparse
from typing import Any

from core.errors import ConfigError


def parse_gpus(text: str | None) -> list[int]:
    """'0,1' -> [0, 1]; empty -> [] (a CPU worker)."""
    if not text:
        return []
    try:
        gpus = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--gpus takes GPU numbers separated by commas (for example 0,1), not '{text}'.") \
            from None
    if any(g < 0 for g in gpus) or len(set(gpus)) != len(gpus):
        raise ConfigError("--gpus takes distinct GPU numbers from 0 up (for example 0,1).")
    return gpus


def cmd_worker(args: argparse.Namespace) -> dict[str, Any]:
    from core.training.daemon import run_worker

    gpus = parse_gpus(args.gpus)
    code = run_worker(slots=args.slots, gpus=gpus)
    return {"stopped": True, "exit_code": code}


def register(sub: Any) -> None:
    p = sub.add_parser("worker", help="claim and train queued runs from the shared database until SIGTERM")
    p.add_argument("--slots", type=int, default=1, help="runs trained at once (default 1)")
    p.add_argument("--gpus", help="GPU numbers this worker may use, e.g. 0,1 (default: CPU only)")
    p.add_argument("--json", action="store_true", help="print one JSON document when it stops")
    p.set_defaults(handler=cmd_worker)
