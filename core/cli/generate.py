"""`python -m core generate`: text from a catalogue model or a causal-LM run, streamed to the terminal.

Without ``--json`` the first sequence streams to stdout as it is written (further sequences follow
when done) and the timings go to stderr; with ``--json`` one JSON document holds the stored record.
``--history`` lists (or with ``--export FILE`` writes as CSV) past generations; ``--rerun ID``
repeats one with its stored prompt, settings and seed.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from core.errors import ConfigError
from core.generation_settings import ENGINES


def register(subparsers: Any) -> None:
    """Add the `generate` command."""
    p = subparsers.add_parser("generate", help="Generate text with a causal LM (catalogue model or run).",
                              description="Generate text with a causal language model. Temperature 0 "
                                          "means greedy decoding (the same text every time).")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--model", help="Catalogue key, e.g. smollm2-135m-instruct.")
    source.add_argument("--run", type=int, metavar="RUN_ID", help="A succeeded causal-LM run.")
    p.add_argument("--prompt", help="The prompt (chat mode: the user's message).")
    p.add_argument("--system", help="A system prompt (chat mode).")
    p.add_argument("--mode", choices=("chat", "prompt"), default="chat",
                   help="chat: through the model's chat template (default); prompt: continue the raw text.")
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--temperature", type=float, default=0.7, help="0 means greedy decoding.")
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--top-k", type=int, default=50, help="0 turns top-k off.")
    p.add_argument("--repetition-penalty", type=float, default=1.0)
    p.add_argument("--num-return-sequences", type=int, default=1, help="1 to 5.")
    p.add_argument("--seed", type=int, help="The same seed gives the same sampled text.")
    p.add_argument("--engine", choices=ENGINES, default="auto",
                   help="auto: llama.cpp on a CPU where it can read the model, else exact (transformers' "
                        "generate, full precision).")
    p.add_argument("--stop", nargs="+", default=[], metavar="TEXT", help="Stop when any of these appears.")
    p.add_argument("--rerun", type=int, metavar="GENERATION_ID", help="Repeat a stored generation.")
    p.add_argument("--history", action="store_true", help="List stored generations, newest first.")
    p.add_argument("--export", metavar="FILE.csv", help="With --history: write the history as CSV.")
    p.add_argument("--limit", type=int, default=20, help="With --history: how many to list.")
    p.add_argument("--json", action="store_true", help="Print one JSON document.")
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> Any:
    # Before torch loads: OpenMP threads that spin while waiting slow generation several-fold when
    # other processes share the cores (the same setting the training workers get).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from core.inference import generation as gen

    if args.history:
        return _history(args)
    if args.rerun is not None:
        record = gen.rerun_generation(args.rerun, model_ref=_ref(args, required=False))
        if not args.json:
            _print_outputs(record.outputs, skip_first=False)
            _print_stats(record)
        return record if args.json else None
    ref = _ref(args, required=True)
    if not args.prompt:
        raise ConfigError("Give a prompt with --prompt \"...\" (or --rerun ID, or --history).")
    settings = gen.GenerationSettings(
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
        repetition_penalty=args.repetition_penalty, num_return_sequences=args.num_return_sequences,
        seed=args.seed, stop=tuple(args.stop), engine=args.engine)
    stream = gen.stream_generate(ref, args.prompt, mode=args.mode, system=args.system, settings=settings)
    if args.json:
        for _ in stream:
            pass
        return stream.record
    for chunk in stream.texts(index=0):
        sys.stdout.write(chunk)
        sys.stdout.flush()
    record = stream.record
    assert record is not None
    _print_outputs(record.outputs, skip_first=True)
    _print_stats(record)
    return None


def _ref(args: argparse.Namespace, *, required: bool) -> str | None:
    if args.run is not None:
        return f"run:{args.run}"
    if args.model:
        return args.model
    if required:
        raise ConfigError("Choose a model with --model KEY (see `python -m core models list`) or a run "
                          "with --run RUN_ID.")
    return None


def _print_outputs(outputs: list[str], *, skip_first: bool) -> None:
    for index, text in enumerate(outputs):
        if skip_first and index == 0:
            print()
            continue
        if len(outputs) > 1:
            print(f"--- sequence {index + 1} ---")
        print(text)


def _print_stats(record: Any) -> None:
    ttft = f"{record.time_to_first_token:.2f} s" if record.time_to_first_token is not None else "-"
    speed = f"{record.tokens_per_second:.1f}" if record.tokens_per_second else "-"
    saved = f"; stored as generation {record.id}" if record.id is not None else ""
    print(f"[first token after {ttft}, {speed} tokens/s, seed {record.settings.get('seed')}{saved}]",
          file=sys.stderr)


def _history(args: argparse.Namespace) -> Any:
    from core.inference import generation as gen

    if args.export:
        frame = gen.export_generations(args.export)
        return {"exported": len(frame), "path": args.export}
    records = gen.list_generations(limit=args.limit, model_ref=_ref(args, required=False))
    if args.json:
        return records
    for r in records:
        prompt = r.prompt.get("text") or r.prompt.get("messages", [{}])[-1].get("content", "")
        print(f"#{r.id}  {r.created_at:%Y-%m-%d %H:%M}  {r.model_ref}  {r.mode}  "
              f"{prompt[:50]!r} -> {r.text[:60]!r}")
    return None
