"""Shipping a trained run: the export zip, ONNX (+ int8), Ollama, the tabular loader and the model card.

Beside ``core.serve`` (which may use what this package converts); the evidence a run is shipped
on (evaluation, report, verdict) stays in ``core.results``.
"""
