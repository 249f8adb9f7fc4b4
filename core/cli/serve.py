"""`python -m core serve`: the OpenAI-compatible server over a run or a catalogue model.

It prints where it listens (with ``--json`` one JSON document) and then serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from core.generation_settings import ENGINES


def register(subparsers: Any) -> None:
    """Add the `serve` command."""
    p = subparsers.add_parser("serve", help="Serve a model over an OpenAI-compatible HTTP API.",
                              description="Serve one model over HTTP: /v1/chat/completions and "
                                          "/v1/completions for causal LMs; /v1/classify, /v1/entities "
                                          "and /v1/embeddings for encoders.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", type=int, metavar="RUN_ID", help="A succeeded run.")
    source.add_argument("--model", metavar="KEY", help="A catalogue model, e.g. smollm2-135m-instruct.")
    p.add_argument("--baseline", nargs="?", const="", default=None, metavar="NAME",
                   help="With --run: serve the run's keyword baseline (the winning one, or NAME) on "
                        "/v1/classify instead of its model; saved first if it is not saved yet.")
    p.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1: this "
                                                       "machine only; any other needs an API key).")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--api-key", help="Require 'Authorization: Bearer KEY' (default: $UCLAB_API_KEY).")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="Another host name clients use to reach the server (repeatable).")
    p.add_argument("--concurrency", type=int, default=2,
                   help="Requests generating at once (llama.cpp gives each its own context; exact "
                        "takes them one at a time).")
    p.add_argument("--queue", type=int, default=8, help="Requests waiting beyond those; more get 429.")
    p.add_argument("--header-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="Seconds a client has to send a request's headers (default 10); slower ones get 408.")
    p.add_argument("--max-connections", type=int, default=256,
                   help="Open connections at most (default 256); beyond, the oldest idle one is closed.")
    p.add_argument("--max-body-kb", type=int, default=2048,
                   help="Largest request body read, in KB (default 2048); larger ones get 413.")
    p.add_argument("--engine", choices=ENGINES, default="auto",
                   help="Generation engine (causal LMs): auto (default: llama.cpp on the model's GGUF file "
                        "on a CPU, else exact), llama.cpp, or exact (transformers' generate).")
    p.add_argument("--json", action="store_true", help="Print where it listens as one JSON document.")
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> Any:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from core.errors import ConfigError
    from core.serve import server
    from core.serve.app import ServeOptions
    from core.serve.backend import resolve_served

    if not 0 < args.port < 65536:
        raise ConfigError("The port must be between 1 and 65535 (for example 8000).")
    if args.concurrency < 1 or args.queue < 0:
        raise ConfigError("--concurrency must be at least 1 and --queue at least 0.")
    if args.header_timeout <= 0 or args.max_connections < 1 or args.max_body_kb < 1:
        raise ConfigError("--header-timeout, --max-connections and --max-body-kb must be above 0.")
    key = server.resolve_key(args.api_key)
    server.check_bind(args.host, key)
    served = resolve_served(run_id=args.run, model_key=args.model, baseline=args.baseline)
    options = ServeOptions(api_key=key, host=args.host, allowed_hosts=tuple(args.allowed_host),
                           concurrency=args.concurrency, queue=args.queue, engine=args.engine,
                           header_timeout=args.header_timeout, max_connections=args.max_connections,
                           max_body_bytes=args.max_body_kb * 1024)
    url = server.base_url(args.host, args.port)
    facts = {"url": url, "model": served.id, "kind": served.kind, "endpoints": list(served.endpoints),
             "api_key_required": bool(key)}
    if args.json:
        print(json.dumps(facts), flush=True)
    else:
        print(f"Serving {served.label} as '{served.id}' at {url} ({', '.join(served.endpoints)}); "
              "Ctrl-C stops it.", file=sys.stderr, flush=True)
    server.run(served, options, args.port)
    return None
