"""Answer-evaluation throughput: the batched greedy path against one-by-one ``generate``, same answers.

SmolLM2-135M-Instruct answers the first N test prompts of the chat-pairs gallery set (as
``core.results.prompts.causal_examples`` builds them), greedy, ``max_new_tokens`` from the
references (``core.inference.answers.answer_budget``):

* batched    – ``core.ml.batch_generation.greedy_batch`` with ``--batch-size`` (default 8): prompts
               sorted by length, left-padded, decoded to the first end token (the evaluation path);
* one by one – the same function with batch size 1, i.e. one ``model.generate`` call per prompt.

Both run on the same loaded model in the same process, alternating which goes first over
``--reps`` rounds. Prints examples/s of each, their ratio, the share of identical answers, the CPU
and whether it computes bf16 natively.

    .venv/bin/python bench/evaluate.py [--examples 24] [--batch-size 8] [--reps 1] [--fp32] [--json]

Greedy answers of a left-padded batch equal one-by-one answers in float32; in bf16 the padded
shapes round differently and some answers diverge after a few tokens (the share is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
KEY = "smollm2-135m-instruct"


def _prompts(n: int) -> tuple[list[dict[str, Any]], list[str]]:
    from core.data.gallery import load_gallery_frame
    from core.results.prompts import causal_examples

    _, frame, mapping, _ = load_gallery_frame("chat-pairs")
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    items = causal_examples(frame.iloc[n:], frame.iloc[:0], mapping, limit=n)
    return [e.prompt for e in items], [e.reference for e in items]


def bench(examples: int, batch_size: int, reps: int, fp32: bool = False) -> dict[str, Any]:
    from core.inference.answers import answer_budget
    from core.inference.generation import get_loaded
    from core.ml import device as devices
    from core.ml.batch_generation import greedy_batch

    loaded = get_loaded(KEY)
    if fp32:  # the same comparison in full precision: are differing answers a bf16 rounding effect?
        loaded.model.float()
    prompts, references = _prompts(examples)
    budget = answer_budget(loaded, references, cap=64)
    greedy_batch(loaded, prompts[:2], 4, batch_size)  # warm-up, not counted
    times: dict[str, list[float]] = {"batched": [], "single": []}
    answers: dict[str, list[str]] = {}
    for rep in range(reps):
        order = ("batched", "single") if rep % 2 == 0 else ("single", "batched")
        for name in order:
            start = time.perf_counter()
            answers[name] = greedy_batch(loaded, prompts, budget, batch_size if name == "batched" else 1)
            times[name].append(time.perf_counter() - start)
    batched, single = statistics.median(times["batched"]), statistics.median(times["single"])
    same = sum(a == b for a, b in zip(answers["batched"], answers["single"], strict=True))
    choice = devices.choose()
    return {"cpu": platform.processor() or platform.machine(), "device": choice.name,
            "cpu_has_bf16": devices.cpu_supports_bf16(),
            "model_bf16": choice.bf16 and not fp32, "examples": len(prompts),
            "batch_size": batch_size, "max_new_tokens": budget, "reps": reps,
            "batched_examples_per_s": len(prompts) / batched, "single_examples_per_s": len(prompts) / single,
            "speedup": single / batched, "same_answers": same, "same_share": same / len(prompts)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--fp32", action="store_true", help="run the model in float32 instead of bf16")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = bench(args.examples, args.batch_size, args.reps, args.fp32)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['examples']} chat-pairs prompts, max_new_tokens {result['max_new_tokens']}, "
              f"{result['device']} (CPU bf16: {result['cpu_has_bf16']}, model bf16: {result['model_bf16']})")
        print(f"  batched (batch {result['batch_size']}): {result['batched_examples_per_s']:.2f} examples/s")
        print(f"  one by one:          {result['single_examples_per_s']:.2f} examples/s")
        print(f"  speed-up {result['speedup']:.2f}x; identical answers {result['same_answers']}/"
              f"{result['examples']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
