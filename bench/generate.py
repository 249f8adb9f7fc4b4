"""Generation and causal-LM training speed of the app's paths against bare references, in one run.

Generation (SmolLM2-135M-Instruct, the same chat prompts, greedy, interleaved repetitions), each
candidate side by side against bare fp32 ``model.generate`` in this one process:

* app exact          – the app's path (thread, streaming, stops) on transformers' ``generate``, fp32;
* app default        – the app's path with engine "auto": llama.cpp on the model's F16 GGUF;
* llama.cpp F16, Q8_0 – llama.cpp on the GGUF files ``core.ml.gguf_export`` writes from the fp32
                       folder (what a fine-tuned run is converted to), the same prompt ids;
* llama.cpp Q4_1     – llama.cpp on the bundled 4-bit file, called directly (no app path);
* CTranslate2 int8   – ``ctranslate2.Generator`` on its int8 conversion of the fp32 folder (a wheel).

(``torch.ao`` dynamic int8 of every Linear, measured by earlier versions, is left out: deprecated in
torch 2.13 and its text differs from the exact path's.)

Prints tokens/s (wall: median and best call) and tokens per CPU-second, each as a ratio to bare
generate; time to first token (a one-token call: the prompt's prefill), the resident memory each
candidate added when it was loaded, and whether its greedy tokens equal bare generate's. With
``--quality N`` every candidate also answers N chat-pairs test prompts (greedy): ROUGE-L and chrF
with 95 % bootstrap intervals, and the paired difference to the exact path.
The hand-written decode loops of earlier versions (a torch KV loop and an onnxruntime one) are
retired: llama.cpp runs 2-4x faster than either on this model.

Training (``--train-steps``, default 6; ``--skip-train`` to leave it out), each in its own process:
the app's path (``core.ml.trainer.train`` with the causal-LM adapter) against a minimal PyTorch loop
over the same features. Prints training tokens/s and the ratio (target >= 0.95).

    .venv/bin/python bench/generate.py [--new-tokens 64] [--reps 3] [--quality 0] [--train-steps 6]
                                       [--skip-train | --skip-generation] [--json]
"""

from __future__ import annotations

import argparse
import atexit
import json
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
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
BASE = "bare fp32 generate"
BATCH, MAX_LENGTH, LR, SEED, TRAIN_ROWS = 8, 128, 5e-5, 42, 400
Candidate = Callable[[list[int], int], list[int]]  # prompt ids, new tokens -> new ids (end token excluded)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _candidates(path: Path, tok: Any, eos: set[int], work: Path
                ) -> tuple[dict[str, Candidate], dict[str, Any]]:
    """name -> fn(prompt ids, new tokens) -> new ids, and facts (memory added, conversion seconds)."""
    import torch

    from core.inference import generation as gen
    from core.ml import llama_engine
    from core.ml.gguf_export import F16, Q8_0, write_gguf
    from core.ml.models import load_causal_lm
    from core.models import assets

    facts: dict[str, Any] = {"memory_mb": {}, "convert_s": {}}
    runs: dict[str, Candidate] = {}

    def loaded(name: str, make: Callable[[], Candidate]) -> None:
        before = _rss_mb()
        runs[name] = make()
        facts["memory_mb"][name] = round(_rss_mb() - before, 1)

    def torch_generate(model: Any) -> Candidate:
        def fn(ids: list[int], new_tokens: int) -> list[int]:
            with torch.inference_mode():
                out = model.generate(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids),
                                     dtype=torch.long), max_new_tokens=new_tokens, do_sample=False,
                                     pad_token_id=tok.pad_token_id)
            return [t for t in out[0, len(ids):].tolist() if t not in eos]
        return fn

    loaded(BASE, lambda: torch_generate(load_causal_lm(path).eval()))

    def app(engine: str) -> Candidate:
        settings = gen.GenerationSettings(temperature=0, engine=engine)
        model = gen.get_loaded(KEY)
        # the weights (or the engine's), loaded now so that their memory is counted here
        model.prepare(engine)

        def fn(ids: list[int], new_tokens: int) -> list[int]:
            import queue as q
            from dataclasses import replace

            from core.ml.generation import run_generation

            prompt = {"text": tok.decode(ids)}  # the same ids (the chat template is already applied)
            result = run_generation(model, prompt, replace(settings, max_new_tokens=new_tokens), q.Queue())
            assert result.engine == ("exact" if engine == "exact" else "llama.cpp"), result.engine_note
            return tok(result.outputs[0], add_special_tokens=False)["input_ids"]
        return fn

    loaded("app exact", lambda: app("exact"))
    if llama_engine.unavailable_reason() is None:
        loaded("app default", lambda: app("auto"))

        def llama_engine_direct(engine: llama_engine.LlamaEngine) -> Candidate:
            def fn(ids: list[int], new_tokens: int) -> list[int]:
                out: list[int] = []
                engine.generate(ids, new_tokens, llama_engine.GREEDY, eos,
                                lambda token, _piece: out.append(token) is None)
                return out
            return fn

        def llama(file: Path) -> Candidate:
            return llama_engine_direct(llama_engine.LlamaEngine(file))

        # the app's own engine object without the app around it: what the playground's streaming,
        # stop-text scan and queue cost per token (the next rows are engines of their own on new files)
        loaded("app's engine called directly", lambda: llama_engine_direct(gen.get_loaded(KEY).llama()))
        for qtype in (F16, Q8_0):
            file = work / f"model-{qtype}.gguf"
            start = time.perf_counter()
            write_gguf(path, file, qtype, pre="smollm")
            facts["convert_s"][f"llama.cpp {qtype}"] = round(time.perf_counter() - start, 1)
            loaded(f"llama.cpp {qtype}", lambda file=file: llama(file))
        loaded("llama.cpp Q4_1", lambda: llama(assets.smollm2_gguf()))
    else:
        facts["llama_missing"] = llama_engine.unavailable_reason()
    try:
        import ctranslate2

        folder = work / "ct2-int8"
        start = time.perf_counter()
        ctranslate2.converters.TransformersConverter(str(path)).convert(str(folder), quantization="int8")
        facts["convert_s"]["CTranslate2 int8"] = round(time.perf_counter() - start, 1)

        def ct2() -> Candidate:
            generator = ctranslate2.Generator(str(folder), device="cpu", inter_threads=1,
                                              intra_threads=torch.get_num_threads())

            def fn(ids: list[int], new_tokens: int) -> list[int]:
                result = generator.generate_batch([tok.convert_ids_to_tokens(ids)], max_length=new_tokens,
                                                  sampling_topk=1, include_prompt_in_result=False,
                                                  end_token=[tok.convert_ids_to_tokens(e) for e in eos])
                return [t for t in result[0].sequences_ids[0] if t not in eos]
            return fn
        loaded("CTranslate2 int8", ct2)
    except ImportError:
        facts["ctranslate2_missing"] = "ctranslate2 is not installed (requirements-dev.txt)"
    return runs, facts


def _chat_ids(tok: Any, messages: list[dict[str, str]]) -> list[int]:
    ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]
    return [int(i) for i in ids]


def _quality(runs: dict[str, Candidate], tok: Any, n: int, new_tokens: int) -> dict[str, Any]:
    """Greedy answers of every candidate to the same N chat-pairs test prompts: ROUGE-L and chrF with
    intervals, and the paired difference to the exact path."""
    from core.data.gallery import load_gallery_frame
    from core.results.answer_metrics import paired_gain, score_answers
    from core.results.prompts import causal_examples

    _, frame, mapping, _ = load_gallery_frame("chat-pairs")
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    items = causal_examples(frame.iloc[n:], frame.iloc[:0], mapping, limit=n)
    prompts = [_chat_ids(tok, e.prompt["messages"]) for e in items]
    references = [e.reference for e in items]
    rows: dict[str, list[dict[str, float]]] = {}
    out: dict[str, Any] = {}
    for name, fn in runs.items():
        answers = [tok.decode(fn(list(ids), new_tokens), skip_special_tokens=True).strip() for ids in prompts]
        rows[name], summary = score_answers(answers, references)
        out[name] = {m: summary["metrics"][m] for m in ("rouge_l", "chrf")}
        print(f"  quality {name:<28} ROUGE-L {out[name]['rouge_l']['mean']:.3f}", file=sys.stderr, flush=True)
    exact = rows.get("app exact")
    for name in runs:
        if exact is not None:
            out[name]["rouge_l_minus_exact"] = paired_gain([r["rouge_l"] for r in rows[name]],
                                                           [r["rouge_l"] for r in exact])
    return {"examples": len(items), "candidates": out}


def bench_generation(new_tokens: int, reps: int, prompts: int = len(PROMPTS), quality: int = 0
                     ) -> dict[str, Any]:
    """Every candidate on the same prompt ids, interleaved (round 0 warms up and is not counted)."""
    from core.inference.generation import get_loaded
    from core.ml import device as devices
    from core.models import catalog

    path = catalog.model_path(KEY)
    loaded = get_loaded(KEY)
    tok = loaded.hf_tokenizer
    work = Path(tempfile.mkdtemp(prefix="uclab-bench-gen-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # converted models: about 0.5 GB a run
    runs, facts = _candidates(path, tok, set(loaded.eos_ids), work)
    names = list(runs)
    speed: dict[str, list[float]] = {n: [] for n in names}
    cpu_speed: dict[str, list[float]] = {n: [] for n in names}
    first: dict[str, list[float]] = {n: [] for n in names}
    texts: dict[str, dict[str, list[int]]] = {n: {} for n in names}
    for prompt in PROMPTS[:prompts]:
        ids = _chat_ids(tok, [{"role": "user", "content": prompt}])
        for rep in range(reps + 1):
            for name in names[rep % len(names):] + names[:rep % len(names)]:  # rotate the order
                wall, cpu = time.perf_counter(), time.process_time()
                out = runs[name](ids, new_tokens)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                texts[name][prompt] = out
                if rep:
                    speed[name].append(len(out) / wall)
                    cpu_speed[name].append(len(out) / cpu if cpu > 0 else float("nan"))
                    start = time.perf_counter()
                    runs[name](ids, 1)
                    first[name].append(time.perf_counter() - start)
        print(f"  {prompt[:40]:<40} " + " | ".join(f"{n} {statistics.median(speed[n][-reps:]):.1f}"
                                                   for n in names), file=sys.stderr, flush=True)
    rows = {n: {"tokens_per_s": round(statistics.median(speed[n]), 2),
                "best_tokens_per_s": round(max(speed[n]), 2),
                "ratio": round(statistics.median(speed[n]) / statistics.median(speed[BASE]), 2),
                "best_ratio": round(max(speed[n]) / max(speed[BASE]), 2),
                "tokens_per_cpu_s": round(statistics.median(cpu_speed[n]), 2),
                "cpu_ratio": round(statistics.median(cpu_speed[n]) / statistics.median(cpu_speed[BASE]), 2),
                "first_token_s": round(statistics.median(first[n]), 3),
                "memory_mb": facts["memory_mb"].get(n),
                "same_greedy_tokens": sum(texts[n][p] == texts[BASE][p] for p in texts[BASE]),
                "same_first_8": sum(texts[n][p][:8] == texts[BASE][p][:8] for p in texts[BASE])}
            for n in names}
    choice = devices.choose()
    summary = {"device": choice.name, "bf16": choice.bf16, "cpu_has_bf16": devices.cpu_supports_bf16(),
               "cpu": str(devices.machine_facts()["cpu"]), "threads": _threads(), "new_tokens": new_tokens,
               "reps": reps,
               "prompts": prompts, "convert_s": facts["convert_s"], "candidates": rows,
               "missing": [facts[k] for k in ("llama_missing", "ctranslate2_missing") if k in facts],
               "example": tok.decode(texts[names[-1]][PROMPTS[0]])}
    print(json.dumps(summary), file=sys.stderr, flush=True)  # the speed part, before the longer quality part
    if quality:
        summary["quality"] = _quality(runs, tok, quality, new_tokens)
    return summary


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
    atexit.register(shutil.rmtree, os.environ["UCLAB_HOME"], ignore_errors=True)
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
    parser.add_argument("--quality", type=int, default=0, help="chat-pairs test prompts to score (0: off)")
    parser.add_argument("--train-steps", type=int, default=6, help="training steps per variant")
    parser.add_argument("--skip-train", action="store_true", help="only the generation comparison")
    parser.add_argument("--skip-generation", action="store_true", help="only the training comparison")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    summary: dict[str, Any] = {}
    if not args.skip_generation:
        print("Generation (greedy, SmolLM2-135M-Instruct):", file=sys.stderr, flush=True)
        summary["generation"] = bench_generation(args.new_tokens, args.reps, args.prompts, args.quality)
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
    print(f"CPU: {g['cpu']}, {g['threads']} threads; {g['prompts']} prompts x {g['reps']} reps, "
          f"{g['new_tokens']} new tokens, greedy")
    print(f"{'candidate':<28} {'tokens/s':>9} {'x bare':>7} {'best':>7} {'x bare':>7} {'tok/cpu-s':>10} "
          f"{'x bare':>7} {'1st tok s':>9} {'+MB':>6}  same tokens (all / first 8)")
    for name, r in g["candidates"].items():
        print(f"{name:<28} {r['tokens_per_s']:>9.2f} {r['ratio']:>6.2f}x {r['best_tokens_per_s']:>7.2f} "
              f"{r['best_ratio']:>6.2f}x {r['tokens_per_cpu_s']:>10.2f} {r['cpu_ratio']:>6.2f}x "
              f"{r['first_token_s']:>9.3f} {r['memory_mb'] or 0:>6.0f}  "
              f"{r['same_greedy_tokens']}/{g['prompts']}"
              f" / {r['same_first_8']}/{g['prompts']}")
    print("tokens/s: median of the timed calls; best: the fastest call (the least disturbed by other "
          "processes on a shared CPU); tok/cpu-s: per CPU-second of this process; 1st tok: a one-token call; "
          "+MB: resident memory the candidate added when loaded (weights it shares are not counted twice)")
    print(f"conversions (once per model): {g['convert_s']}")
    for line in g["missing"]:
        print(f"left out: {line}")
    q = g.get("quality")
    if q:
        print(f"answer quality on {q['examples']} chat-pairs test prompts (mean [95 % interval]):")
        for name, r in q["candidates"].items():
            gap = r.get("rouge_l_minus_exact") or {}
            gap_text = (f"  vs exact {gap['mean']:+.3f} [{gap['low']:+.3f}, {gap['high']:+.3f}]"
                        if gap.get("mean") is not None else "")
            print(f"  {name:<28} ROUGE-L {r['rouge_l']['mean']:.3f} [{r['rouge_l']['low']:.3f}, "
                  f"{r['rouge_l']['high']:.3f}]  chrF {r['chrf']['mean']:.3f} [{r['chrf']['low']:.3f}, "
                  f"{r['chrf']['high']:.3f}]{gap_text}")


if __name__ == "__main__":
    main()
