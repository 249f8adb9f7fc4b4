"""Answer-evaluation throughput: the llama.cpp engine against the batched torch path, same prompts.

SmolLM2-135M-Instruct answers the first N test prompts of the chat-pairs gallery set (as
``core.results.prompts.causal_examples`` builds them), greedy, ``max_new_tokens`` from the
references (``core.inference.answers.answer_budget``):

* engine     – ``core.ml.batch_generation.greedy_batch`` with engine "auto": llama.cpp on the model's
               engine GGUF, ``--slots`` sequences decoded together, on one context per CPU thread side
               by side (``llama_batch.lanes_for``; the evaluation path on a CPU);
* lane1      – the same on one context using every thread (the path before contexts side by side);
* llama1     – one context, one slot: llama.cpp one prompt after another (the path before batching);
* batched    – the same function with engine "exact" and ``--batch-size`` (default 8): transformers'
               ``generate`` on prompts sorted by length, left-padded (the path before llama.cpp);
* one by one – ``--single``: engine "exact" with batch size 1.

All run on the same loaded model in the same process, alternating which goes first over
``--reps`` rounds. Prints examples/s of each, the ratios, the share of identical answers (to the
batched torch path, and the engine's to llama.cpp one at a time, which must be all), the CPU, its
load average and whether it computes bf16 natively.

    .venv/bin/python bench/evaluate.py [--examples 24] [--batch-size 8] [--slots 24] [--gguf FILE]
                                       [--reps 1] [--single]

Greedy answers of a left-padded batch equal one-by-one answers in float32; in bf16 the padded
shapes round differently and some answers diverge after a few tokens (the share is printed).
llama.cpp computes with the GGUF file's weights (F16 by default), so some of its answers differ from
the exact path's after a few tokens (the share is printed; bench/generate.py --quality scores both).
"""

from __future__ import annotations

import argparse
import json
import os
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


def bench(examples: int, batch_size: int, reps: int, fp32: bool = False, single: bool = False,
          slots: int = 24, gguf: str | None = None) -> dict[str, Any]:
    from core.inference.answers import answer_budget
    from core.inference.generation import get_loaded
    from core.ml import device as devices
    from core.ml.batch_generation import greedy_batch
    from core.ml.llama_batch import lanes_for

    loaded = get_loaded(KEY)
    if gguf:  # another GGUF file for the engine path (e.g. Q8_0), instead of the engine's own
        loaded.gguf, loaded._llama = Path(gguf), None
    if fp32:  # the same comparison in full precision: are differing answers a bf16 rounding effect?
        loaded.model.float()
    prompts, references = _prompts(examples)
    budget = answer_budget(loaded, references, cap=64)
    paths = {"engine": {"engine": "auto", "batch_size": batch_size, "slots": slots},
             "lane1": {"engine": "auto", "batch_size": batch_size, "slots": slots, "lanes": 1},
             "llama1": {"engine": "auto", "batch_size": batch_size, "slots": 1, "lanes": 1},
             "batched": {"engine": "exact", "batch_size": batch_size}}
    if single:
        paths["single"] = {"engine": "exact", "batch_size": 1}
    engine_name = loaded.engine_for("auto")[0]
    for options in paths.values():
        greedy_batch(loaded, prompts[:2], 4, **options)  # warm-up, not counted
    times: dict[str, list[float]] = {name: [] for name in paths}
    cpu: dict[str, list[float]] = {name: [] for name in paths}  # CPU seconds of this process, all threads
    answers: dict[str, list[str]] = {}
    for rep in range(reps):
        names = list(paths)
        for name in names[rep % len(names):] + names[:rep % len(names)]:
            start, start_cpu = time.perf_counter(), time.process_time()
            answers[name] = greedy_batch(loaded, prompts, budget, **paths[name])
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    speed = {name: len(prompts) / statistics.median(times[name]) for name in paths}
    per_cpu = {name: len(prompts) / statistics.median(cpu[name]) for name in paths}
    same = {name: sum(a == b for a, b in zip(answers[name], answers["batched"], strict=True))
            for name in paths}
    choice = devices.choose()
    return {"cpu": str(devices.machine_facts()["cpu"]), "device": choice.name, "load": os.getloadavg(),
            "gguf": loaded.gguf.name if loaded.gguf else None,
            "slots": slots, "engine_same_as_llama1": sum(a == b for a, b in zip(
                answers["engine"], answers["llama1"], strict=True)),
            "cpu_has_bf16": devices.cpu_supports_bf16(),
            "model_bf16": choice.bf16 and not fp32, "examples": len(prompts), "engine": engine_name,
            "batch_size": batch_size, "max_new_tokens": budget, "reps": reps,
            "examples_per_s": speed, "engine_vs_batched": speed["engine"] / speed["batched"],
            "engine_vs_llama1": speed["engine"] / speed["llama1"],
            "engine_vs_lane1": speed["engine"] / speed["lane1"],
            "lanes": lanes_for(len(prompts), loaded.llama().cores // loaded.llama().threads)
            if engine_name == "llama.cpp" else None,
            "threads_per_context": loaded.llama().threads if engine_name == "llama.cpp" else None,
            "examples_per_cpu_s": per_cpu,
            "engine_vs_batched_per_cpu_s": per_cpu["engine"] / per_cpu["batched"],
            "seconds": times,
            "same_as_batched": same}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--slots", type=int, default=24, help="llama.cpp sequences decoded together")
    parser.add_argument("--gguf", help="a GGUF file for the engine path instead of the engine's own")
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--fp32", action="store_true", help="run the model in float32 instead of bf16")
    parser.add_argument("--single", action="store_true", help="also time the exact path one prompt at a time")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = bench(args.examples, args.batch_size, args.reps, args.fp32, args.single, args.slots, args.gguf)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['examples']} chat-pairs prompts, max_new_tokens {result['max_new_tokens']}, "
              f"{result['cpu']} ({result['device']}; CPU bf16: {result['cpu_has_bf16']}, model bf16: "
              f"{result['model_bf16']}); the engine path runs on {result['engine']} ({result['gguf']}) with "
              f"{result['slots']} slots on {result['lanes']} contexts side by side, "
              f"{result['threads_per_context']} thread(s) each; load average "
              f"{' '.join(f'{x:.2f}' for x in result['load'])}")
        for name, speed in result["examples_per_s"].items():
            runs = " ".join(f"{t:.1f}" for t in result["seconds"][name])
            print(f"  {name:<8} {speed:6.2f} examples/s  {result['examples_per_cpu_s'][name]:6.2f} "
                  f"examples/CPU-s  (runs: {runs} s)  identical to batched: "
                  f"{result['same_as_batched'][name]}/{result['examples']}")
        print(f"  engine / batched torch = {result['engine_vs_batched']:.2f}x wall, "
              f"{result['engine_vs_batched_per_cpu_s']:.2f}x per CPU-second   (target >= 2x)")
        print(f"  engine / one context = {result['engine_vs_lane1']:.2f}x")
        print(f"  engine / llama.cpp one at a time = {result['engine_vs_llama1']:.2f}x; identical answers: "
              f"{result['engine_same_as_llama1']}/{result['examples']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
