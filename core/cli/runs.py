"""CLI: ``train``, ``runs list|show|cancel|resume`` and ``predict`` (DESIGN §5; ``evaluate``: evaluate.py)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.entities import RunInfo
from core.errors import ConfigError
from core.run_config import PREFERENCE, TRAINING_KINDS


def _run_line(r: RunInfo) -> str:
    speed = f"{r.samples_per_second:.1f}/s" if r.samples_per_second else "-"
    reason = f"  {r.status_reason}" if r.status_reason else ""
    return (f"#{r.id:<4} {r.status:<11} {r.task:<15} {r.model_key:<22} dataset {r.dataset_id:<4} "
            f"step {r.step}/{r.total_steps} {speed}{reason}")


def _run_dict(run: RunInfo, *, detail: bool = False) -> dict[str, Any]:
    from core.training import service as training

    data = run.to_dict()
    data["queue_position"] = training.queue_position(run.id)
    if detail:
        metrics = training.run_metrics(run.id)
        latest = (metrics.dropna(subset=["value"]).sort_values("step").groupby(["split", "name"])["value"]
                  .last()) if not metrics.empty else {}
        data["latest_metrics"] = {f"{split}/{name}": v for (split, name), v in dict(latest).items()}
        data["log_tail"] = training.run_logs(run.id, tail=10)
    return data


def _render_run(data: dict[str, Any]) -> str:
    lines = [f"Run #{data['id']} ({data['name']}): {data['status']}"
             + (f" — {data['status_reason']}" if data.get("status_reason") else "")]
    lines.append(f"  task {data['task']}, model {data['model_key']}, dataset {data['dataset_id']}, "
                 f"pid {data['pid']}, step {data['step']}/{data['total_steps']}, epoch {data['epoch']:.2f}")
    if data.get("host") or data.get("device"):
        lines.append(f"  trained on {data.get('host') or '?'}: {data.get('device') or '?'}")
    if data.get("samples_per_second"):
        eta = data.get('eta_seconds') or 0
        lines.append(f"  {data['samples_per_second']:.1f} samples/s, ETA {eta:.0f} s")
    if data.get("queue_position"):
        lines.append(f"  waiting: number {data['queue_position']} in the queue")
    for key, value in (data.get("latest_metrics") or {}).items():
        lines.append(f"  {key} = {value:.4g}")
    return "\n".join(lines)


def cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    from core.data import datasets
    from core.training import service as training

    if args.epochs is not None and args.max_steps is not None:
        raise ConfigError("Give either --epochs or --max-steps, not both.")
    if args.kind == PREFERENCE:
        return _train_preference(args)
    if args.from_run is not None or args.beta is not None:
        raise ConfigError("--from-run and --beta belong to preference training; add --kind preference.")
    if not args.model:
        raise ConfigError("Choose the model to fine-tune with --model (see `uclab models list`).")
    overrides: dict[str, Any] = dict(
        epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size,
        learning_rate=args.learning_rate, max_length=args.max_length, seed=args.seed,
        eval_every=args.eval_every, lora=True if args.lora else None, lora_rank=args.lora_rank,
        lora_alpha=args.lora_alpha, early_stopping=True if args.early_stopping else None,
        processes=args.processes, device=args.device,
        lr_scheduler=args.lr_scheduler, report_to=args.report_to)
    # Each task has its own defaults (an MLP from scratch, a tagger's head, a causal LM's memory);
    # flags still win.
    task = args.task or datasets.get_dataset(args.dataset).task
    config = training.TrainConfig.from_preset(args.preset, task=task, **overrides)
    request = training.TrainRequest(dataset_id=args.dataset, model_key=args.model, config=config,
                                    task=args.task, name=args.name or "")
    if args.folds:  # k-fold cross-validation: a parent run with one child run per fold
        from core.training.crossval import start_cv

        run = start_cv(request, args.folds)
    else:
        run = training.start_run(request)
    if args.wait:
        print(f"Run #{run.id} started; waiting for it to finish…", file=sys.stderr)
        run = training.wait_for_run(run.id, poll=2.0)
    return _run_dict(run, detail=args.wait)


def _train_preference(args: argparse.Namespace) -> dict[str, Any]:
    """``train --kind preference``: DPO on a preference dataset, on top of a finished run or a catalogue
    model."""
    from core.training import service as training

    if args.epochs is not None:
        raise ConfigError("Preference training counts steps: give --max-steps instead of --epochs.")
    if args.folds:
        raise ConfigError("Preference runs are not cross-validated; leave out --folds.")
    request = training.preference_request(
        args.dataset, parent_run_id=args.from_run, model_key=args.model, name=args.name or "",
        beta=args.beta, learning_rate=args.learning_rate, max_steps=args.max_steps,
        batch_size=args.batch_size,
        max_length=args.max_length, seed=args.seed, eval_every=args.eval_every, lora_rank=args.lora_rank,
        lora_alpha=args.lora_alpha, device=args.device, report_to=args.report_to)
    run = training.start_run(request)
    if args.wait:
        print(f"Run #{run.id} started; waiting for it to finish…", file=sys.stderr)
        run = training.wait_for_run(run.id, poll=2.0)
    return _run_dict(run, detail=args.wait)


def cmd_list(args: argparse.Namespace) -> list[dict[str, Any]]:
    from core.training import service as training

    return [_run_dict(r) for r in training.list_runs(status=args.status, limit=args.limit)]


def cmd_show(args: argparse.Namespace) -> dict[str, Any]:
    from core.training import service as training

    return _run_dict(training.get_run(args.run_id), detail=True)


def cmd_cancel(args: argparse.Namespace) -> dict[str, Any]:
    from core.training import service as training

    return _run_dict(training.cancel_run(args.run_id))


def cmd_resume(args: argparse.Namespace) -> dict[str, Any]:
    from core.training import service as training

    return _run_dict(training.resume_run(args.run_id))


def cmd_predict(args: argparse.Namespace) -> list[dict[str, Any]]:
    from core.inference.predict import predict_texts
    from core.store.runs import get_run

    if get_run(args.run_id).task == "token-classification":  # entities with character offsets
        from core.inference.ner_predict import predict_entities

        found = [predict_entities(args.run_id, t) for t in args.text]
        return [{k: v for k, v in f.items() if k != "words"} for f in found]
    return predict_texts(args.run_id, args.text).to_dict(orient="records")


def _render_predictions(rows: list[dict[str, Any]]) -> str:
    if rows and "entities" in rows[0]:
        return "\n".join(f"{r['text'][:80]}\n" + "\n".join(
            f"  {e['type']:<10} {e['start']:>5}-{e['end']:<5} ({e['confidence']:.2f})  {e['text']}"
            for e in r["entities"]) for r in rows)
    return "\n".join(f"{r.get('label', r.get('value'))}  ({r.get('confidence', 0):.2f})  {r['text'][:80]}"
                     for r in rows)


def _add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document")


def register(sub: Any) -> None:
    """Add train, runs and predict to the `python -m core` parser."""
    from core.entities import TASKS
    from core.run_config import LR_SCHEDULERS, PRESETS, field_help

    h = field_help()
    p = sub.add_parser("train", help="queue a fine-tuning run (add --wait to wait for the end)")
    p.add_argument("--dataset", type=int, required=True, help="dataset version id")
    p.add_argument("--model", help="catalogue model key (see `models list`); with --kind preference, the "
                   "catalogue model the preferences train instead of a run (--from-run)")
    p.add_argument("--kind", choices=TRAINING_KINDS, default=TRAINING_KINDS[0], help=h["training_kind"])
    p.add_argument("--from-run", type=int, help="preference training: the finished causal-LM run to start "
                   "from (its final weights; the default reference of DPO)")
    p.add_argument("--beta", type=float, help=h["beta"])
    p.add_argument("--task", choices=TASKS, help="the task to train (default: the dataset's task; a text "
                   "dataset may switch between classification and regression)")
    p.add_argument("--preset", choices=list(PRESETS), default="full", help=h["preset"])
    for flag, kind, name in (("--epochs", float, "epochs"), ("--max-steps", int, "max_steps"),
                             ("--batch-size", int, "batch_size"), ("--learning-rate", float, "learning_rate"),
                             ("--max-length", int, "max_length"), ("--seed", int, "seed"),
                             ("--eval-every", int, "eval_every"), ("--lora-rank", int, "lora_rank"),
                             ("--lora-alpha", int, "lora_alpha"), ("--processes", int, "processes")):
        p.add_argument(flag, type=kind, help=h[name])
    p.add_argument("--device", choices=["any", "cpu", "gpu"], help=h["device"])
    p.add_argument("--lora", action="store_true", help=h["lora"])
    p.add_argument("--early-stopping", action="store_true", help=h["early_stopping"])
    p.add_argument("--lr-scheduler", choices=LR_SCHEDULERS, help=h["lr_scheduler"])
    p.add_argument("--report-to", help="comma-separated trackers (tensorboard, mlflow) or 'none'; "
                   "default: UCLAB_REPORT_TO")
    p.add_argument("--name", help="a name for the run")
    p.add_argument("--folds", type=int, help="k-fold cross-validation (3-10 folds): one parent run "
                   "with a run per fold, metrics as mean ± std")
    p.add_argument("--wait", action="store_true", help="wait until the run has finished")
    _add_json(p)
    p.set_defaults(handler=cmd_train, render=_render_run)

    runs = sub.add_parser("runs", help="list, show, cancel or resume runs")
    rsub = runs.add_subparsers(dest="runs_command", required=True)
    p = rsub.add_parser("list", help="runs, newest first")
    p.add_argument("--status", help="only runs with this status")
    p.add_argument("--limit", type=int, default=50)
    _add_json(p)
    p.set_defaults(handler=cmd_list, render=lambda rows: "\n".join(
        _render_run(r).splitlines()[0] for r in rows) or "No runs yet.")
    for name, handler, text in (("show", cmd_show, "status, progress and latest metrics"),
                                ("cancel", cmd_cancel, "stop a queued or running run"),
                                ("resume", cmd_resume, "continue an interrupted, cancelled or failed run")):
        p = rsub.add_parser(name, help=text)
        p.add_argument("run_id", type=int)
        _add_json(p)
        p.set_defaults(handler=handler, render=_render_run)

    p = sub.add_parser("predict", help="predict the label, value or entities of texts with a trained run")
    p.add_argument("run_id", type=int)
    p.add_argument("--text", action="append", required=True, help="a text (repeat for several)")
    _add_json(p)
    p.set_defaults(handler=cmd_predict, render=_render_predictions)
