"""The FastAPI application: security (bearer key, Host check, body cap), OpenAI-style errors, and the routes.

``create_app`` builds the app around one ``ServedModel``; the routes live in ``text_routes`` (chat
and text completions) and ``encoder_routes`` (classify, entities, embeddings). Every failure a
client can see is ``{"error": {"message", "type", "param", "code"}}`` with one sentence.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import NotFoundError, UserError
from core.serve import encoder_routes, text_routes
from core.serve.backend import ServedModel
from core.serve.gate import Gate, ServerBusy
from core.serve.guard import DEFAULT_MAX_BODY, Guard

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


@dataclass
class ServeOptions:
    """How the server guards itself: the key, the names it answers to, and its concurrency."""

    api_key: str | None = None
    host: str = "127.0.0.1"
    allowed_hosts: tuple[str, ...] = ()
    concurrency: int = 2  # llama.cpp contexts per model (core.inference.generation.CONTEXTS)
    queue: int = 8
    engine: str = "auto"  # the generation engine of every request (GenerationSettings.engine)
    max_body_bytes: int = DEFAULT_MAX_BODY  # larger request bodies get 413 unread
    header_timeout: float = 10.0  # seconds a client has to send a request's headers
    max_connections: int = 256  # open connections at most; beyond, the oldest without a request is closed
    created: int = field(default_factory=lambda: int(time.time()))

    def host_names(self) -> set[str]:
        """The Host header names accepted: the bound address, loopback names, and configured names."""
        names = {self.host.strip("[]").lower(), *LOOPBACK_NAMES, *(h.lower() for h in self.allowed_hosts)}
        if self.host in ("0.0.0.0", "::"):
            import socket

            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        return names


def error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
          param: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """An OpenAI-style error response."""
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def user_error(exc: UserError) -> JSONResponse:
    """The response for an error a client caused, with its status."""
    if isinstance(exc, ServerBusy):
        return error(429, str(exc), "rate_limit_error", "server_busy", headers={"Retry-After": "1"})
    if isinstance(exc, NotFoundError):
        return error(404, str(exc), code="not_found")
    return error(400, str(exc))


def _describe(errors: Iterable[dict[str, Any]]) -> tuple[str, str | None]:
    first = next(iter(errors), {})
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = str(first.get("msg", "the request body is not valid JSON")).rstrip(".")
    if not where:
        return f"The request body could not be read ({message}); send a JSON object.", None
    return f"The field '{where}' is not valid: {message}.", where


def create_app(served: ServedModel, options: ServeOptions | None = None) -> FastAPI:
    """The application serving one model."""
    options = options or ServeOptions()
    app = FastAPI(title="Use Case Lab", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.served, app.state.options = served, options
    app.state.gate = Gate(options.concurrency, options.queue)
    app.state.limits = None  # the model's PromptLimits, read on the first text request
    app.add_middleware(Guard, allowed=options.host_names(), api_key=options.api_key,
                       max_body=options.max_body_bytes, body_seconds=options.header_timeout * 3)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _describe(exc.errors())
        return error(400, message, param=param)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error(404, f"There is no endpoint {request.url.path}; this server answers "
                              f"GET /v1/models and POST {', '.join(served.endpoints)}.", code="unknown_url")
        if exc.status_code == 405:
            return error(405, f"{request.method} is not allowed on {request.url.path}.")
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(UserError)
    async def bad_input(request: Request, exc: UserError) -> JSONResponse:
        return user_error(exc)

    @app.exception_handler(Exception)
    async def failure(request: Request, exc: Exception) -> JSONResponse:
        first = str(exc).splitlines()[0] if str(exc) else ""
        return error(500, f"The server failed on this request ({type(exc).__name__}: {first[:200]}).",
                     "server_error")

    @app.get("/v1/models")
    def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card(served, options)]}

    @app.get("/v1/models/{model_id:path}")
    def get_model(model_id: str) -> Any:
        if not served.answers(model_id):
            return error(404, f"This server serves '{served.id}' only.", code="model_not_found")
        return model_card(served, options)

    text_routes.register(app)
    encoder_routes.register(app)
    return app


def model_card(served: ServedModel, options: ServeOptions) -> dict[str, Any]:
    """The /v1/models entry of the served model."""
    return {"id": served.id, "object": "model", "created": options.created, "owned_by": "use-case-lab",
            "kind": served.kind, "name": served.label, "endpoints": list(served.endpoints)}
