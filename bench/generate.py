"""Generation and causal-LM training speed of the app's paths against bare references, in one run.

Generation (SmolLM2-135M-Instruct, the same chat prompts, greedy, interleaved repetitions), each
candidate side by side against bare fp32 ``model.generate``:

* int8 weights generate – ``torch.ao`` dynamic int8 quantization of every Linear, then ``generate``;
* app exact  – the app's path (cache, thread, streaming, stops) with transformers' ``generate``;
* app fast   – the app's path with the KV-cache loop of ``core.ml.decode`` (same arithmetic);
* app onnx   – the same loop on the onnxruntime export of the model (``core.ml.onnx_decoder``),
               the engine "auto" uses once the export exists (its one-time export is reported).

Prints tokens/s (wall: median and best call) and tokens per CPU-second of this process (steadier
when other processes share the cores), each as a ratio to bare generate, and whether the greedy
tokens are identical.
torch.compile with a static cache was tried and left out: its first call compiled for 394 s on
this 2-core machine and later calls recompiled (0.2 tokens/s).

Training (``--train-steps``, default 6; ``--skip-train`` to leave it out), each in its own process:
the app's path (``core.ml.trainer.train`` with the causal-LM adapter: chat template, answer-only
loss, dynamic padding, length-grouped batches) against a minimal PyTorch loop over the same
features (random batches, dynamic padding, AdamW, fp32). Prints training tokens/s (real tokens of
the batches trained, timed from the first to the last step) and the ratio (target ≥ 0.95).

    .venv/bin/python bench/generate.py [--new-tokens 64] [--reps 3] [--train-steps 6]
                                       [--skip-train | --skip-generation] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Passive OpenMP waiting, as the app's workers use: spinning threads on cores shared with other
# processes made the main thread's steps several times slower than a fresh thread's.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
PROMPTS = ["Give me three tips for writing a good product description.",
           "Write a short friendly email announcing our startup's new feature: dark mode.",
           "What is the capital of France?"]
KEY = "smollm2-135m-instruct"
BATCH, MAX_LENGTH, LR, SEED, TRAIN_ROWS = 8, 128, 5e-5, 42, 400


ENGINES = ("exact", "fast", "onnx")  # the app's engines (core.generation_settings.ENGINES)


def _candidates(path: Path, tok: Any, bare: Any, loaded: Any) -> dict[str, Any]:
    """name -> fn(turns, new_tokens) -> (new token ids, wall s, cpu s), every candidate on the same prompt."""
    import copy

    import torch

    from core.inference import generation as gen

    def timed(fn: Any) -> Any:
        def run(turns: list[dict[str, str]], new_tokens: int) -> tuple[list[int], float, float]:
            wall, cpu = time.perf_counter(), time.process_time()
            ids = fn(turns, new_tokens)
            return ids, time.perf_counter() - wall, time.process_time() - cpu
        return run

    def bare_generate(model: Any) -> Any:
        def fn(turns: list[dict[str, str]], new_tokens: int) -> list[int]:
            with torch.inference_mode():
                enc = tok.apply_chat_template(turns, add_generation_prompt=True, return_tensors="pt",
                                              return_dict=True)
                out = model.generate(**enc, max_new_tokens=new_tokens, do_sample=False,
                                     pad_token_id=tok.pad_token_id)
            return [t for t in out[0, enc["input_ids"].shape[1]:].tolist() if t != tok.eos_token_id]
        return fn

    def app(engine: str) -> Any:
        def fn(turns: list[dict[str, str]], new_tokens: int) -> list[int]:
            settings = gen.GenerationSettings(temperature=0, max_new_tokens=new_tokens, engine=engine)
            record = gen.generate(KEY, turns[-1]["content"], settings=settings, store=False)
            return tok(record.text, add_special_tokens=False)["input_ids"]
        return fn

    int8 = torch.ao.quantization.quantize_dynamic(copy.deepcopy(bare), {torch.nn.Linear}, dtype=torch.qint8)
    return {"bare fp32 generate": timed(bare_generate(bare)),
            "int8 weights generate": timed(bare_generate(int8)),
            **{f"app {engine}": timed(app(engine)) for engine in ENGINES}}


def bench_generation(new_tokens: int, reps: int, prompts: int = len(PROMPTS)) -> dict[str, Any]:
    """Every candidate on the same prompts, interleaved (round 0 warms up and is not counted)."""
    from core.inference.generation import get_loaded
    from core.ml import device as devices
    from core.ml.models import load_causal_lm
    from core.models import catalog

    path = catalog.model_path(KEY)
    loaded = get_loaded(KEY)
    start = time.perf_counter()
    loaded.onnx_model()  # the "onnx" engine exports once per model; reported, not timed per call
    export_seconds = time.perf_counter() - start
    choice = devices.choose()
    bare = load_causal_lm(path).to(choice.device)
    runs = _candidates(path, loaded.tokenizer, bare, loaded)
    names = list(runs)
    speed: dict[str, list[float]] = {n: [] for n in names}
    cpu_speed: dict[str, list[float]] = {n: [] for n in names}
    texts: dict[str, dict[str, list[int]]] = {n: {} for n in names}
    for prompt in PROMPTS[:prompts]:
        turns = [{"role": "user", "content": prompt}]
        for rep in range(reps + 1):
            for name in names[rep % len(names):] + names[:rep % len(names)]:  # rotate the order
                ids, wall, cpu = runs[name](turns, new_tokens)
                texts[name][prompt] = ids
                if rep:
                    speed[name].append(len(ids) / wall)
                    cpu_speed[name].append(len(ids) / cpu if cpu > 0 else float("nan"))
        print(f"  {prompt[:40]:<40} " + " | ".join(f"{n} {statistics.median(speed[n][-reps:]):.1f}"
                                                   for n in names), file=sys.stderr, flush=True)
    base = "bare fp32 generate"
    rows = {n: {"tokens_per_s": round(statistics.median(speed[n]), 2),
                "best_tokens_per_s": round(max(speed[n]), 2),
                "best_ratio": round(max(speed[n]) / max(speed[base]), 2),
                "tokens_per_cpu_s": round(statistics.median(cpu_speed[n]), 2),
                "ratio": round(statistics.median(speed[n]) / statistics.median(speed[base]), 2),
                "cpu_ratio": round(statistics.median(cpu_speed[n]) / statistics.median(cpu_speed[base]), 2),
                "same_greedy_tokens": all(texts[n][p] == texts[base][p] for p in texts[base])} for n in names}
    return {"device": choice.name, "bf16": choice.bf16, "cpu_has_bf16": devices.cpu_supports_bf16(),
            "threads": _threads(), "new_tokens": new_tokens, "reps": reps, "onnx_export_seconds":
            round(export_seconds, 1), "candidates": rows,
            "example": loaded.tokenizer.decode(texts["app onnx"][PROMPTS[0]])}


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _features() -> tuple[Any, Any, dict[str, str], str]:
    from core.data.gallery import load_gallery_frame
    from core.models import catalog

    _, frame, _, _ = load_gallery_frame("chat-pairs")
    frame = frame.sample(n=TRAIN_ROWS, random_state=SEED).reset_index(drop=True)
    columns = {"prompt": "prompt", "completion": "completion"}
    return frame, catalog.model_path(KEY), columns, "prompt_completion"


def train_app(steps: int) -> dict[str, Any]:
    """The app's path: the training engine with the causal-LM adapter, a throwaway UCLAB_HOME."""
    os.environ["UCLAB_HOME"] = tempfile.mkdtemp(prefix="uclab-bench-")
    from transformers import TrainerCallback

    from core.ml.tasks.base import TaskInputs
    from core.ml.tasks.causal_lm import CausalLMAdapter
    from core.run_config import TrainConfig
    from core.store import orm, runs
    from core.store.db import session_scope
    from core.training.engine import train

    frame, path, _, fmt = _features()
    tokens: list[int] = []
    timer: dict[str, float] = {}

    class Timer(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            timer["start"] = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step >= steps:
                timer["end"] = time.perf_counter()

    class Timed(CausalLMAdapter):
        def build(self, inputs: TaskInputs) -> Any:
            bundle = super().build(inputs)
            collate = bundle.data_collator

            def counting(features: list[dict[str, Any]]) -> Any:
                batch = collate(features)
                tokens.append(int(batch["attention_mask"].sum()))
                return batch
            bundle.data_collator = counting
            bundle.callbacks.append(Timer())
            return bundle

    with session_scope(write=True) as s:
        row = orm.Dataset(name="bench", task="causal-lm", source_filename="", content_hash="", path="",
                          mapping={"format": fmt}, split_sizes={}, quality={}, info={}, row_count=0)
        s.add(row)
        s.flush()
        dataset_id = row.id
    config = TrainConfig(max_steps=steps, batch_size=BATCH, max_length=MAX_LENGTH, eval_every=steps,
                         learning_rate=LR, seed=SEED, eval_batch_size=8,
                         task_options={"sample_prompts": 1, "sample_tokens": 8})
    run_id = runs.create_run(dataset_id=dataset_id, model_key=KEY, task="causal-lm", config=config.to_dict(),
                             seed=SEED).id
    runs.claim_run(run_id, os.getpid())
    adapter = Timed()
    adapter.task = "causal-lm"
    inputs = TaskInputs(task="causal-lm", train=frame, validation=frame.head(16), test=frame.head(0),
                        model_dir=Path(path), config=config, dataset_info={"mapping": {"format": fmt}})
    run_dir = Path(os.environ["UCLAB_HOME"]) / "runs" / str(run_id)
    train(run_id, inputs, adapter, run_dir, log=lambda m: None)
    return {"tokens_per_s": sum(tokens[:steps]) / (timer["end"] - timer["start"]), "steps": steps,
            "device": runs.get_run(run_id).device}


def train_loop(steps: int) -> dict[str, Any]:
    """A minimal PyTorch loop over the same features: random batches, dynamic padding, AdamW, fp32."""
    import torch

    from core.ml.models import load_causal_lm, load_tokenizer
    from core.ml.tasks.causal_lm import CausalCollator, encode_frame

    frame, path, columns, fmt = _features()
    torch.manual_seed(SEED)
    tok = load_tokenizer(path)
    features, _ = encode_frame(tok, frame, fmt, columns, MAX_LENGTH)
    model = load_causal_lm(path)
    model.config.use_cache = False
    model.train()
    collate = CausalCollator(tok.pad_token_id)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    order = torch.randperm(len(features)).tolist()
    tokens = 0
    start = time.perf_counter()
    for step in range(steps):
        batch = collate([features[order[(step * BATCH + j) % len(order)]] for j in range(BATCH)])
        tokens += int(batch["attention_mask"].sum())
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return {"tokens_per_s": tokens / (time.perf_counter() - start), "steps": steps}


def _child(name: str, steps: int, queue: Any) -> None:
    queue.put({"app": train_app, "hand_loop": train_loop}[name](steps))


def bench_training(steps: int) -> dict[str, Any]:
    """App training path vs the minimal loop, each in a fresh process."""
    ctx = mp.get_context("spawn")
    results: dict[str, Any] = {}
    for name in ("hand_loop", "app"):
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(name, steps, queue))
        proc.start()
        results[name] = queue.get()
        proc.join()
        print(f"  training {name:<9} {results[name]['tokens_per_s']:7.1f} tokens/s", file=sys.stderr,
              flush=True)
    results["ratio"] = round(results["app"]["tokens_per_s"] / results["hand_loop"]["tokens_per_s"], 3)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--new-tokens", type=int, default=64, help="max new tokens per generation")
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions per prompt (median)")
    parser.add_argument("--prompts", type=int, default=len(PROMPTS), help="how many of the prompts")
    parser.add_argument("--train-steps", type=int, default=6, help="training steps per variant")
    parser.add_argument("--skip-train", action="store_true", help="only the generation comparison")
    parser.add_argument("--skip-generation", action="store_true", help="only the training comparison")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    summary: dict[str, Any] = {}
    if not args.skip_generation:
        print("Generation (greedy, SmolLM2-135M-Instruct):", file=sys.stderr, flush=True)
        summary["generation"] = bench_generation(args.new_tokens, args.reps, args.prompts)
    if not args.skip_train:
        print("Training (chat-pairs, batch 8, max length 128):", file=sys.stderr, flush=True)
        summary["training"] = bench_training(args.train_steps)
    g = summary.get("generation")
    why = ("" if g is None or g["bf16"] else
           f"every candidate runs fp32 on {g['device']}: this CPU has no avx512_bf16/amx_bf16, so bf16 "
           "would be emulated and slower (the app switches to bf16 by itself where it is native)")
    summary["note"] = why
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    if g is not None:
        _print_generation(g)
    if why:
        print(f"note: {why}")
    if "training" in summary:
        print(f"training app / hand loop tokens/s = {summary['training']['ratio']:.2f}x   (target >= 0.95)")


def _print_generation(g: dict[str, Any]) -> None:
    print(f"{'candidate':<22} {'tokens/s':>9} {'x bare':>7} {'best':>7} {'x bare':>7} {'tok/cpu-s':>10} "
          f"{'x bare':>7}  same greedy tokens")
    for name, r in g["candidates"].items():
        print(f"{name:<22} {r['tokens_per_s']:>9.2f} {r['ratio']:>6.2f}x {r['best_tokens_per_s']:>7.2f} "
              f"{r['best_ratio']:>6.2f}x {r['tokens_per_cpu_s']:>10.2f} {r['cpu_ratio']:>6.2f}x  "
              f"{r['same_greedy_tokens']}")
    print("tokens/s: median of the timed calls; best: the fastest call (the least disturbed by other "
          "processes on a shared CPU); tok/cpu-s: per CPU-second of this process")
    print(f"onnx export (once per model): {g['onnx_export_seconds']} s; {g['threads']} threads; "
          f"target: the app's default path >= 2.5x bare fp32 generate")


if __name__ == "__main__":
    main()
