"""Generation engines a user could pick instead of llama.cpp, side by side in one run (issue 25).

Each engine runs in its own process (they bring their own thread pools and, for ONNX Runtime GenAI
and OpenVINO GenAI, their own Python packages), one after another in interleaved rounds; every
process loads its model, warms up on one prompt, then answers the same chat prompts greedily with
exactly ``--new-tokens`` new tokens each (end tokens ignored, so every engine does the same work).
Printed per engine: tokens/s (wall) and tokens per CPU-second (the figure that survives a loaded
machine), each as a ratio to bare fp32 ``generate``, load time, peak resident memory, and how many
of the first 20 greedy tokens equal the exact path's.

Engines (those whose package or converted folder is missing are skipped with a line):

* ``torch``        bare fp32 ``model.generate`` (the reference; the app's "exact" engine)
* ``llama-f16`` / ``llama-q8``   llama.cpp on the GGUF files ``core.ml.gguf_export`` writes (the app's
                   default engine and its 8-bit export)
* ``ortgenai-int4`` / ``ortgenai-int8``  ONNX Runtime GenAI on its model builder's output:
      python -m onnxruntime_genai.models.builder -m HF -i HF -o OUT/ort-int4 -p int4 -e cpu
* ``openvino-int8`` OpenVINO GenAI on optimum-intel's export:
      optimum-cli export openvino -m HF --task text-generation-with-past --weight-format int8 OUT/ov-int8

Neither of the last two is a dependency of the app: install them in a separate environment
(``--python`` names its interpreter; it must also have transformers for the tokenizer).

    .venv/bin/python bench/other_engines.py --folder OUT [--python OTHER/bin/python] [--rounds 3]
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

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ["Give me three tips for writing a good product description.",
           "Write a short friendly email announcing our startup's new feature: dark mode.",
           "What is the capital of France?"]
ENGINES = ("torch", "llama-f16", "llama-q8", "ortgenai-int4", "ortgenai-int8", "openvino-int8")
OTHER_PYTHON = ("ortgenai-int4", "ortgenai-int8", "openvino-int8")


def _one(engine: str, folder: Path, new_tokens: int, threads: int) -> dict[str, object]:
    """Load one engine in this process and time it on the prompts (the child's side)."""
    import resource

    from transformers import AutoTokenizer

    hf = folder / "hf"
    tok = AutoTokenizer.from_pretrained(hf)
    ids = [tok(tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                       add_generation_prompt=True), add_special_tokens=False)["input_ids"]
           for p in PROMPTS]
    start = time.perf_counter()
    if engine == "torch":
        import torch
        from transformers import AutoModelForCausalLM

        torch.set_num_threads(threads)
        model = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32).eval()

        def generate(prompt: list[int]) -> list[int]:
            with torch.no_grad():
                out = model.generate(torch.tensor([prompt]), max_new_tokens=new_tokens,
                                     min_new_tokens=new_tokens, do_sample=False)
            return out[0, len(prompt):].tolist()
    elif engine.startswith("llama"):
        from llama_cpp import Llama

        llm = Llama(model_path=str(folder / f"{engine.split('-')[1]}.gguf"), n_ctx=512, n_threads=threads,
                    n_threads_batch=threads, verbose=False)

        def generate(prompt: list[int]) -> list[int]:
            out: list[int] = []
            for token in llm.generate(prompt, temp=0.0, top_k=1, reset=True):
                out.append(int(token))
                if len(out) >= new_tokens:
                    break
            return out
    elif engine.startswith("ortgenai"):
        import onnxruntime_genai as og

        model = og.Model(str(folder / engine.replace("ortgenai", "ort")))

        def generate(prompt: list[int]) -> list[int]:
            params = og.GeneratorParams(model)
            params.set_search_options(max_length=len(prompt) + new_tokens,
                                      min_length=len(prompt) + new_tokens, do_sample=False)
            gen = og.Generator(model, params)
            gen.append_tokens(prompt)
            out: list[int] = []
            while not gen.is_done():
                gen.generate_next_token()
                out.append(int(gen.get_next_tokens()[0]))
            return out
    else:  # openvino-int8
        import numpy as np
        import openvino as ov
        import openvino_genai as ovg

        pipe = ovg.LLMPipeline(str(folder / "ov-int8"), "CPU", INFERENCE_NUM_THREADS=threads)

        def generate(prompt: list[int]) -> list[int]:
            config = ovg.GenerationConfig()
            config.max_new_tokens = config.min_new_tokens = new_tokens
            config.do_sample = False
            return list(pipe.generate(ov.Tensor(np.array([prompt], dtype=np.int64)), config).tokens[0])
    load = time.perf_counter() - start
    generate(ids[-1])  # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    firsts, count = [], 0
    for prompt in ids:
        out = generate(prompt)
        count += len(out)
        firsts.append(out[:20])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"engine": engine, "tokens": count, "tokens_per_s": count / wall, "tokens_per_cpu_s": count / cpu,
            "load_s": load, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "first_tokens": firsts}


def _available(engine: str, folder: Path) -> str | None:
    """Why an engine cannot run here (its converted files are missing), else None."""
    need = {"llama-f16": "f16.gguf", "llama-q8": "q8.gguf", "ortgenai-int4": "ort-int4",
            "ortgenai-int8": "ort-int8", "openvino-int8": "ov-int8"}.get(engine)
    if need and not (folder / need).exists():
        return f"{folder / need} is missing (see this script's docstring for the command that makes it)"
    return None


def _prepare(folder: Path) -> None:
    """The fp32 folder and the two GGUF files, from the catalogue's SmolLM2 (the app's own code)."""
    sys.path.insert(0, str(ROOT))
    from core.ml.gguf_export import write_gguf
    from core.models import catalog

    hf = folder / "hf"
    if not hf.exists():
        import shutil

        shutil.copytree(catalog.model_path(catalog.SMOLLM2_KEY), hf)
    for name, qtype in (("f16.gguf", "F16"), ("q8.gguf", "Q8_0")):
        if not (folder / name).exists():
            write_gguf(hf, folder / name, qtype)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, required=True, help="where the converted models live")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter with onnxruntime-genai / openvino-genai installed")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one, args.folder, args.new_tokens, args.threads)))
        return 0
    _prepare(args.folder)
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    results: dict[str, list[dict[str, object]]] = {}
    for engine in ENGINES:
        if (why := _available(engine, args.folder)) is not None:
            print(f"{engine}: skipped, {why}")
    engines = [e for e in ENGINES if _available(e, args.folder) is None]
    for _ in range(args.rounds):
        for engine in engines:
            python = args.python if engine in OTHER_PYTHON else sys.executable
            done = subprocess.run([python, __file__, "--one", engine, "--folder", str(args.folder),
                                   "--new-tokens", str(args.new_tokens), "--threads", str(args.threads)],
                                  capture_output=True, text=True, env=env)
            if done.returncode != 0:
                print(f"{engine}: failed ({(done.stderr.strip().splitlines() or ['?'])[-1]})")
                continue
            results.setdefault(engine, []).append(json.loads(done.stdout.strip().splitlines()[-1]))
    base = results.get("torch")
    if not base:
        print("bare fp32 generate did not run: no ratios")
        return 1
    base_rate = statistics.median(r["tokens_per_s"] for r in base)
    base_cpu = statistics.median(r["tokens_per_cpu_s"] for r in base)
    exact = base[0]["first_tokens"]
    print(f"CPU: {_cpu()} · {args.threads} threads · load average {os.getloadavg()[0]:.1f} · "
          f"{args.rounds} interleaved rounds · {len(PROMPTS)} prompts x {args.new_tokens} new tokens")
    print(f"{'engine':15} {'tok/s':>7} {'x fp32':>7} {'tok/CPU-s':>10} {'x fp32':>7} {'load s':>7} "
          f"{'peak MB':>8} {'first 20 = exact':>17}")
    for engine, rows in results.items():
        rate = statistics.median(r["tokens_per_s"] for r in rows)
        per_cpu = statistics.median(r["tokens_per_cpu_s"] for r in rows)
        same = sum(_common(a, b) for a, b in zip(rows[0]["first_tokens"], exact, strict=True))
        print(f"{engine:15} {rate:7.1f} {rate / base_rate:7.2f} {per_cpu:10.1f} {per_cpu / base_cpu:7.2f} "
              f"{statistics.median(r['load_s'] for r in rows):7.2f} "
              f"{max(r['peak_rss_mb'] for r in rows):8.0f} {same:>10}/{20 * len(PROMPTS)}")
    return 0


def _common(a: list[int], b: list[int]) -> int:
    """How many leading tokens two greedy answers share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _cpu() -> str:
    sys.path.insert(0, str(ROOT))
    from core.ml.device import describe_machine

    return describe_machine()


if __name__ == "__main__":
    sys.exit(main())
