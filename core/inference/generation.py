"""The generation playground's service: generate or stream text from a catalogue model or a causal-LM run.

No torch at import: the engine (``core.ml.generation``) is imported inside the functions. Every
generation is stored in the ``generations`` table and can be listed, re-run and exported.
Model references are catalogue keys (``smollm2-135m-instruct``) or ``run:<id>`` for a succeeded
causal-LM run.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config import get_settings
from core.errors import ConfigError, ModelError, NotFoundError
from core.generation_settings import (  # noqa: F401 (MODES and the limits are read through this module)
    MAX_NEW_TOKENS,
    MAX_SEQUENCES,
    MODES,
    GenerationRecord,
    GenerationSettings,
    ModelSource,
)
from core.inference.cache import MODELS, clear_models
from core.models import assets, catalog
from core.run_folder import RunFolder
from core.store import generations, runs
from core.tasks.chat import ROLES
from core.text.jsonl import read_jsonl

if TYPE_CHECKING:  # pandas is imported where a table is built: a server's start does without it
    import pandas as pd

# ---- model references ----------------------------------------------------------------------------

def _weights_folder(folder: Path) -> Path | None:
    """The folder (or its 'model'/'final' child) that holds a saved model or LoRA adapter."""
    for candidate in (folder, RunFolder(folder).model, folder / "final"):
        if (candidate / "adapter_config.json").is_file() or (candidate / "config.json").is_file():
            return candidate
    return None


def resolve_model(model_ref: str) -> ModelSource:
    """The folders behind a catalogue key or ``run:<id>`` (ModelError/NotFoundError when unusable)."""
    ref = (model_ref or "").strip()
    if ref.startswith("run:"):
        return _resolve_run(ref)

    info = catalog.get_model(ref)
    if info.family != "causal-lm":
        raise ModelError(f"The model '{ref}' is an encoder, which cannot write text; choose a causal "
                         "language model such as smollm2-135m-instruct.")
    path = catalog.model_path(ref)
    return ModelSource(ref=ref, path=path, label=info.name, gguf=catalogue_gguf(ref, path))


def _resolve_run(ref: str) -> ModelSource:
    try:
        run_id = int(ref.split(":", 1)[1])
    except ValueError as exc:
        raise NotFoundError(f"'{ref}' is not a run reference; write run:<id>, for example run:3.") from exc
    run = runs.get_run(run_id)
    task, status, output_dir, model_key, name = run.task, run.status, run.output_dir, run.model_key, run.name
    if task != "causal-lm":
        raise ModelError(f"Run {run_id} trained a {task} model, which cannot write text; choose a "
                         "causal-LM run.")
    if status != "succeeded":
        raise ModelError(f"Run {run_id} is {status}; only a succeeded run can generate text.")
    folder = _weights_folder(get_settings().resolve(output_dir)) if output_dir else None
    if folder is None:
        raise ModelError(f"The saved model of run {run_id} is missing from its folder; train the run again.")
    label = f"{name or f'run-{run_id}'} (run {run_id})"
    gguf = run_gguf(get_settings().resolve(output_dir))
    if (folder / "adapter_config.json").is_file():
        return ModelSource(ref=ref, path=catalog.model_path(model_key), adapter_path=folder,
                           run_id=run_id, label=label, gguf=gguf)
    return ModelSource(ref=ref, path=folder, run_id=run_id, label=label, gguf=gguf)


# ---- the llama.cpp engine's GGUF files --------------------------------------------------------------

# The weights llama.cpp answers with: 16-bit, so greedy answers are the exact engine's wherever the
# arithmetic allows. On 25 chat prompts (SmolLM2-135M, 32 tokens) F16 wrote the exact engine's first
# 20 characters in 23 of 25 answers, Q8_0 in 16 and the bundled Q4_1 in 18; "What is the capital of
# France?" gets "The capital of France is Paris." from exact and F16, a list of French words from Q8_0
# and Q4_1. bench/generate.py measures their speed; 8- and 4-bit files are exports.
ENGINE_GGUF = "F16"


def catalogue_gguf(ref: str, folder: Path) -> Path:
    """Where a catalogue model's GGUF for the engine is kept (written on first use): SmolLM2's beside its
    converted folder (shared like it), any other model's under UCLAB_HOME/models/gguf."""
    if ref == catalog.SMOLLM2_KEY:
        if ENGINE_GGUF == "Q4_1":
            return assets.smollm2_gguf()  # the bundled file the exact engine's weights were dequantised from
        return Path(folder).parent / f"{ref}-{ENGINE_GGUF}.gguf"
    return get_settings().models_dir / "gguf" / ref.replace(":", "-") / f"model-{ENGINE_GGUF}.gguf"


def run_gguf(run_dir: Path, qtype: str = ENGINE_GGUF) -> Path:
    """Where a run's model is kept as a GGUF file (written when the run finishes)."""
    return RunFolder(Path(run_dir)).gguf(qtype)


def write_run_gguf(model_dir: Path, run_dir: Path, model_key: str, qtype: str = ENGINE_GGUF) -> Path:
    """Write a run's plain model folder (LoRA already merged) as a GGUF file; reused once written."""
    from filelock import FileLock

    from core.ml.gguf_export import write_gguf

    out = run_gguf(run_dir, qtype)
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out.parent / f".{out.name}.lock"), timeout=600):
        if not out.is_file():
            write_gguf(model_dir, out, qtype, name=Path(run_dir).name,
                       pre="smollm" if model_key == catalog.SMOLLM2_KEY else None)
    return out


def ensure_gguf(source: ModelSource) -> ModelSource:
    """The source with its GGUF file written if llama.cpp can run here and it is missing (once, under a
    lock), or with the sentence saying why the model cannot have one."""
    from dataclasses import replace as replace_source

    from core.ml.gguf_export import unsupported_reason
    from core.ml.llama_engine import unavailable_reason

    if source.gguf is None or source.gguf.is_file() or unavailable_reason():
        return source
    folder = merge_lora(source.run_id) if source.run_id is not None else source.path
    problem = unsupported_reason(folder)
    if problem:
        return replace_source(source, gguf_problem=problem)
    if source.run_id is not None:
        model_key = runs.get_run(source.run_id).model_key
        write_run_gguf(folder, source.gguf.parents[1], model_key, source.gguf.stem.removeprefix("model-"))
    else:
        from filelock import FileLock

        from core.ml.gguf_export import write_gguf

        source.gguf.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(source.gguf.parent / f".{source.gguf.name}.lock"), timeout=600):
            if not source.gguf.is_file():
                write_gguf(folder, source.gguf, ENGINE_GGUF, name=source.ref,
                           pre="smollm" if source.ref == catalog.SMOLLM2_KEY else None)
    return source


def list_model_choices() -> list[tuple[str, str]]:
    """(reference, label) of every model that can write text: catalogue causal LMs, then succeeded runs."""

    choices = [(m.key, m.name + ("" if m.ready else " (prepared on first use)"))
               for m in catalog.list_models() if m.family == "causal-lm"]
    choices += [(f"run:{r.id}", f"{r.name or f'run-{r.id}'} (run {r.id}, fine-tuned {r.model_key})")
                for r in runs.list_runs(task="causal-lm", status="succeeded", limit=None)]
    return choices


CONTEXTS = 2  # llama.cpp contexts per loaded model: concurrent streams beyond this wait in line


def get_loaded(model_ref: str, source: ModelSource | None = None) -> Any:
    """The process-wide loaded model (tokenizer, engines, device) from the shared model cache."""
    def load() -> Any:
        from core.ml.generation import load_model

        return load_model(ensure_gguf(source or resolve_model(model_ref)), contexts=CONTEXTS)

    return MODELS.get(("generate", model_ref), load).value


clear_loaded = clear_models  # the former name of core.inference.cache.clear_models


def prepare_engine(model_ref: str, engine: str = "auto") -> tuple[Any, str]:
    """Load a model and the engine that will answer (llama.cpp's contexts, or the transformers
    weights), so a first request does not wait; returns it with the sentence naming that engine."""
    loaded = get_loaded(model_ref)
    return loaded, loaded.prepare(engine)[1]


# ---- generation ----------------------------------------------------------------------------------

def build_prompt(prompt: str | Sequence[Mapping[str, str]], mode: str, system: str | None = None,
                 history: Sequence[Mapping[str, str]] = ()) -> dict[str, Any]:
    """The stored prompt: the raw text (prompt mode) or the chat turns ending with the user's message."""
    if mode not in MODES:
        raise ConfigError(f"Unknown mode '{mode}'. Choose one of: {', '.join(MODES)}.")
    if mode == "prompt":
        text = prompt if isinstance(prompt, str) else "\n".join(str(m.get("content", "")) for m in prompt)
        if not text.strip():
            raise ConfigError("The prompt is empty; write something for the model to continue.")
        return {"text": text}
    turns = [dict(m) for m in history]
    turns += [{"role": "user", "content": prompt}] if isinstance(prompt, str) else [dict(m) for m in prompt]
    if system and system.strip():
        turns = [{"role": "system", "content": system}] + [t for t in turns if t.get("role") != "system"]
    for number, turn in enumerate(turns, start=1):
        if turn.get("role") not in ROLES:
            raise ConfigError(f"Turn {number} has the unknown role '{turn.get('role')}'; use system, user "
                              "or assistant.")
        if not str(turn.get("content") or "").strip():
            raise ConfigError(f"Turn {number} ({turn['role']}) is empty; write its text or remove it.")
        turn["content"] = str(turn["content"])
    if not turns or turns[-1]["role"] != "user":
        raise ConfigError("The conversation must end with a user message for the model to answer.")
    return {"messages": turns}


class GenerationStream:
    """Chunks of text as the model writes them; after the last chunk ``record`` holds the stored result.

    Iterate it for ``(index, text)`` pairs (``index`` is the sequence number when several are asked
    for), or call :meth:`texts` for plain strings (``st.write_stream``). Closing it early stops the model.
    """

    def __init__(self, inner: Any, source: ModelSource, mode: str, prompt: dict[str, Any],
                 settings: GenerationSettings, store: bool) -> None:
        self._inner, self._source, self._mode = inner, source, mode
        self._prompt, self._settings, self._store = prompt, settings, store
        self.record: GenerationRecord | None = None
        # the engine that writes this stream and the sentence saying why (greedy text depends on it)
        loaded = getattr(inner, "loaded", None)
        self.engine, self.engine_note = loaded.engine_for(settings.engine) if loaded is not None else ("", "")

    def __iter__(self) -> Iterator[tuple[int, str]]:
        yield from self._inner
        self.record = _save(self._source, self._mode, self._prompt, self._settings, self._inner.result,
                            store=self._store)

    def texts(self, index: int | None = None) -> Iterator[str]:
        """Only the text chunks (of one sequence, or of all with a blank line between sequences)."""
        last = 0
        for i, chunk in self:
            if index is None and i != last:
                last = i
                yield "\n\n"
            if index is None or i == index:
                yield chunk

    def close(self) -> None:
        """Stop the model early (the partial output is not stored)."""
        self._inner.close()


def stream_generate(model_ref: str, prompt: str | Sequence[Mapping[str, str]], *, mode: str = "chat",
                    system: str | None = None, history: Sequence[Mapping[str, str]] = (),
                    settings: GenerationSettings | None = None, store: bool = True) -> GenerationStream:
    """Start generating in a background thread and return the stream of text chunks."""
    settings = settings or GenerationSettings()
    if settings.seed is None:
        # record the seed actually used so a re-run reproduces the sampled text
        settings = replace(settings, seed=random.randrange(2**31))
    stored_prompt = build_prompt(prompt, mode, system, history)
    source = resolve_model(model_ref)
    from core.ml.generation import start_stream

    loaded = get_loaded(model_ref, source)
    return GenerationStream(start_stream(loaded, stored_prompt, settings), source, mode, stored_prompt,
                            settings, store)


def generate(model_ref: str, prompt: str | Sequence[Mapping[str, str]], *, mode: str = "chat",
             system: str | None = None, history: Sequence[Mapping[str, str]] = (),
             settings: GenerationSettings | None = None, store: bool = True) -> GenerationRecord:
    """Generate (without streaming) and return the stored record."""
    stream = stream_generate(model_ref, prompt, mode=mode, system=system, history=history,
                             settings=settings, store=store)
    for _ in stream:
        pass
    assert stream.record is not None
    return stream.record


def generate_side_by_side(model_refs: Sequence[str], prompt: str | Sequence[Mapping[str, str]], *,
                          mode: str = "chat", system: str | None = None,
                          history: Sequence[Mapping[str, str]] = (),
                          settings: GenerationSettings | None = None) -> list[GenerationRecord]:
    """The same prompt, settings and seed sent to each model in turn (e.g. base and fine-tuned)."""
    settings = settings or GenerationSettings()
    if settings.seed is None:
        settings = replace(settings, seed=random.randrange(2**31))
    return [generate(ref, prompt, mode=mode, system=system, history=history, settings=settings)
            for ref in model_refs]


def _save(source: ModelSource, mode: str, prompt: dict[str, Any], settings: GenerationSettings,
          result: Any, *, store: bool) -> GenerationRecord:
    stats = {"new_tokens": result.new_tokens, "seconds": round(result.seconds, 4), "device": result.device,
             "prompt_tokens": result.prompt_tokens, "finished": list(getattr(result, "finished", [])),
             "engine": getattr(result, "engine", ""), "engine_note": getattr(result, "engine_note", "")}
    values = dict(model_ref=source.ref, run_id=source.run_id, mode=mode, prompt=prompt,
                  settings={**settings.to_dict(), "stats": stats}, outputs=list(result.outputs),
                  time_to_first_token=result.time_to_first_token, tokens_per_second=result.tokens_per_second)
    if not store:
        return GenerationRecord(id=None, created_at=None, **{**values, "settings": settings.to_dict()},
                                stats=stats)
    return generations.add_generation(**values)


# ---- history -------------------------------------------------------------------------------------

def list_generations(limit: int = 100, model_ref: str | None = None) -> list[GenerationRecord]:
    """Stored generations, newest first."""
    return generations.list_generations(limit, model_ref)


def get_generation(generation_id: int) -> GenerationRecord:
    """One stored generation (NotFoundError when the id names nothing)."""
    return generations.get_generation(generation_id)


def rerun_generation(generation_id: int, model_ref: str | None = None) -> GenerationRecord:
    """Generate again with the stored prompt, settings and seed (optionally on another model)."""
    old = get_generation(generation_id)
    settings = GenerationSettings.from_dict(old.settings)
    prompt: Any = old.prompt.get("text") if old.mode == "prompt" else old.prompt.get("messages", [])
    return generate(model_ref or old.model_ref, prompt, mode=old.mode, settings=settings)


_SETTING_COLUMNS = ("temperature", "top_k", "top_p", "repetition_penalty", "max_new_tokens", "seed")


def export_generations(path: str | Path | None = None, limit: int = 10_000) -> pd.DataFrame:
    """The history as a table (one row per output); also written as CSV when a path is given."""
    import pandas as pd

    from core.text.spreadsheet import write_csv
    rows = []
    for rec in list_generations(limit=limit):
        prompt = rec.prompt.get("text") or "\n".join(f"{m['role']}: {m['content']}"
                                                    for m in rec.prompt.get("messages", []))
        for index, output in enumerate(rec.outputs):
            rows.append({"id": rec.id, "created_at": rec.created_at, "model": rec.model_ref, "mode": rec.mode,
                         "prompt": prompt, "sequence": index + 1, "output": output,
                         **{k: rec.settings.get(k) for k in _SETTING_COLUMNS},
                         "time_to_first_token_s": rec.time_to_first_token,
                         "tokens_per_second": rec.tokens_per_second})
    frame = pd.DataFrame(rows, columns=["id", "created_at", "model", "mode", "prompt", "sequence", "output",
                                        *_SETTING_COLUMNS, "time_to_first_token_s", "tokens_per_second"])
    if path is not None:
        write_csv(frame, path)
    return frame


# ---- causal-LM runs: sample answers during training, LoRA export ----------------------------------

def _run_dir(run_id: int) -> Path:
    output_dir = runs.get_run(run_id).output_dir
    settings = get_settings()
    return settings.resolve(output_dir) if output_dir else RunFolder.of(settings.runs_dir, run_id).root


def sample_generations(run_id: int) -> pd.DataFrame:
    """The run's answers to its fixed validation prompts at each evaluation (step 0 = before training)."""
    import pandas as pd

    path = RunFolder(_run_dir(run_id), run_id).samples
    rows = []
    if path.is_file():  # bad lines skipped: a line cut short by a killed worker
        rows = [line.value for line in read_jsonl(path.read_text(encoding="utf-8"), None)]
    frame = pd.DataFrame(rows, columns=["step", "prompt", "output", "reference", "at"])
    return frame.sort_values(["step"], kind="stable").reset_index(drop=True)


def merge_lora(run_id: int) -> Path:
    """A plain model folder of the run for export: LoRA adapters merged into the base weights."""
    run_dir = _run_dir(run_id)
    run = runs.get_run(run_id)
    task, status, model_key = run.task, run.status, run.model_key
    if task != "causal-lm" or status != "succeeded":
        raise ModelError(f"Run {run_id} is a {status} {task} run; only a succeeded causal-LM run can be "
                         "exported as a merged model.")
    folder = _weights_folder(run_dir)
    if folder is not None and (folder / "config.json").is_file() and any(folder.glob("*.safetensors")):
        return folder  # the engine already merged the adapters into the saved model
    has_adapter = folder is not None and (folder / "adapter_config.json").is_file()
    adapter = folder if has_adapter and folder is not None else RunFolder(run_dir).lora
    if not (adapter / "adapter_config.json").is_file():
        raise ModelError(f"Run {run_id} has neither a saved model nor LoRA adapters; train it again.")
    from core.ml.tasks.causal_lm import merge_adapter

    return merge_adapter(catalog.model_path(model_key), adapter, RunFolder(run_dir).merged)
