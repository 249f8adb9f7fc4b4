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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def cpu_threads() -> int:
    """Threads for one generation: every core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Sampling:
    """What llama.cpp's sampler needs; temperature 0 is greedy (the highest logit, no randomness)."""

    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int = 0


class LlamaEngine:
    """One GGUF model with ``contexts`` llama.cpp contexts; thread-safe."""

    def __init__(self, path: Path, contexts: int = 1, threads: int | None = None,
                 context_tokens: int = CONTEXT) -> None:
        from llama_cpp import Llama

        self.path = Path(path)
        self.threads = threads or cpu_threads()
        start = time.perf_counter()
        self._free: queue.Queue[Any] = queue.Queue()
        self.contexts = max(1, contexts)
        for _ in range(self.contexts):
            self._free.put(Llama(model_path=str(self.path), n_ctx=context_tokens, n_threads=self.threads,
                                 n_threads_batch=self.threads, n_batch=512, verbose=False,
                                 use_mmap=True))
        first = self._free.queue[0]
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

    def generate(self, ids: list[int], max_new_tokens: int, sampling: Sampling, eos_ids: set[int],
                 on_token: Callable[[int, bytes], bool]) -> tuple[int, bool]:
        """Generate after the prompt ids; ``on_token(id, bytes)`` returns False to stop.

        Returns (new tokens, whether an end token finished it). The answer is cut to what the
        context holds after the prompt.
        """
        if not ids:
            raise ValueError("the prompt is empty")
        if len(ids) >= self.context_tokens:
            raise ValueError(f"the prompt has {len(ids)} tokens; this engine holds {self.context_tokens}")
        budget = min(max_new_tokens, self.context_tokens - len(ids))
        with self._context() as llm:
            llm.set_seed(int(sampling.seed) % 2**31)
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

    def greedy(self, prompts: list[list[int]], max_new_tokens: int, eos_ids: set[int],
               progress: Callable[[int, int], None] | None = None) -> list[bytes]:
        """Greedy answers (their bytes) to many prompts, one at a time on one context (llama.cpp reuses
        the key/value cache of the prefix a prompt shares with the one before, e.g. the system turn)."""
        answers: list[bytes] = []
        for n, ids in enumerate(prompts, start=1):
            pieces: list[bytes] = []

            def keep(_token: int, piece: bytes, pieces: list[bytes] = pieces) -> bool:
                pieces.append(piece)
                return True
            self.generate(ids, max_new_tokens, Sampling(), eos_ids, keep)
            answers.append(b"".join(pieces))
            if progress is not None:
                progress(n, len(prompts))
        return answers

    def close(self) -> None:
        while not self._free.empty():
            self._free.get_nowait().close()
