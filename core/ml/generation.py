"""The generation engine: a shared model cache, streaming in a background thread, seeded sampling, stop text.

One path serves the playground, the CLI and ``generate()``: ``start_stream`` runs
``model.generate`` in a thread that holds the model's lock (fast tokenizers are not thread-safe)
and pushes ``(sequence index, text chunk)`` pairs into a queue. Sampling draws from a private
``torch.Generator`` inside a logits processor, so the same seed gives the same text even while
other threads generate; several sequences are sampled as one batch. Stop sequences end a
sequence as soon as its decoded text contains one, and are trimmed from the output (text that
might be the start of a stop sequence is held back while streaming).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.generation.streamers import BaseStreamer

from core.generation_settings import GenerationSettings, ModelSource
from core.ml import device as devices
from core.ml.decode import decode
from core.ml.models import load_causal_lm, load_tokenizer
from core.tasks.chat_template import render_chat
from core.tasks.stop_text import StopScanner

logger = logging.getLogger(__name__)
AUTO, FAST, EXACT, ONNX = "auto", "fast", "exact", "onnx"  # the engines GenerationSettings.engine names
_END = object()


@dataclass
class LoadedModel:
    """A model ready to generate, shared by every session (through ``core.inference.cache``); hold
    ``lock`` while using it."""

    ref: str
    model: Any
    tokenizer: Any
    lock: threading.Lock
    device: str
    path: Path
    load_seconds: float = 0.0
    adapter_path: Path | None = None
    onnx: Any = None  # the onnxruntime twin, built on first use of the "onnx" engine

    def onnx_file(self) -> Path:
        """Where this model's onnxruntime export is (or will be) kept under UCLAB_HOME."""
        from core.config import get_settings
        from core.ml.onnx_decoder import FILE, cache_folder

        folders = [self.path] + ([self.adapter_path] if self.adapter_path else [])
        return cache_folder(folders, get_settings().models_dir / "onnx-decoder") / FILE

    def onnx_model(self) -> Any:
        """The model as an onnxruntime decoder: exported once per model folder under UCLAB_HOME."""
        if self.onnx is None:
            import copy

            from core.ml.onnx_decoder import OrtCausalLM, export_decoder

            path = self.onnx_file()
            folder = path.parent
            if not path.is_file():
                export_decoder(copy.deepcopy(self.model), folder)
            self.onnx = OrtCausalLM(path, self.model.config)
        return self.onnx

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))


def load_model(source: ModelSource) -> LoadedModel:
    """Load the model behind a source (merging a LoRA adapter) on the best device and precision here."""
    start = time.perf_counter()
    choice = devices.choose()
    # bf16 weights only where the hardware computes bf16 natively (device.py decides); else fp32
    model = load_causal_lm(source.path, dtype=choice.dtype)
    tokenizer_dir = source.path
    if source.adapter_path is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(source.adapter_path)).merge_and_unload()
        if (source.adapter_path / "tokenizer_config.json").is_file():
            tokenizer_dir = source.adapter_path
    model = model.to(choice.device).eval()
    tokenizer = load_tokenizer(tokenizer_dir)
    return LoadedModel(ref=source.ref, model=model, tokenizer=tokenizer, lock=threading.Lock(),
                       device=choice.name, path=source.path, load_seconds=time.perf_counter() - start,
                       adapter_path=source.adapter_path)


def encode_prompt(loaded: LoadedModel, prompt: dict[str, Any]) -> dict[str, Any]:
    """Token ids of a stored prompt: raw text, or chat turns through the tokenizer's chat template."""
    tok = loaded.tokenizer
    if "messages" in prompt:
        if loaded.has_chat_template:  # under a time and size budget; a runaway template falls back to ChatML
            rendered = render_chat(tok, prompt["messages"], add_generation_prompt=True)
            if rendered.problem:
                logger.warning(rendered.problem)
            return tok(rendered.text, add_special_tokens=False, return_tensors="pt")
        # a model without a chat template sees the turns as a plain transcript
        turns = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in prompt["messages"])
        text = turns + "Assistant:"
    else:
        text = prompt["text"]
    return tok(text, return_tensors="pt")


class SeededSampler(LogitsProcessor):
    """Samples the next token with its own generator and leaves only that token for the greedy pick."""

    def __init__(self, settings: GenerationSettings, device: torch.device) -> None:
        warpers: list[Any] = [TemperatureLogitsWarper(settings.temperature)]
        if settings.top_k > 0:
            warpers.append(TopKLogitsWarper(settings.top_k))
        if settings.top_p < 1:
            warpers.append(TopPLogitsWarper(settings.top_p))
        self.warpers = LogitsProcessorList(warpers)
        self.generator = torch.Generator(device=device).manual_seed(int(settings.seed or 0))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        probs = torch.softmax(self.warpers(input_ids, scores).float(), dim=-1)
        chosen = torch.multinomial(probs, num_samples=1, generator=self.generator)
        return torch.full_like(scores, float("-inf")).scatter_(1, chosen, 0.0)


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


@dataclass
class _Rows:
    """Per-sequence decoding state shared by the streamer and the stop criterion (generation thread only)."""

    tokenizer: Any
    stops: tuple[str, ...]
    eos: set[int]
    n: int
    out: queue.Queue
    ids: list[list[int]] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    done: list[bool] = field(default_factory=list)
    scanners: list[StopScanner] = field(default_factory=list)
    first_token_at: float | None = None

    def __post_init__(self) -> None:
        self.ids = [[] for _ in range(self.n)]
        self.sent = [""] * self.n
        self.done = [False] * self.n
        self.scanners = [StopScanner(self.stops) for _ in range(self.n)]

    def text(self, i: int) -> str:
        return self.tokenizer.decode(self.ids[i], skip_special_tokens=True)

    def emit(self, i: int, final: bool) -> None:
        text = self.text(i)
        cut = self.scanners[i].first(text) if self.stops else -1
        if cut >= 0:
            text, final, self.done[i] = text[:cut], True, True
        end = len(text)
        if not final:
            end = len(text.rstrip("\ufffd"))  # an incomplete UTF-8 character: wait for its next bytes
            if self.stops:  # could be the start of a stop sequence: hold it back
                end -= self.scanners[i].held(text, end)
        already = len(self.sent[i])
        if end > already:  # `sent` is exactly what was streamed, so the stored output matches the screen
            self.sent[i] += text[already:end]
            self.out.put((i, text[already:end]))


class _Streamer(BaseStreamer):
    def __init__(self, rows: _Rows) -> None:
        self.rows, self.prompt_seen = rows, False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # generate() first hands over the prompt
            self.prompt_seen = True
            return
        rows = self.rows
        rows.first_token_at = rows.first_token_at or time.perf_counter()
        for i, token in enumerate(value.reshape(-1).tolist()):
            if rows.done[i]:
                continue
            if token in rows.eos:
                rows.done[i] = True
                rows.emit(i, final=True)
                continue
            rows.ids[i].append(token)
            rows.emit(i, final=False)

    def end(self) -> None:
        for i in range(self.rows.n):
            if not self.rows.done[i]:
                self.rows.emit(i, final=True)


class _Stop(StoppingCriteria):
    """Ends a sequence once its newest tokens contain a stop sequence; ends all when cancelled."""

    def __init__(self, rows: _Rows, prompt_len: int, cancel: threading.Event) -> None:
        self.rows, self.prompt_len, self.cancel = rows, prompt_len, cancel
        self.window = max((len(s) for s in rows.stops), default=0) + 4

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        if self.cancel.is_set():
            return torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        flags = [False] * input_ids.shape[0]
        if self.rows.stops:
            tails = input_ids[:, max(self.prompt_len, input_ids.shape[1] - self.window):].tolist()
            for i, tail in enumerate(tails):
                text = self.rows.tokenizer.decode(tail, skip_special_tokens=True)
                flags[i] = any(s in text for s in self.rows.stops)
        return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)


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
            with self.loaded.lock, torch.inference_mode():
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
    """Generate in the calling thread (which must hold ``loaded.lock``), pushing chunks into ``out``."""
    start = time.perf_counter()
    model, tok = loaded.model, loaded.tokenizer
    dev = next(model.parameters()).device
    inputs = {k: v.to(dev) for k, v in encode_prompt(loaded, prompt).items()}
    n = settings.num_return_sequences
    if n > 1:  # one batch: the prompt repeated, each row sampled on its own
        inputs = {k: v.repeat(n, 1) for k, v in inputs.items()}
    prompt_len = inputs["input_ids"].shape[1]
    eos = model.generation_config.eos_token_id if model.generation_config.eos_token_id is not None \
        else tok.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
    rows = _Rows(tokenizer=tok, stops=settings.stop, eos=eos_ids, n=n, out=out)
    cancel = cancel or threading.Event()
    config = GenerationConfig(max_new_tokens=settings.max_new_tokens, do_sample=False, num_beams=1,
                              repetition_penalty=settings.repetition_penalty, use_cache=True,
                              eos_token_id=list(eos_ids) or None,
                              pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else next(
                                  iter(eos_ids), 0))
    processors = LogitsProcessorList([] if settings.greedy else [SeededSampler(settings, dev)])
    engine = getattr(settings, "engine", EXACT)
    if engine == AUTO:  # the fastest engine already prepared for this model
        engine = ONNX if dev.type == "cpu" and (loaded.onnx is not None or loaded.onnx_file().is_file()) \
            else FAST
    if engine == ONNX and dev.type != "cpu":
        engine = FAST  # onnxruntime runs here on the CPU only; an accelerator keeps the torch loop
    if engine in (FAST, ONNX):
        runner = loaded.onnx_model() if engine == ONNX else model
        decode(runner, inputs, max_new_tokens=settings.max_new_tokens, eos_ids=eos_ids,
               pad_id=int(config.pad_token_id), repetition_penalty=settings.repetition_penalty,
               processors=processors, stopping=_Stop(rows, prompt_len, cancel), streamer=_Streamer(rows))
    else:  # "exact": transformers' own generate loop
        model.generate(**inputs, generation_config=config, logits_processor=processors,
                       stopping_criteria=StoppingCriteriaList([_Stop(rows, prompt_len, cancel)]),
                       streamer=_Streamer(rows))
    seconds = time.perf_counter() - start
    new_tokens = sum(len(ids) for ids in rows.ids)
    first = rows.first_token_at
    return StreamResult(outputs=list(rows.sent), new_tokens=new_tokens, prompt_tokens=prompt_len,
                        time_to_first_token=(first - start) if first else None,
                        tokens_per_second=new_tokens / seconds if new_tokens and seconds > 0 else None,
                        seconds=seconds, device=loaded.device, stopped_early=cancel.is_set(),
                        finished=list(rows.done))
