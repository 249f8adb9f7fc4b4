"""Which model a server answers with, and what it can do: generate text, or read texts as an encoder."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import ConfigError, NotFoundError, UserError

CAUSAL = "causal-lm"
ENCODER = "encoder"  # a catalogue encoder without a head: embeddings only
TEXT_ENDPOINTS = ("/v1/chat/completions", "/v1/completions")


@dataclass(frozen=True)
class ServedModel:
    """The one model a server answers with; ``id`` is what /v1/models lists and requests name."""

    id: str
    kind: str  # CAUSAL, ENCODER, or the task of an encoder run
    label: str
    run_id: int | None = None
    baseline: str | None = None  # a run's saved keyword baseline answers instead of its model

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The POST endpoints this model answers."""
        if self.baseline:
            return ("/v1/classify",)
        if self.kind == CAUSAL:
            return TEXT_ENDPOINTS
        if self.kind == "classification":
            return ("/v1/classify", "/v1/embeddings")
        if self.kind == "token-classification":
            return ("/v1/entities", "/v1/embeddings")
        return ("/v1/embeddings",)

    def answers(self, name: str | None) -> bool:
        """Whether a request's ``model`` names this model (empty means "the one you serve")."""
        if not name:
            return True
        aliases = {self.id}
        if self.run_id is not None:
            aliases |= {f"run:{self.run_id}", f"run-{self.run_id}", str(self.run_id)}
        return name.strip() in aliases


def resolve_served(run_id: int | None = None, model_key: str | None = None,
                   baseline: str | None = None) -> ServedModel:
    """The model behind ``--run`` or ``--model`` (a UserError saying why it cannot be served);
    ``baseline`` ('' for the winning one) serves a classification run's saved keyword baseline."""
    if (run_id is None) == (not model_key):
        raise ConfigError("Choose what to serve: --run RUN_ID or --model KEY (one of them).")
    if baseline is not None:
        if run_id is None:
            raise ConfigError("--baseline serves a run's keyword baseline; add --run RUN_ID.")
        return _served_baseline(run_id, baseline or None)
    if run_id is not None:
        from core.store.runs import get_run

        info = get_run(run_id)
        if info.task == CAUSAL:
            from core.inference.generation import resolve_model

            source = resolve_model(f"run:{run_id}")
            return ServedModel(id=f"run:{run_id}", kind=CAUSAL, label=source.label, run_id=run_id)
        from core.inference.encoders import encoder_task

        task = encoder_task(run_id)
        if task == "regression":
            return ServedModel(id=f"run:{run_id}", kind=ENCODER, label=info.name or f"run {run_id}",
                               run_id=run_id)
        return ServedModel(id=f"run:{run_id}", kind=task, label=info.name or f"run {run_id}", run_id=run_id)
    from core.models import catalog

    info = catalog.get_model(str(model_key))
    kind = CAUSAL if info.family == CAUSAL else ENCODER
    return ServedModel(id=info.key, kind=kind, label=info.name)


def _served_baseline(run_id: int, name: str | None) -> ServedModel:
    """A run's keyword baseline, saved first when it is not saved yet (seconds: scikit-learn)."""
    from core.inference import baseline_predict
    from core.inference.encoders import encoder_task
    from core.training.baseline_models import savable_baseline, save_baseline

    encoder_task(run_id)  # a succeeded classification run, else a sentence
    name = savable_baseline(run_id, name)
    if name not in baseline_predict.saved_names(run_id):
        save_baseline(run_id, name)
    from core.tasks.baselines import BASELINE_TITLES

    return ServedModel(id=f"run:{run_id}:{name}", kind="classification",
                       label=f"{BASELINE_TITLES.get(name, name)} of run {run_id}", run_id=run_id,
                       baseline=name)


def preload(served: ServedModel, engine: str = "auto", say: Callable[[str], None] | None = None) -> None:
    """Load the model into the shared cache now (with the engine that will answer), so the first
    request does not wait for it; ``say`` hears what it is doing."""
    say = say or (lambda _text: None)
    start = time.perf_counter()
    say(f"Loading {served.label}…")
    if served.baseline and served.run_id is not None:
        from core.inference.baseline_predict import loaded_baseline

        loaded_baseline(served.run_id, served.baseline)
    elif served.kind == CAUSAL:
        from core.inference.generation import prepare_engine

        _, note = prepare_engine(served.id, engine)
        say(f"Ready in {time.perf_counter() - start:.1f} s. {note}")  # which engine answers, and why
        return
    elif served.run_id is not None:
        from core.inference.encoders import run_model

        run_model(served.run_id)
    else:
        from core.inference.encoders import catalogue_encoder

        catalogue_encoder(served.id)
    say(f"Ready in {time.perf_counter() - start:.1f} s.")


def check_model(served: ServedModel, name: str | None, endpoint: str) -> None:
    """Raise a UserError when the request names another model or this model lacks the endpoint."""
    if not served.answers(name):
        raise NotFoundError(f"This server serves '{served.id}', not '{name}'; set model to '{served.id}'.")
    if endpoint not in served.endpoints:
        raise UserError(f"The model '{served.id}' ({served.kind}) does not answer {endpoint}; it answers "
                        f"{', '.join(served.endpoints)}.")
