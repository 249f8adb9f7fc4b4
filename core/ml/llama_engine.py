"""llama.cpp (through ``llama-cpp-python``) as the generation engine on CPU: a GGUF file, token ids in,
token bytes out.

The prompt is tokenised by the model's own transformers tokenizer (the chat template included), so
llama.cpp reads exactly the ids the ``exact`` engine reads; each new token comes back as its bytes,
and ``core.ml.generation`` turns bytes into text without ever cutting a UTF-8 character.
A ``LlamaEngine`` holds a few llama.cpp contexts over one memory-mapped model: concurrent
requests each take a free context (the weights are shared by the operating system's page cache)
and wait in line only when all are busy. ``bench/generate.py`` measures the engine against bare
fp32 ``generate``.

``llama-cpp-python`` compiles llama.cpp at install time (an optional extra, ``.[llamacpp]``);
``unavailable_reason`` says in one sentence why it cannot run here, and the app then generates
with transformers.
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.generation_settings import MAX_NEW_TOKENS, GenerationSettings
from core.ml import llama_batch
from core.ml.llama_batch import BatchAnswer

NAME = "llama.cpp"
CONTEXT = 4096  # tokens of prompt + answer one context holds


def unavailable_reason() -> str | None:
    """None when llama.cpp can run here, else a sentence saying why not."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return ("llama.cpp is not installed (it compiles from source: `pip install -e .[llamacpp]`, "
                "or scripts/install.sh with a C compiler present)")
    except OSError as exc:  # a build whose shared library cannot load on this machine
        return f"llama.cpp is installed but its library does not load ({exc})"
    return None


GPU_DEVICE_FILES = ("/dev/nvidia0", "/dev/nvidiactl", "/dev/kfd", "/dev/dxg")  # NVIDIA, AMD ROCm, WSL


def cpu_only() -> bool:
    """Whether this machine certainly has no GPU torch could use (no GPU device file, not a Mac): then
    the CPU answers and torch need not be imported to find that out (seconds of a server's start)."""
    import sys

    return sys.platform.startswith("linux") and not any(os.path.exists(p) for p in GPU_DEVICE_FILES)


def cpu_threads() -> int:
    """Threads for one generation: every core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# the highest logit, no randomness
GREEDY = GenerationSettings(temperature=0.0, max_new_tokens=MAX_NEW_TOKENS)
SLOTS = 24  # sequences decoded together when many prompts are answered at once (bench/evaluate.py)


THREAD_PROMPT = b"Our product helps small teams plan their week: tasks, notes and one shared calendar."
THREAD_STEPS = 6  # single-token steps timed per choice, after a short prompt


def thread_choices(cores: int) -> list[int]:
    """The threads per context worth trying: 1, 2, 4, ... and every core."""
    choices = {cores}
    n = 1
    while n < cores:
        choices.add(n)
        n *= 2
    return sorted(choices)


_FASTEST: dict[tuple[str, int, int], int] = {}  # (GGUF file, its size, cores) -> threads, once per process


def fastest_threads(llm: Any, cores: int) -> int:
    """How many threads one llama.cpp context writes tokens fastest with here, measured on ``llm``: a
    short prompt and a few single-token steps per choice, two alternating rounds after one untimed
    pass, the lowest total.

    More threads are not always faster: ggml's threads meet after every operation of the graph, and
    on a small model that meeting costs more than another core gives. On a 2-vCPU AMD EPYC VM SmolLM2
    wrote 55-68 tokens/s with one thread and 33-35 with two.
    """
    import llama_cpp

    choices = thread_choices(cores)
    if len(choices) == 1:
        return choices[0]
    ids = llm.tokenize(THREAD_PROMPT, add_bos=False)[:16]
    seconds = {n: 0.0 for n in choices}
    try:
        # Untimed first: the weights of a file not yet in the page cache come from the disk during the
        # first steps, and timing those made the first choice look slow (8 of 9 cold starts of a probe
        # picked 2 threads for SmolLM2 here, 28-37 tokens/s, where 1 thread writes 60-66).
        llm.reset()
        llm.eval(ids)
        llm.eval(ids[:1])
        for order in (choices, choices[::-1]):
            for n in order:
                llama_cpp.llama_set_n_threads(llm._ctx.ctx, n, n)
                llm.reset()
                start = time.perf_counter()
                llm.eval(ids)
                for k in range(THREAD_STEPS):
                    llm.eval([ids[k % len(ids)]])
                seconds[n] += time.perf_counter() - start
    finally:
        llm.reset()
    return min(choices, key=lambda n: (seconds[n], n))


class LlamaEngine:
    """One GGUF model with ``contexts`` llama.cpp contexts; thread-safe.

    Each context computes with ``threads`` threads: when not given, the number this machine writes
    tokens fastest with (``fastest_threads``, measured once per file and process); batched answers
    run on as many contexts side by side as the cores hold.
    """

    def __init__(self, path: Path, contexts: int = 1, threads: int | None = None,
                 context_tokens: int = CONTEXT) -> None:
        import llama_cpp
        from llama_cpp import Llama

        self.path = Path(path)
        self.cores = cpu_threads()
        self.threads = threads or self.cores
        start = time.perf_counter()
        self._free: queue.Queue[Any] = queue.Queue()
        self.contexts = max(1, contexts)
        for _ in range(self.contexts):
            self._free.put(Llama(model_path=str(self.path), n_ctx=context_tokens, n_threads=self.threads,
                                 n_threads_batch=self.threads, n_batch=512, verbose=False,
                                 use_mmap=True, flash_attn=llama_batch.FLASH))
        first = self._first = self._free.queue[0]  # its model and vocabulary serve batched answers too
        if threads is None:
            key = (str(self.path), self.path.stat().st_size, self.cores)
            if key not in _FASTEST:
                _FASTEST[key] = fastest_threads(first, self.cores)
            self.threads = _FASTEST[key]
            for llm in self._free.queue:
                llama_cpp.llama_set_n_threads(llm._ctx.ctx, self.threads, self.threads)
                llm.n_threads = llm.n_threads_batch = self.threads
        self.context_tokens = int(first.n_ctx())
        self.vocab_size = int(first.n_vocab())
        self.load_seconds = time.perf_counter() - start

    @contextmanager
    def _context(self) -> Iterator[Any]:
        llm = self._free.get()  # waits while every context is answering another request
        try:
            yield llm
        finally:
            self._free.put(llm)

    def generate(self, ids: list[int], max_new_tokens: int, sampling: GenerationSettings, eos_ids: set[int],
                 on_token: Callable[[int, bytes], bool], seed_offset: int = 0) -> tuple[int, bool]:
        """Generate after the prompt ids with ``sampling``'s temperature, top-k, top-p, repetition
        penalty and seed (+ ``seed_offset``); ``on_token(id, bytes)`` returns False to stop.

        Returns (new tokens, whether an end token finished it). The answer is cut to what the
        context holds after the prompt.
        """
        if not ids:
            raise ValueError("the prompt is empty")
        if len(ids) >= self.context_tokens:
            raise ValueError(f"the prompt has {len(ids)} tokens; this engine holds {self.context_tokens}")
        budget = min(max_new_tokens, self.context_tokens - len(ids))
        with self._context() as llm:
            llm.set_seed((int(sampling.seed or 0) + seed_offset) % 2**31)
            count = 0
            greedy = sampling.temperature == 0
            tokens = llm.generate(ids, temp=0.0 if greedy else float(sampling.temperature),
                                  top_k=int(sampling.top_k), top_p=float(sampling.top_p), min_p=0.0,
                                  typical_p=1.0, repeat_penalty=float(sampling.repetition_penalty),
                                  reset=True)  # llama.cpp penalises repeats of the last 64 tokens
            try:
                for token in tokens:
                    if token in eos_ids:
                        return count, True
                    count += 1
                    if not on_token(int(token), llm.detokenize([token], special=False)):
                        return count, True
                    if count >= budget:
                        return count, False
            finally:
                tokens.close()
        return count, False

    def answer_many(self, prompts: list[list[int]], settings: GenerationSettings, eos_ids: set[int],
                    progress: Callable[[int, int], None] | None = None,
                    on_token: Callable[[int, int, bytes], bool] | None = None,
                    slots: int = SLOTS, lanes: int | None = None) -> list[BatchAnswer]:
        """Answers to many prompts, ``slots`` sequences decoded together (``core.ml.llama_batch``) on
        ``lanes`` contexts side by side (``llama_batch.lanes_for`` when None): prompt ``k`` samples with
        seed ``settings.seed + k``, as ``generate`` with ``seed_offset=k``."""
        from core.ml.llama_batch import decode_in_lanes, lanes_for

        for ids in prompts:
            if len(ids) >= self.context_tokens:
                raise ValueError(f"a prompt has {len(ids)} tokens; this engine holds {self.context_tokens}")
        budget = min(settings.max_new_tokens, self.context_tokens - max((len(p) for p in prompts), default=0))
        llm = self._first  # the model and its vocabulary only: the batch decodes on contexts of its own
        return decode_in_lanes(llm._model.model, prompts, replace(settings, max_new_tokens=max(1, budget)),
                               eos_ids, lambda token: llm.detokenize([token], special=False),
                               slots=slots, threads=self.threads, n_vocab=self.vocab_size,
                               lanes=lanes_for(len(prompts), self.cores // self.threads) if lanes is None
                               else lanes,
                               progress=progress, on_token=on_token)

    def greedy(self, prompts: list[list[int]], max_new_tokens: int, eos_ids: set[int],
               progress: Callable[[int, int], None] | None = None, slots: int = SLOTS,
               lanes: int | None = None) -> list[bytes]:
        """Greedy answers (their bytes) to many prompts, ``slots`` decoded together."""
        settings = replace(GREEDY, max_new_tokens=max_new_tokens)
        return [a.data for a in self.answer_many(prompts, settings, eos_ids, progress, slots=slots,
                                                 lanes=lanes)]

    def close(self) -> None:
        while not self._free.empty():
            self._free.get_nowait().close()
