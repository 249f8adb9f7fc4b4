"""CLI: ``sweep --dataset ID --model KEY [--trials N] [--minutes M] [--space "..."] [--parallel K]``,
``sweep --dataset ID --kind preference --from-run RUN [--beta-range 0.05..0.5:log]`` (DPO runs on a
preference dataset, on top of a finished run or a catalogue ``--model``), ``sweep show ID`` (the
leaderboard) and ``sweep list`` (DESIGN §5).

A sweep's trials are queued runs: any ``uclab worker`` trains them and moves the sweep on; with no
worker alive the app's local worker starts. ``--wait`` also drives the sweep from this process
until it has finished.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from core.errors import ConfigError


def _value(v: Any) -> str:
    return "-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)


def _render(data: dict[str, Any]) -> str:
    if "sweeps" in data:
        return "\n".join(f"#{s['id']:<4} {s['status']:<9} {s['task']:<15} {s['model_key']:<22} dataset "
                         f"{s['dataset_id']:<4} {s['asked']} trial(s) asked, best "
                         f"{_value((s.get('summary') or {}).get('best_value'))}" for s in data["sweeps"]) \
            or "No sweeps yet."
    s = data["sweep"]
    budget = " and ".join(filter(None, [f"{s['n_trials']} trials" if s.get("n_trials") else "",
                                        f"{s['minutes']:g} minutes" if s.get("minutes") else ""]))
    lines = [f"Sweep #{s['id']}: {s['status']}, {s['task']} with {s['model_key']} on dataset "
             f"{s['dataset_id']}; "
             f"{s['direction']} validation {s['metric']} over {budget}, {s['parallel']} at a time.",
             f"  space: {s['space']}"]
    if data.get("estimate"):
        lines.append(f"  estimate: {data['estimate']['sentence']}")
    for t in data.get("trials", []):
        interval = t.get("interval")
        shown = f"{_value(t['value'])}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")
        params = ", ".join(f"{k}={_value(v)}" for k, v in t["params"].items())
        lines.append(f"  {'*' if t['best'] else ' '} trial {t['number']:<3} {t['state']:<8} {shown:<24} "
                     f"run #{t['run_id']} {t.get('host') or ''}  {params}"
                     + (f"  ({t['status_reason']})" if t.get("status_reason") else ""))
    if data.get("note"):
        lines.append(f"  note: {data['note']}")
    return "\n".join(lines)


def _show(sweep_id: int) -> dict[str, Any]:
    from core.training import sweep

    info = sweep.advance_sweep(sweep_id)
    trials = sweep.sweep_trials(sweep_id)
    return {"sweep": info.to_dict(), "trials": [t.to_dict() for t in trials],
            "note": sweep.tie_note(sweep_id, trials)}


def cmd_sweep(args: argparse.Namespace) -> dict[str, Any]:
    from core.data import datasets
    from core.data.preferences import is_preference
    from core.run_config import TrainConfig
    from core.store import workers
    from core.training import sweep

    if args.action == "list":
        return {"sweeps": [s.to_dict() for s in sweep.list_sweeps()]}
    if args.action == "show":
        if args.id is None:
            raise ConfigError("Say which sweep to show: uclab sweep show ID.")
        return _show(args.id)
    if args.dataset is None:
        raise ConfigError("Give --dataset ID and --model KEY to start a sweep (or: uclab sweep show ID).")
    if args.epochs is not None and args.max_steps is not None:
        raise ConfigError("Give either --epochs or --max-steps, not both.")
    dataset = datasets.get_dataset(args.dataset)
    kind = args.kind or ("preference" if args.from_run is not None or args.beta_range
                         or is_preference(dataset) else "supervised")
    if kind == "preference":
        args.model, config, args.space = _preference_base(args)
    else:
        if args.from_run is not None or args.beta_range:
            raise ConfigError("--from-run and --beta-range belong to a preference sweep; "
                              "add --kind preference.")
        if args.model is None:
            raise ConfigError("Give --dataset ID and --model KEY to start a sweep (or: uclab sweep show ID).")
        config = TrainConfig.from_preset(args.preset, task=dataset.task, epochs=args.epochs,
                                         max_steps=args.max_steps, max_train_rows=args.max_train_rows,
                                         eval_every=args.eval_every, seed=args.seed)
    alive = max(1, sum(w.slots for w in workers.live_workers()))
    estimate = sweep.estimate_sweep(args.dataset, args.model, trials=args.trials, minutes=args.minutes,
                                    space=args.space, parallel=args.parallel, config=config, workers=alive)
    if not args.json:
        print(f"Estimate: {estimate.sentence}", file=sys.stderr)
    info = sweep.start_sweep(args.dataset, args.model, trials=args.trials, minutes=args.minutes,
                             space=args.space, parallel=args.parallel, config=config)
    if args.wait:
        print(f"Sweep #{info.id} started; waiting for it to finish…", file=sys.stderr)
        while sweep.advance_sweep(info.id).is_live:
            time.sleep(2.0)
    data = _show(info.id)
    data["estimate"] = {"seconds": estimate.seconds, "trial_seconds": estimate.trial_seconds,
                        "sentence": estimate.sentence, "warnings": estimate.warnings}
    return data


def _preference_base(args: argparse.Namespace) -> tuple[str, Any, str | None]:
    """A preference sweep's model, base config (``preference_request``: the task's preference defaults,
    the parent) and space (--beta-range in place of the default's beta range)."""
    from core.training.preference_runs import preference_request
    from core.training.sweep_space import PREFERENCE_SPACE

    if args.epochs is not None:
        raise ConfigError("Preference training counts steps: give --max-steps instead of --epochs.")
    if args.max_train_rows is not None:
        raise ConfigError("--max-train-rows belongs to a supervised sweep; a preference sweep trains on "
                          "every pair.")
    request = preference_request(args.dataset, parent_run_id=args.from_run, model_key=args.model,
                                 max_steps=args.max_steps, eval_every=args.eval_every, seed=args.seed)
    space = args.space
    if args.beta_range:
        if space:
            raise ConfigError("Give the range of beta either in --space or with --beta-range, not both.")
        rule = args.beta_range.strip().removeprefix("beta=")
        space = ", ".join(f"beta={rule}" if part.startswith("beta=") else part
                          for part in PREFERENCE_SPACE.split(", "))
    return request.model_key, request.config, space


def register(sub: Any) -> None:
    p = sub.add_parser("sweep", help="search for the best settings: an Optuna study whose trials are runs "
                                     "(`sweep show ID`: its leaderboard; `sweep list`)")
    p.add_argument("action", nargs="?", choices=["show", "list"], help="show a sweep, or list them")
    p.add_argument("id", nargs="?", type=int, help="the sweep to show")
    p.add_argument("--dataset", type=int, help="dataset version id")
    p.add_argument("--model", help="catalogue model key (see `models list`); of a preference sweep: the "
                                   "catalogue chat model the pairs train (or --from-run)")
    p.add_argument("--kind", choices=["supervised", "preference"],
                   help="the trials' training kind (default: preference on a preference dataset)")
    p.add_argument("--from-run", type=int, help="a preference sweep's parent: the finished causal-LM run "
                                                "whose weights each trial starts from")
    p.add_argument("--beta-range", help='a preference sweep\'s range of DPO\'s beta, e.g. "0.05..0.5:log"')
    p.add_argument("--trials", type=int, help="trials to run (default 12 unless --minutes is given)")
    p.add_argument("--minutes", type=float, help="hand out no new trial after this many minutes")
    p.add_argument("--space", help='the search space, e.g. "learning_rate=1e-5..5e-4:log, epochs=1..4, '
                                   'lora_r=4|8|16" (default: the task and model\'s own)')
    p.add_argument("--parallel", type=int, default=1, help="trials queued or training at once (default 1)")
    p.add_argument("--preset", choices=["quick", "full"], default="full", help="the settings each trial "
                                                                               "starts from")
    p.add_argument("--epochs", type=float, help="epochs of every trial (unless the space sweeps them)")
    p.add_argument("--max-steps", type=int, help="steps of every trial (small steps for a quick sweep)")
    p.add_argument("--max-train-rows", type=int, help="training rows of every trial (a random sample)")
    p.add_argument("--eval-every", type=int, help="evaluate every this many steps (what the pruner sees)")
    p.add_argument("--seed", type=int, help="random seed of the trials and of the sampler")
    p.add_argument("--wait", action="store_true", help="drive the sweep from here until it has finished")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=cmd_sweep, render=_render)
