"""POST /v1/classify, /v1/entities and /v1/embeddings for encoder runs and catalogue encoders.

/v1/embeddings follows OpenAI's shape (``encoding_format`` float or base64, as the openai client
asks by default); /v1/classify and /v1/entities are this server's own, in the same list style.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from fastapi import FastAPI

from core.errors import ConfigError
from core.serve.backend import check_model
from core.serve.schemas import TextsRequest


def _guarded(app: FastAPI, fn: Any, *args: Any) -> Any:
    gate = app.state.gate
    gate.enter()
    try:
        return fn(*args)
    finally:
        gate.leave()


def register(app: FastAPI) -> None:
    """Add the encoder endpoints."""
    from core.inference import encoders

    def listed(body: TextsRequest, path: str, fn: Any) -> dict[str, Any]:
        served = app.state.served
        check_model(served, body.model, path)
        return {"object": "list", "model": served.id, "data": _guarded(app, fn, served.run_id, body.texts())}

    @app.post("/v1/classify")
    def classify(body: TextsRequest) -> dict[str, Any]:
        name = app.state.served.baseline
        if name:  # a run's saved keyword baseline
            from core.inference import baseline_predict

            return listed(body, "/v1/classify", lambda run_id, texts: baseline_predict.classify(
                run_id, name, texts))
        return listed(body, "/v1/classify", encoders.classify)

    @app.post("/v1/entities")
    def entities(body: TextsRequest) -> dict[str, Any]:
        return listed(body, "/v1/entities", encoders.entities)

    @app.post("/v1/embeddings")
    def embeddings(body: TextsRequest) -> dict[str, Any]:
        served = app.state.served
        check_model(served, body.model, "/v1/embeddings")
        if body.encoding_format not in ("float", "base64"):
            raise ConfigError("encoding_format must be 'float' or 'base64'.")
        source = served.run_id if served.run_id is not None else served.id
        vectors, tokens = _guarded(app, encoders.embed, source, body.texts())
        data = [{"object": "embedding", "index": i,
                 "embedding": (base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode("ascii")
                               if body.encoding_format == "base64" else v)}
                for i, v in enumerate(vectors)]
        return {"object": "list", "model": served.id, "data": data,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
