"""CLI: ``evaluate RUN_ID`` (metrics, baselines, answer quality, prompt baselines) and
``evaluate --model KEY --dataset ID`` (a catalogue model scored without training)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.errors import ConfigError


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)  # stdout carries only the one JSON document


def _progress(label: str) -> Any:
    def report(done: int, total: int) -> None:
        if done == total or done % 25 == 0:
            _say(f"{label}: {done}/{total}")
    return report


def _baselines(dataset_id: int, split: str, model_ref: str, task: str, args: argparse.Namespace,
               examples: int) -> list[Any]:
    from core.results import answer_quality as aq

    _say(aq.describe_estimate(model_ref, task, examples, args.shots))
    return aq.ensure_prompt_baselines(dataset_id, split, model_ref=model_ref, shots=args.shots,
                                      seed=args.seed, examples=examples,
                                      progress=_progress(f"{model_ref} prompted"))


def evaluate_run(args: argparse.Namespace) -> dict[str, Any]:
    from core.errors import NotFoundError
    from core.results import answer_quality as aq
    from core.results.evaluation import get_evaluation
    from core.store.runs import get_run

    run = get_run(args.run_id)
    from core.results import preference_eval

    if preference_eval.is_preference_run(run):
        return evaluate_preference(run.id, args)
    if args.review:
        raise ConfigError("--review sets up a 'parent vs run' review of a preference run; run "
                          f"{run.id} was not trained on preference pairs.")
    if run.task == "causal-lm":
        if args.answers:
            _say(f"Scoring the answers of run {run.id} to at most {args.examples} {args.split} examples.")
            aq.evaluate_answers(f"run:{run.id}", run.dataset_id, args.split, kind="run", run_id=run.id,
                                examples=args.examples, seed=args.seed, progress=_progress("answers"))
        if args.judge:
            from core.results.judge import judge_evaluation

            judge_evaluation(aq.get_answer_quality(run.id, args.split).evaluation.id, _progress("judge"))
        if args.prompt_baselines:
            try:
                ev = aq.get_answer_quality(run.id, args.split).evaluation
            except NotFoundError as exc:
                raise ConfigError(f"{exc} Add --answers to score them first.") from exc
            requested = int(ev.settings.get("requested_examples", ev.examples))
            _baselines(run.dataset_id, args.split, run.model_key, run.task, args, requested)
    elif args.prompt_baselines and run.task == "classification":
        _baselines(run.dataset_id, args.split, aq.baseline_model(run.task), run.task, args, args.examples)
    elif args.prompt_baselines or args.answers or args.judge:
        raise ConfigError(f"Run {run.id} is a {run.task} run; answers and prompt baselines exist for "
                          "causal-LM runs (and prompt baselines for classification runs).")
    try:
        data = get_evaluation(run.id, args.split).to_dict()
    except NotFoundError:
        if run.task != "causal-lm":
            raise
        data = {"run_id": run.id, "split": args.split, "task": run.task, "metrics": {}, "baselines": []}
    from core.results.verdict import baseline_winner

    win = baseline_winner(run.task, data["metrics"], {b["name"]: b["metrics"] for b in data["baselines"]})
    data["baseline_wins"] = {"name": win.name, "metric": win.metric, "baseline": win.baseline_value,
                             "run": win.run_value, "sentence": win.sentence(run.id)} if win else None
    if run.task == "causal-lm":
        try:
            data["answer_quality"] = aq.get_answer_quality(run.id, args.split).to_dict()
        except NotFoundError as exc:
            data["answer_quality"] = None
            data["answer_quality_note"] = str(exc)
    return data


def evaluate_preference(run_id: int, args: argparse.Namespace) -> dict[str, Any]:
    """A preference run: held-out pairs scored by it and its parent, answers on the parent's test split."""
    from core.results import preference_eval
    from core.results.verdict import run_verdict

    if args.answers or args.prompt_baselines or args.judge:
        raise ConfigError(f"Run {run_id} was trained on preference pairs: its answers are scored on its "
                          "parent's test split when it finishes; leave out --answers, --prompt-baselines "
                          "and --judge.")
    split = args.split if args.split_given else None
    data = {"kind": "preference", **preference_eval.get_preference_evaluation(run_id, split).to_dict(),
            "verdict": run_verdict(run_id, split).sentence}
    if args.review:
        data["review_id"] = preference_eval.start_parent_review(run_id)
        _say(f"Review {data['review_id']} is ready on the Review page: {data['parent']} against run "
             f"{run_id}.")
    return data


def _render_preference(data: dict[str, Any]) -> str:
    iv = data["pairs"].get("intervals") or {}
    titles = {"parent_preference_accuracy": f"preference accuracy of {data['parent']}",
              "preference_accuracy": "preference accuracy of this run",
              "preference_accuracy_gain": "gain (paired)", "reward_accuracy": "DPO reward accuracy",
              "reward_margin": "DPO reward margin"}
    lines = [data["verdict"], f"Run #{data['run_id']}, held-out {data['split']} pairs:"]
    lines += [f"  {_fmt_metric(title, iv[k])} ({iv[k]['n']} pairs)" for k, title in titles.items()
              if (iv.get(k) or {}).get("mean") is not None]
    if data["training"]:
        lines.append("  last validation during training (TRL): " + ", ".join(
            f"{k} {v:.3f}" for k, v in sorted(data["training"].items())))
    for a in data["answers"]:
        lines.append(f"  answers on {data['parent']}'s test split, {a['metric']}: parent "
                     f"{a['parent']:.3f}, run {a['run']:.3f}, gain {a['gain']:+.3f} "
                     f"[{a['low']:+.3f}, {a['high']:+.3f}] "
                     f"({a['examples']} examples)")
    if data.get("review_id"):
        lines.append(f"  review {data['review_id']} is ready: {data['parent']} against run {data['run_id']}")
    return "\n".join(lines)


def evaluate_model(args: argparse.Namespace) -> dict[str, Any]:
    from core.data import datasets
    from core.models import catalog

    if args.dataset is None:
        raise ConfigError("Give a run id, or --model KEY with --dataset ID.")
    model = catalog.get_model(args.model)
    task = datasets.get_dataset(args.dataset).task
    if model.family != "causal-lm":
        raise ConfigError(f"{args.model} is an encoder: it must be fine-tuned before it can answer; choose a "
                          "causal language model such as smollm2-135m-instruct.")
    found = _baselines(args.dataset, args.split, model.key, task, args, args.examples)
    from core.store.answers import get_answer_evaluation

    return {"model": model.key, "dataset_id": args.dataset, "split": args.split, "task": task,
            "evaluations": [get_answer_evaluation(e.id).to_dict() for e in found]}


def cmd_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    args.split_given = args.split is not None
    args.split = args.split or "test"
    if args.run_id is not None and args.model:
        raise ConfigError("Give either a run id or --model, not both.")
    if args.run_id is None and not args.model:
        raise ConfigError("Give a run id (uclab evaluate 3) or --model KEY --dataset ID.")
    return evaluate_run(args) if args.run_id is not None else evaluate_model(args)


def _fmt_metric(name: str, m: dict[str, Any]) -> str:
    if m.get("mean") is None:
        return f"{name} —"
    return f"{name} {m['mean']:.3f} [{m['low']:.3f}, {m['high']:.3f}]"


def _render_answers(block: dict[str, Any], indent: str = "  ") -> list[str]:
    from core.results.answer_metrics import tokenization_note

    metrics = (block.get("metrics") or {}).get("metrics") or {}
    note = tokenization_note(block.get("metrics") or {})
    return [f"{indent}{block.get('title', block.get('model_ref'))} on {block.get('examples')} examples: "
            + ", ".join(_fmt_metric(k, v) for k, v in metrics.items())] \
        + ([f"{' ' * len(indent)}  {note}"] if note else [])


def render(data: dict[str, Any]) -> str:
    if data.get("kind") == "preference":
        return _render_preference(data)
    lines: list[str] = []
    if "evaluations" in data:
        lines.append(f"{data['model']} on dataset {data['dataset_id']} ({data['split']}):")
        for ev in data["evaluations"]:
            lines += _render_answers({**ev, "title": f"{ev['kind']} ({ev['shots']} shots)"})
        return "\n".join(lines)
    lines.append(f"Run #{data['run_id']} on the {data['split']} split:")
    lines += [f"  {k} = {v:.4f}" for k, v in data["metrics"].items() if isinstance(v, float)]
    for b in data["baselines"]:
        gains = ", ".join(f"{k} {v:+.4f}" for k, v in b["gain"].items() if v is not None)
        lines.append(f"  vs {b['title']}: {gains}")
    if data.get("baseline_wins"):
        lines.append(f"  {data['baseline_wins']['sentence']}")
    quality = data.get("answer_quality")
    if quality:
        lines += _render_answers(quality)
        for b in quality["baselines"]:
            lines += _render_answers(b, "    vs ")
            head = b["gains"].get(quality["headline"])
            if head and head.get("mean") is not None:
                lines.append(f"       gain in {quality['headline']}: {head['mean']:+.3f} "
                             f"[{head['low']:+.3f}, {head['high']:+.3f}]")
    elif data.get("answer_quality_note"):
        lines.append(f"  {data['answer_quality_note']}")
    return "\n".join(lines)


def register(sub: Any) -> None:
    """Add `evaluate` to the `python -m core` parser."""
    from core.results.answer_defaults import DEFAULT_EXAMPLES, DEFAULT_SEED, DEFAULT_SHOTS

    p = sub.add_parser("evaluate", help="a run's metrics, baselines and answer quality, or a catalogue "
                       "model's answer quality")
    p.add_argument("run_id", type=int, nargs="?", help="the run (leave out with --model)")
    p.add_argument("--split", default=None, choices=["test", "validation"],
                   help="the split to read (default test; a preference run: test, else validation)")
    p.add_argument("--model", help="score a catalogue causal LM without training (with --dataset)")
    p.add_argument("--dataset", type=int, help="the dataset version for --model")
    p.add_argument("--answers", action="store_true", help="(re)generate and score a causal-LM run's answers")
    p.add_argument("--prompt-baselines", action="store_true",
                   help="compute the zero-/few-shot prompt baselines that are not cached yet")
    p.add_argument("--judge", action="store_true",
                   help="grade the run's scored answers with the judge (UCLAB_JUDGE_URL, UCLAB_JUDGE_MODEL)")
    p.add_argument("--review", action="store_true", help="a preference run: set up a blind review of its "
                   "parent against it on the same prompts")
    p.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES, help="at most this many examples")
    p.add_argument("--shots", type=int, default=DEFAULT_SHOTS, help="training examples in a few-shot prompt")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed that draws the few-shot examples")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=cmd_evaluate, render=render)
