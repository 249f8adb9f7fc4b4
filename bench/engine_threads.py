"""The engine's measured thread count on a cold start, against every count pinned.

``core.ml.llama_engine.fastest_threads`` times a few tokens with 1, 2, 4, ... threads when an engine
loads and every context uses the fastest. On a first start after a reboot the GGUF file is not in
the page cache and llama.cpp's mapping reads it from the disk during the first steps; timed, those
steps can make one thread look slow (in a probe script 8 of 9 cold starts of SmolLM2 chose 2 threads,
28-37 tokens/s against 60-66 with one; it is a race with the disk, and these loads did not lose it
even before the fix), so the measurement makes one untimed pass first. Side by side in one run, each load a
fresh process started after the file's cached pages are dropped (a cold start), alternating the order:

* measured  – the app's load (``get_loaded(KEY).llama()``), its threads measured on that cold cache;
* N threads – ``LlamaEngine(file, threads=N)`` for each count ``fastest_threads`` considers.

Each load writes ``--new-tokens`` greedy tokens after each chat prompt. Prints tokens/s (median,
best), the counts the measurement chose, its ratio to the fastest pinned count, the load seconds
and the CPU.

    .venv/bin/python bench/engine_threads.py [--reps 3] [--new-tokens 64]

The model is SmolLM2-135M-Instruct on the app's engine file (written on first use).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
KEY = "smollm2-135m-instruct"
PROMPTS = ["Give me three tips for writing a good product description.",
           "Write a short friendly email announcing our startup's new feature: dark mode."]


def drop_cache(path: Path) -> None:
    """Drop the file's cached pages that no process maps (Linux)."""
    with open(path, "rb", buffering=0) as fh:
        os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def load_and_write(threads: int | None, prompts: list[list[int]], new_tokens: int) -> dict[str, Any]:
    """In a fresh process, as the app loads it (``get_loaded(KEY).llama()``, or the same file with
    ``threads`` pinned): write after each prompt; its threads, load seconds and speeds."""
    from core.inference.generation import get_loaded
    from core.ml import llama_engine

    loaded = get_loaded(KEY)
    engine = loaded.llama() if threads is None else llama_engine.LlamaEngine(loaded.gguf, threads=threads)
    speeds = []
    for ids in prompts:
        out: list[int] = []
        start = time.perf_counter()
        engine.generate(list(ids), new_tokens, llama_engine.GREEDY, loaded.eos_ids,
                        lambda token, _piece, out=out: out.append(token) is None)
        speeds.append(len(out) / (time.perf_counter() - start))
    return {"threads": engine.threads, "load_s": engine.load_seconds, "speeds": speeds}


def bench(reps: int, new_tokens: int) -> dict[str, Any]:
    from core.inference.generation import ensure_gguf, get_loaded, resolve_model
    from core.ml import device as devices
    from core.ml import llama_engine

    loaded = get_loaded(KEY)
    tokenizer = loaded.hf_tokenizer
    path = ensure_gguf(resolve_model(KEY)).gguf
    chats = [[{"role": "user", "content": p}] for p in PROMPTS]
    prompts = [[int(i) for i in tokenizer.apply_chat_template(c, add_generation_prompt=True,
                                                              return_dict=True)["input_ids"]] for c in chats]
    cores = llama_engine.cpu_threads()
    modes: dict[str, int | None] = {"measured": None} | {
        f"{n} thread{'s' if n > 1 else ''}": n for n in llama_engine.thread_choices(cores)}
    speed: dict[str, list[float]] = {m: [] for m in modes}
    load: dict[str, list[float]] = {m: [] for m in modes}
    chosen: list[int] = []
    names = list(modes)
    for rep in range(reps):
        for name in names[rep % len(names):] + names[:rep % len(names)]:
            drop_cache(path)
            job = {"threads": modes[name], "prompts": prompts, "new_tokens": new_tokens}
            done = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)], check=True,
                                  capture_output=True, text=True)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            load[name].append(row["load_s"])
            speed[name] += row["speeds"]
            if modes[name] is None:
                chosen.append(row["threads"])
        print(f"  round {rep + 1}: " + " | ".join(f"{n} {statistics.median(speed[n]):.1f}" for n in names),
              file=sys.stderr, flush=True)
    best = max(statistics.median(speed[n]) for n in names if modes[n] is not None)
    return {"cpu": str(devices.machine_facts()["cpu"]), "cores": cores, "file": path.name,
            "megabytes": round(path.stat().st_size / 1e6), "reps": reps, "new_tokens": new_tokens,
            "measured_threads": chosen,
            "modes": {n: {"tokens_per_s": round(statistics.median(speed[n]), 1),
                          "best_tokens_per_s": round(max(speed[n]), 1),
                          "x_fastest_pinned": round(statistics.median(speed[n]) / best, 2),
                          "load_s": round(statistics.median(load[n]), 2)} for n in names}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one load, in a fresh process
    args = parser.parse_args()
    if args.child:
        job = json.loads(args.child)
        print(json.dumps(load_and_write(job["threads"], job["prompts"], job["new_tokens"])))
        return
    if not hasattr(os, "posix_fadvise"):
        sys.exit("This bench drops a file's cached pages with posix_fadvise, which this system lacks.")
    from core.ml.llama_engine import unavailable_reason

    if unavailable_reason():
        sys.exit(unavailable_reason())
    summary = bench(args.reps, args.new_tokens)
    print(json.dumps(summary))
    print(f"CPU: {summary['cpu']}, {summary['cores']} cores; {summary['file']} ({summary['megabytes']} MB), "
          f"{len(PROMPTS)} prompts x {summary['reps']} rounds, {summary['new_tokens']} new tokens, greedy",
          file=sys.stderr)
    print(f"the measurement chose {summary['measured_threads']} threads (one load a round)", file=sys.stderr)
    print(f"{'threads':<12}{'tokens/s':>9}{'best':>8}{'x fastest pinned':>18}{'load s':>8}", file=sys.stderr)
    for name, row in summary["modes"].items():
        print(f"{name:<12}{row['tokens_per_s']:>9}{row['best_tokens_per_s']:>8}{row['x_fastest_pinned']:>17}x"
              f"{row['load_s']:>8}", file=sys.stderr)


if __name__ == "__main__":
    main()
