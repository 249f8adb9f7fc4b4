"""The int8 table's stored measurement and its wording, for the evaluation page and the report.

``core.ship.export_onnx.measure_onnx`` writes the measurement to ``runs/<id>/onnx-benchmark.json``;
this module reads it back and words it (the report lives below ``core.ship``, so it reads it here).
"""

from __future__ import annotations

import json
from typing import Any

from core.config import get_settings
from core.run_folder import RunFolder

BENCH_FILE = "onnx-benchmark.json"


def stored_measurement(run_id: int) -> dict[str, Any] | None:
    """The last ONNX measurement of a run, or None."""
    path = RunFolder.of(get_settings().runs_dir, run_id).root / BENCH_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _speed(base: float, other: float, lower_is_faster: bool) -> str:
    ratio = (base / other if lower_is_faster else other / base) if base and other else float("nan")
    if ratio != ratio:  # nan
        return "not measured"
    return f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"


def summary(result: dict[str, Any]) -> str:
    """The headline computed from the table's own PyTorch and int8 rows, every column it shows:
    'int8 against PyTorch on the same 400 test rows: one at a time 2.1x faster (9.0 → 4.3 ms), in
    batches 1.3x slower (87.2 → 65.7 examples/s), 3.9x smaller, accuracy 63.8 % → 63.8 % (+0.0 pt),
    macro F1 0.494 → 0.565'."""
    rows = {r["model"]: r for r in result.get("rows", [])}
    base, int8 = rows.get("PyTorch fp32"), rows.get("ONNX int8")
    if not base or not int8:
        return ""
    smaller = base["size_mb"] / int8["size_mb"] if int8["size_mb"] else float("nan")
    acc_b, acc_i = base.get("accuracy") or 0.0, int8.get("accuracy") or 0.0
    parts = [f"one at a time {_speed(base['latency_ms'], int8['latency_ms'], True)} "
             f"({base['latency_ms']:.1f} → {int8['latency_ms']:.1f} ms)",
             f"in batches {_speed(base['examples_per_s'], int8['examples_per_s'], False)} "
             f"({base['examples_per_s']:.1f} → {int8['examples_per_s']:.1f} examples/s)",
             f"{smaller:.1f}x smaller",
             f"accuracy {acc_b * 100:.1f} % → {acc_i * 100:.1f} % ({(acc_i - acc_b) * 100:+.1f} pt)"]
    if base.get("macro_f1") is not None and int8.get("macro_f1") is not None:
        parts.append(f"macro F1 {base['macro_f1']:.3f} → {int8['macro_f1']:.3f}")
    return f"int8 against PyTorch on the same {result.get('examples', '?')} test rows: " + ", ".join(parts)


def subset_note(result: dict[str, Any]) -> str:
    """Which rows the table measured, and why its accuracy may differ from the evaluation above."""
    n, total = result.get("examples"), result.get("test_rows")
    note = f"{n} test rows"
    if isinstance(total, int) and isinstance(n, int) and total > n:
        note = (f"the first {n:,} of the {total:,} test rows (its accuracy is on these rows only, so it "
                f"differs from the evaluation above over all {total:,})")
    own = result.get("evaluation_accuracy")
    if isinstance(own, int | float):
        note += f"; the run's own evaluation scored {own * 100:.1f} % on these same rows"
    return (f"Measured on {note}; {result.get('latency_examples')} rows one at a time for the latency, "
            f"{result.get('threads')} threads, {result.get('cpu')}, {result.get('measured_at')}.")
