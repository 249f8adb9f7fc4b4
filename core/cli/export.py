"""`python -m core export RUN_ID`: a run's model as a zip, ONNX (fp32 or int8) or an Ollama folder.

``--measure`` (classification runs) also times PyTorch, ONNX fp32 and ONNX int8 side by side on the
test split and stores the table the evaluation page shows.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `export` command."""
    from core.task_specs import SPECS

    # every format some task exports (the tasks' specs name them); the export service itself (pandas,
    # the store, scikit-learn) is imported when the command runs, not by every `uclab` command
    formats = tuple(dict.fromkeys(name for spec in SPECS for name in spec.exports))

    p = subparsers.add_parser("export", help="Export a run's model (zip, ONNX, ONNX int8, Ollama).",
                              description="Export a finished run's model. zip: safetensors + tokenizer + "
                                          "model card; onnx / onnx-int8: encoder runs for onnxruntime; "
                                          "ollama: causal-LM runs as GGUF (F16, Q8_0, Q4_1) + Modelfile.")
    p.add_argument("run_id", type=int, metavar="RUN_ID")
    p.add_argument("--format", choices=formats, default="zip")
    p.add_argument("--out", metavar="PATH", help="A .zip file, or a new folder (default: a zip under "
                                                 "UCLAB_HOME/exports).")
    p.add_argument("--measure", action="store_true",
                   help="Also measure PyTorch vs ONNX fp32 vs int8 on the test split (classification).")
    p.add_argument("--json", action="store_true", help="Print one JSON document.")
    p.set_defaults(handler=_handle, render=_render)


def _handle(args: argparse.Namespace) -> Any:
    from core.ship.export_formats import export_run

    path = export_run(args.run_id, args.format, args.out)
    result: dict[str, Any] = {"run_id": args.run_id, "format": args.format, "path": str(path)}
    if args.measure:
        from core.ship.export_onnx import measure_onnx, summary

        print("Measuring PyTorch, ONNX fp32 and ONNX int8 on the test split...", file=sys.stderr, flush=True)
        table = measure_onnx(args.run_id)
        result["measurement"] = table
        result["summary"] = summary(table)
    return result


def _render(result: dict[str, Any]) -> str:
    lines = [f"Exported run {result['run_id']} ({result['format']}) to {result['path']}"]
    table = result.get("measurement")
    if table:
        lines.append(f"{'model':<14} {'ms/example':>10} {'examples/s':>11} {'MB':>8} {'accuracy':>9}")
        for r in table["rows"]:
            lines.append(f"{r['model']:<14} {r['latency_ms']:>10.2f} {r['examples_per_s']:>11.1f} "
                         f"{r['size_mb']:>8.1f} {r['accuracy'] or 0:>9.4f}")
        lines.append(result["summary"])
    return "\n".join(lines)
