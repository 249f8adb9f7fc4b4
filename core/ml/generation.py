"""The generation engine: llama.cpp or transformers behind one streaming path, seeded sampling, stop text.

One path serves the playground, the CLI, answer scoring and the server: ``start_stream`` generates
in a thread and pushes ``(sequence index, text chunk)`` pairs into a queue. Two engines answer:

* ``llama.cpp`` (``core.ml.llama_engine``) on the model's GGUF file: the default on a CPU, several
  times faster than ``generate`` (``bench/generate.py``); concurrent streams each take one of its
  contexts, so they do not wait on a lock around the model;
* ``exact``: transformers' ``generate`` on the full-precision weights (loaded only when used), the
  default on a GPU and the fallback, with a sentence, when llama.cpp is missing or cannot read the
  model (``core.ml.exact_generation``, imported only then). Sampling draws from a private
  ``torch.Generator``, so the same seed gives the same text.

The two compute differently (llama.cpp rounds weights and activations to 8 or 4 bits), so a greedy
answer can differ between them after some tokens: every result names the engine that wrote it and
why (``StreamResult.engine``/``engine_note``). Text is decoded incrementally and never ends in a
replacement character: a token limit that cuts a multi-byte character drops its first bytes.
Stop sequences end a sequence as soon as its text contains one, and are trimmed from the output
(text that might be the start of a stop sequence is held back while streaming).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from core.generation_settings import GenerationSettings, ModelSource
from core.ml import llama_engine
from core.ml.light_tokenizer import LightTokenizer, usable
from core.tasks.chat_template import render_chat
from core.tasks.stop_text import StopScanner

logger = logging.getLogger(__name__)
AUTO, LLAMA, EXACT = "auto", "llama.cpp", "exact"  # the engines GenerationSettings.engine names
_END = object()
WHY_DIFFERENT = ("it computes with weights and activations rounded to {bits}, so a greedy answer can "
                 "differ from the exact engine's (transformers) after some tokens")


class LoadedModel:
    """A model ready to generate, shared by every session (through ``core.inference.cache``).

    The tokenizer is loaded at once (``core.ml.light_tokenizer`` when the folder has a tokenizer.json:
    no transformers); transformers' tokenizer (``hf_tokenizer``) and weights (``model``) only when the
    exact engine or a likelihood needs them, and the llama.cpp engine (``llama()``) on its first use,
    so a server answering with llama.cpp never imports torch. Hold ``lock`` while using ``model``;
    the llama.cpp engine has its own contexts.
    """

    def __init__(self, ref: str, tokenizer: Any, device: str, path: Path, *, model: Any = None,
                 loader: Callable[[], Any] | None = None, adapter_path: Path | None = None,
                 gguf: Path | None = None, gguf_problem: str | None = None, eos: set[int] | None = None,
                 load_seconds: float = 0.0, contexts: int = 1) -> None:
        self.ref, self.tokenizer, self.device, self.path = ref, tokenizer, device, path
        self.adapter_path, self.gguf, self.gguf_problem = adapter_path, gguf, gguf_problem
        self.load_seconds, self.contexts = load_seconds, contexts
        self.lock = threading.Lock()
        self._model, self._loader = model, loader
        self._llama: llama_engine.LlamaEngine | None = None
        self._hf_tokenizer: Any = None
        self._load_lock = threading.Lock()
        self.eos_ids = eos if eos is not None else _eos_from(model, tokenizer, path)

    @property
    def model(self) -> Any:
        """The transformers model (loaded on first use)."""
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    assert self._loader is not None, "a loaded model without weights or a loader"
                    self._model, self.device = self._loader()
        return self._model

    @property
    def hf_tokenizer(self) -> Any:
        """transformers' tokenizer of the model (the exact engine's; loaded on first use)."""
        if not isinstance(self.tokenizer, LightTokenizer):
            return self.tokenizer
        if self._hf_tokenizer is None:
            with self._load_lock:
                if self._hf_tokenizer is None:
                    self._hf_tokenizer = _generation_tokenizer(self.tokenizer.folder)
        return self._hf_tokenizer

    @property
    def config(self) -> Any:
        """The model's config.json as attributes (``max_position_embeddings``...), without transformers."""
        if self._model is not None:
            return self._model.config
        try:
            data = json.loads((Path(self.path) / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        return SimpleNamespace(**{k: v for k, v in data.items() if isinstance(k, str) and k.isidentifier()})

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def engine_for(self, requested: str) -> tuple[str, str]:
        """The engine that answers a request for ``requested``, and the sentence that says why."""
        if requested == EXACT:
            return EXACT, f"Engine: exact (transformers on {self.device}), as chosen."
        if not self.device.startswith("cpu"):
            return EXACT, (f"Engine: exact (transformers on {self.device}); llama.cpp is built for the "
                           "CPU here.")
        reason = llama_engine.unavailable_reason() or self.gguf_problem
        if reason is None and (self.gguf is None or not self.gguf.is_file()):
            reason = "the model has no GGUF file for llama.cpp yet"
        if reason:
            return EXACT, f"Engine: exact (transformers on {self.device}) because {reason}."
        bits = "4 bits" if "Q4" in self.gguf.name else "8 bits" if "Q8" in self.gguf.name else "16 bits"
        threads = ""
        if self._llama is not None:  # loaded: how many threads per answer it measured fastest here
            n = self._llama.threads
            threads = f" ({n} thread{'s' if n != 1 else ''} per answer, the fastest measured on this machine)"
        return LLAMA, f"Engine: llama.cpp on {self.gguf.name}{threads}; {WHY_DIFFERENT.format(bits=bits)}."

    def prepare(self, requested: str) -> tuple[str, str]:
        """Load the engine that answers a request for ``requested`` (llama.cpp's contexts, or the
        transformers weights) and return it with the sentence naming it (with llama.cpp's thread count,
        measured as it loads)."""
        engine, note = self.engine_for(requested)
        if engine == LLAMA:
            self.llama()
            return self.engine_for(requested)  # now with the thread count it measured as it loaded
        _ = self.model
        return engine, note

    def llama(self) -> llama_engine.LlamaEngine:
        """The llama.cpp engine over the model's GGUF file (created on first use)."""
        if self._llama is None:
            with self._load_lock:
                if self._llama is None:
                    assert self.gguf is not None
                    self._llama = llama_engine.LlamaEngine(self.gguf, contexts=self.contexts)
        return self._llama


def _eos_from(model: Any, tokenizer: Any, path: Path) -> set[int]:
    """The token ids that end an answer: the generation config's, else the tokenizer's."""
    eos = model.generation_config.eos_token_id if model is not None else None
    if eos is None and (Path(path) / "generation_config.json").is_file():
        config = json.loads((Path(path) / "generation_config.json").read_text(encoding="utf-8"))
        eos = config.get("eos_token_id")
    eos = eos if eos is not None else tokenizer.eos_token_id
    return set(eos if isinstance(eos, list) else [eos]) - {None}


def _generation_tokenizer(folder: Path) -> Any:
    """The model's tokenizer straight from its tokenizer.json: the same ids as ``AutoTokenizer`` (the same
    class in transformers 5), without importing the modelling code AutoTokenizer's config lookup pulls
    in, which was most of a server's start (12 of 24 s on a loaded 2-core machine)."""
    from core.ml.models import load_tokenizer

    if not (Path(folder) / "tokenizer.json").is_file():
        return load_tokenizer(folder)
    from transformers import PreTrainedTokenizerFast

    try:
        tokenizer = PreTrainedTokenizerFast.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError):
        return load_tokenizer(folder)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _weights(source: ModelSource) -> tuple[Any, str]:
    from core.ml import device as devices
    from core.ml.exact_generation import load_weights

    choice = devices.choose()
    return load_weights(source, choice), choice.name


def load_model(source: ModelSource, contexts: int = 1) -> LoadedModel:
    """The model behind a source: its tokenizer now, its weights (LoRA merged) or llama.cpp when used.

    On a machine without a GPU, neither torch nor transformers is imported until the exact engine is
    used (``llama_engine.cpu_only`` says so from the system's device files)."""
    start = time.perf_counter()
    if llama_engine.cpu_only():
        device = f"cpu ({llama_engine.cpu_threads()} threads)"
    else:
        from core.ml import device as devices

        device = devices.choose().name
    tokenizer_dir = source.path
    if source.adapter_path is not None and (source.adapter_path / "tokenizer_config.json").is_file():
        tokenizer_dir = source.adapter_path
    tokenizer = (LightTokenizer(tokenizer_dir) if usable(tokenizer_dir)
                 else _generation_tokenizer(tokenizer_dir))
    return LoadedModel(source.ref, tokenizer, device, source.path,
                       loader=lambda: _weights(source), adapter_path=source.adapter_path,
                       gguf=source.gguf, gguf_problem=source.gguf_problem,
                       load_seconds=time.perf_counter() - start, contexts=contexts)


def prompt_ids(loaded: LoadedModel, prompt: dict[str, Any]) -> list[int]:
    """Token ids of a stored prompt: raw text, or chat turns through the tokenizer's chat template."""
    tok = loaded.tokenizer
    if "messages" in prompt:
        if loaded.has_chat_template:  # under a time and size budget; a runaway template falls back to ChatML
            rendered = render_chat(tok, prompt["messages"], add_generation_prompt=True)
            if rendered.problem:
                logger.warning(rendered.problem)
            return [int(t) for t in tok(rendered.text, add_special_tokens=False)["input_ids"]]
        # a model without a chat template sees the turns as a plain transcript
        turns = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in prompt["messages"])
        text = turns + "Assistant:"
    else:
        text = prompt["text"]
    return [int(t) for t in tok(text)["input_ids"]]


def encode_prompt(loaded: LoadedModel, prompt: dict[str, Any]) -> dict[str, Any]:
    """``prompt_ids`` as the tensors transformers' ``generate`` takes (input_ids and attention_mask)."""
    import torch

    ids = torch.tensor([prompt_ids(loaded, prompt)], dtype=torch.long)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


@dataclass
class StreamResult:
    """What a finished stream produced, with its timings."""

    outputs: list[str]
    new_tokens: int
    prompt_tokens: int
    time_to_first_token: float | None
    tokens_per_second: float | None
    seconds: float
    device: str
    stopped_early: bool = False
    finished: list[bool] = field(default_factory=list)  # per sequence: ended by EOS/stop, not by the limit
    engine: str = EXACT  # the engine that wrote the text
    engine_note: str = ""  # one sentence: which engine answered and why


def complete_text(text: str) -> str:
    """Text without the replacement characters that stand for a UTF-8 character cut at its end.

    A token limit can stop generation between the bytes of one character (a Chinese character is
    three bytes, often two tokens); decoders show those bytes as U+FFFD. They are held back while
    more tokens may come, and dropped when none will.
    """
    return text.rstrip("\ufffd")


def complete_bytes(data: bytes) -> str:
    """UTF-8 bytes as text without an incomplete character at the end (invalid bytes inside: U+FFFD)."""
    return complete_text(data.decode("utf-8", errors="replace"))


@dataclass
class _Rows:
    """Per-sequence decoding state shared by the streamer and the stop criterion (generation thread only)."""

    tokenizer: Any
    stops: tuple[str, ...]
    eos: set[int]
    n: int
    out: queue.Queue
    ids: list[list[int]] = field(default_factory=list)
    pieces: list[bytearray] = field(default_factory=list)  # the llama.cpp engine: each sequence's bytes
    sent: list[str] = field(default_factory=list)
    done: list[bool] = field(default_factory=list)
    scanners: list[StopScanner] = field(default_factory=list)
    first_token_at: float | None = None

    def __post_init__(self) -> None:
        self.ids = [[] for _ in range(self.n)]
        self.pieces = [bytearray() for _ in range(self.n)]
        self.sent = [""] * self.n
        self.done = [False] * self.n
        self.scanners = [StopScanner(self.stops) for _ in range(self.n)]

    def text(self, i: int) -> str:
        if self.pieces[i]:
            return bytes(self.pieces[i]).decode("utf-8", errors="replace")
        return self.tokenizer.decode(self.ids[i], skip_special_tokens=True)

    def emit(self, i: int, final: bool) -> None:
        text = complete_text(self.text(i))  # an incomplete UTF-8 character: wait for (or drop) its bytes
        cut = self.scanners[i].first(text) if self.stops else -1
        if cut >= 0:
            text, final, self.done[i] = text[:cut], True, True
        end = len(text)
        if not final and self.stops:  # could be the start of a stop sequence: hold it back
            end -= self.scanners[i].held(text, end)
        already = len(self.sent[i])
        if end > already:  # `sent` is exactly what was streamed, so the stored output matches the screen
            self.sent[i] += text[already:end]
            self.out.put((i, text[already:end]))


class TextStream:
    """Iterates ``(index, chunk)`` while a background thread generates; ``result`` is set at the end."""

    def __init__(self, loaded: LoadedModel, prompt: dict[str, Any], settings: GenerationSettings) -> None:
        self.loaded, self.prompt, self.settings = loaded, prompt, settings
        self.queue: queue.Queue = queue.Queue()
        self.cancel = threading.Event()
        self.result: StreamResult | None = None
        self._finished = False
        self.thread = threading.Thread(target=self._run, name=f"generate-{loaded.ref}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result = run_generation(self.loaded, self.prompt, self.settings, self.queue, self.cancel)
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
            self.queue.put(exc)
        finally:
            self.queue.put(_END)

    def __iter__(self) -> Iterator[tuple[int, str]]:
        try:
            while True:
                item = self.queue.get()
                if item is _END:
                    self._finished = True
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if not self._finished:
                self.cancel.set()  # the reader went away: stop the model instead of finishing unseen

    def close(self) -> None:
        """Ask the model to stop after its current token."""
        self.cancel.set()


def start_stream(loaded: LoadedModel, prompt: dict[str, Any], settings: GenerationSettings) -> TextStream:
    """Start generating in a background thread; iterate the result for text chunks."""
    return TextStream(loaded, prompt, settings)


def run_generation(loaded: LoadedModel, prompt: dict[str, Any], settings: GenerationSettings,
                   out: queue.Queue, cancel: threading.Event | None = None) -> StreamResult:
    """Generate in the calling thread on the engine ``settings.engine`` resolves to; chunks go to ``out``."""
    cancel = cancel or threading.Event()
    # the engine is loaded (once) before the clock starts: the first token times the prompt, not the load
    engine, note = loaded.prepare(getattr(settings, "engine", AUTO))
    start = time.perf_counter()
    ids = prompt_ids(loaded, prompt)
    prompt_len = len(ids)
    if engine == LLAMA:
        rows = _Rows(tokenizer=loaded.tokenizer, stops=settings.stop, eos=loaded.eos_ids,
                     n=settings.num_return_sequences, out=out)
        _generate_llama(loaded, ids, settings, rows, cancel)
    else:
        import torch

        from core.ml.exact_generation import generate_exact

        rows = _Rows(tokenizer=loaded.hf_tokenizer, stops=settings.stop, eos=loaded.eos_ids,
                     n=settings.num_return_sequences, out=out)
        with loaded.lock, torch.inference_mode():
            generate_exact(loaded, encode_prompt(loaded, prompt), settings, rows, cancel)
    end = time.perf_counter()
    seconds = end - start
    new_tokens = sum(len(ids) for ids in rows.ids)
    first = rows.first_token_at
    # the writing speed: the tokens after the first over the time after it (the first token's wait is
    # the prompt's, shown beside it); an answer of one token has no speed
    speed = (new_tokens - 1) / (end - first) if first and new_tokens > 1 and end > first else None
    return StreamResult(outputs=list(rows.sent), new_tokens=new_tokens, prompt_tokens=prompt_len,
                        time_to_first_token=(first - start) if first else None,
                        tokens_per_second=speed,
                        seconds=seconds, device=loaded.device, stopped_early=cancel.is_set(),
                        finished=list(rows.done), engine=engine, engine_note=note)


def _generate_llama(loaded: LoadedModel, ids: list[int], settings: GenerationSettings, rows: _Rows,
                    cancel: threading.Event) -> None:
    """Each sequence on llama.cpp in turn (sequence i samples with seed + i); bytes in, text out."""
    engine = loaded.llama()
    for i in range(rows.n):
        if cancel.is_set():
            break

        def on_token(token: int, piece: bytes, i: int = i) -> bool:
            rows.first_token_at = rows.first_token_at or time.perf_counter()
            rows.ids[i].append(token)
            rows.pieces[i] += piece
            rows.emit(i, final=False)
            return not (rows.done[i] or cancel.is_set())

        _, ended = engine.generate(ids, settings.max_new_tokens, settings, loaded.eos_ids, on_token,
                                   seed_offset=i)
        rows.done[i] = rows.done[i] or (ended and not cancel.is_set())
        rows.emit(i, final=True)
