"""A single self-contained HTML report of a run (or a comparison) that opens offline.

plotly.js is inlined once in the head; every chart is a div + inline script; no http(s)
script or stylesheet is referenced. Every piece of user text passes through ``html.escape``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from core import config
from core.entities import DatasetInfo, RunInfo
from core.errors import NotFoundError, UserError
from core.models import catalog
from core.results import preference_eval
from core.results.compare import compare_runs, higher_is_better
from core.results.evaluation import evidence_split, get_evaluation, read_predictions
from core.results.onnx_benchmark import stored_measurement, subset_note, summary
from core.results.report_figures import curve_figure, evaluation_figures
from core.results.report_snippets import load_snippet, task_sentence
from core.results.verdict import baseline_winner, run_verdict
from core.store import datasets, evaluations, generations, runs
from core.store.evaluations import EvaluationRow
from core.task_specs import best_of, generates_text, get_spec, rank_metric
from core.text import labels

# Greedy answers depend on the engine's arithmetic, so each table of answers says which engine wrote it.
EXACT_ENGINE_NOTE = ("by transformers (the exact engine) when the run finished, 48 new tokens at most; the "
                     "answer-quality table was answered separately and may differ where the engines do")
ANSWER_ENGINE_NOTE = ("These answers were written by the app's generation engine (llama.cpp where it is "
                      "installed, else transformers); the example generations below were written by "
                      "transformers at the end of training, so the same prompt can read differently there.")
DEFAULT_CPU_USD_PER_HOUR = config.DEFAULT_CPU_USD_PER_HOUR
DEFAULT_GPU_USD_PER_HOUR = config.DEFAULT_GPU_USD_PER_HOUR
CSS = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2rem auto;
padding:0 1rem;color:#111827;line-height:1.5}h1{color:#4F46E5}h2{border-bottom:2px solid #E5E7EB;
padding-bottom:.2rem;margin-top:2.2rem}table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem;
max-width:100%}th,td{border:1px solid #E5E7EB;padding:.3rem .6rem;text-align:left;vertical-align:top;
overflow-wrap:anywhere;max-width:28rem}th{overflow-wrap:normal;word-break:keep-all}.verdict{font-size:1.25rem;font-weight:600;background:#EEF2FF;
padding:.8rem 1rem;border-radius:.4rem}
th{background:#F9FAFB}.best{background:#ECFDF5;font-weight:600}.warning{color:#B45309}
.blocking{color:#B91C1C}pre{background:#F3F4F6;padding:.8rem;overflow-x:auto}.muted{color:#6B7280}
.chart{margin:1rem 0}"""


# C0 and C1 control characters (but tab and newline), e.g. a stray \x85 from a cp1252 file.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _e(value: Any) -> str:
    return html.escape(_CONTROL.sub(" ", "" if value is None else str(value)))


def _fmt(value: Any) -> str:
    if value is None:
        return labels.MISSING
    if isinstance(value, float):
        return labels.number(value)
    return str(value)


def _table(frame: pd.DataFrame, highlight: dict[int, set[str]] | None = None) -> str:
    """An escaped HTML table; ``highlight`` maps row positions to the columns to mark as best."""
    if frame.empty:
        return "<p class='muted'>Nothing to show.</p>"
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    body = []
    for i, row in enumerate(frame.itertuples(index=False)):
        marked = (highlight or {}).get(i, set())
        # dir='auto': a cell of Arabic or Hebrew text runs right to left, the rest left to right.
        cells = "".join(f"<td dir='auto' class='best'>{_e(_fmt(v))}</td>" if c in marked
                        else f"<td dir='auto'>{_e(_fmt(v))}</td>"
                        for c, v in zip(frame.columns, row, strict=True))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _chart(fig: Any) -> str:
    return "<div class='chart'>" + fig.to_html(full_html=False, include_plotlyjs=False,
                                               default_height="360px",
                                               config={"displaylogo": False}) + "</div>"


def _rate(device: str) -> float:
    gpu = any(w in (device or "").lower() for w in ("cuda", "gpu", "mps"))
    return config.usd_per_hour(gpu)


def _evaluations(run_id: int) -> dict[tuple[str, str], EvaluationRow]:
    return {(r.split, r.model): r for r in evaluations.list_evaluations(run_id)}


def _run_metrics(evals: dict[tuple[str, str], EvaluationRow]) -> dict[str, Any]:
    split = evidence_split([sp for sp, m in evals if m == "run"])
    return dict(evals[(split, "run")].metrics) if split else {}


def _predictions(run_id: int, split: str) -> pd.DataFrame | None:
    try:
        return read_predictions(run_id, split)
    except UserError:
        return None


def _examples(predictions: pd.DataFrame | None, n: int) -> pd.DataFrame:
    if predictions is None or predictions.empty:
        return pd.DataFrame()
    keep = [c for c in ("text", "tokens", "label", "tags", "predicted", "confidence", "correct", "error")
            if c in predictions]
    frame = predictions[keep]
    if "correct" in frame:  # show both what it gets right and what it gets wrong
        wrong = frame[~frame["correct"].astype(bool)].head(n // 2)
        frame = pd.concat([frame[frame["correct"].astype(bool)].head(n - len(wrong)), wrong])
    frame = frame.head(n).copy()
    for col in frame.columns:
        frame[col] = frame[col].map(lambda v: " ".join(map(str, v)) if hasattr(v, "__len__")
                                    and not isinstance(v, str) else v)
    return frame


def _generations(run_id: int, n: int) -> pd.DataFrame:
    rows = generations.list_generations(limit=n, run_id=run_id)
    out = []
    for g in rows:
        prompt = g.prompt.get("text") or g.prompt.get("prompt") or g.prompt.get("messages") or g.prompt
        output = g.outputs[0] if g.outputs else ""
        engine = (g.stats or {}).get("engine") or labels.MISSING
        out.append({"prompt": prompt if isinstance(prompt, str) else str(prompt),
                    "output": output.get("text", output) if isinstance(output, dict) else output,
                    "engine": engine})
    return pd.DataFrame(out)


def build_report(run_ids: int | Sequence[int], *, use_case: str | None = None,
                 examples: int = 8) -> str:
    """The whole report as one HTML string for a run or a list of runs (the best one is detailed)."""
    ids = [int(run_ids)] if isinstance(run_ids, int | str) else [int(i) for i in run_ids]
    if not ids:
        raise UserError("Pick at least one run for the report.")
    found = {r.id: r for r in runs.list_runs(ids=ids, limit=None)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFoundError(f"There is no run with id {missing[0]}; list the runs to see their ids.")
    evals = {i: _evaluations(i) for i in ids}
    metrics = {i: _run_metrics(evals[i]) for i in ids}
    chosen = best_of((i, found[i].task, metrics[i]) for i in ids)
    best_id = chosen if chosen is not None else ids[0]
    key = rank_metric(found[best_id].task, metrics[best_id])
    best = found[best_id]
    try:
        dataset: DatasetInfo | None = datasets.get_dataset(best.dataset_id)
    except NotFoundError:
        dataset = None
    tried = (runs.list_runs(dataset_id=best.dataset_id, top_level=True, oldest_first=True, limit=50)
             if len(ids) == 1 else [found[i] for i in ids])
    tried_metrics = {r.id: metrics.get(r.id) or _run_metrics(_evaluations(r.id)) for r in tried}
    curves = runs.metrics_frame(best_id)
    best_evals = evals[best_id]
    split = "test" if ("test", "run") in best_evals else "validation"
    baselines = {m: dict(e.metrics) for (sp, m), e in best_evals.items() if sp == split and m != "run"}
    predictions = _predictions(best_id, split)
    generated = _generations(best_id, examples) if generates_text(best.task) else pd.DataFrame()
    data = {"name": dataset.name, "version": dataset.version, "source": dataset.source_filename,
            "rows": dataset.row_count, "splits": dict(dataset.split_sizes or {}),
            "findings": list((dataset.quality or {}).get("findings") or []),
            "question": (dataset.info or {}).get("question"),
            "max_length": (dataset.info or {}).get("max_length")} if dataset else None
    folder = best.output_dir or ""  # relative to UCLAB_HOME: a report never shows this machine's paths
    sections = [
        f"<p class='verdict'>{_e(run_verdict(best_id, split).sentence)}</p>"
        + _baseline_win(best, metrics[best_id], baselines),
        _section_use_case(best, data, use_case),
        _section_data(data, best),
        _section_tried(tried, tried_metrics, key, best_id),
        _section_best(best, metrics[best_id], baselines, key, split),
        _section_prompting(best, split, baselines),
        _section_preferences(best),
        _section_answers(best, split),
        _section_int8(best),
        _section_charts(best, metrics[best_id], curves, predictions, ids),
        _section_examples(best, predictions, generated, examples),
        _section_cost(tried if len(ids) == 1 else [found[i] for i in ids]),
        _section_appendix(best, folder, data, [found[i] for i in ids]),
    ]
    names = [labels.run_label(i, found[i].name) for i in ids]
    if len(ids) == 1:
        title = f"Use Case Lab report: {names[0]}"
    elif len(ids) == 2:
        title = f"Use Case Lab comparison: {names[0]} against {names[1]}"
    else:
        title = f"Use Case Lab comparison of {len(ids)} runs"
    return _page(title, sections)


def _page(title: str, sections: list[str]) -> str:
    from plotly.offline import get_plotlyjs

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = (f"<meta charset='utf-8'><meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_e(title)}</title><style>{CSS}</style>"
            "<script type='text/javascript'>window.PlotlyConfig={MathJaxConfig:'local'};</script>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script>")
    intro = f"<h1>{_e(title)}</h1><p class='muted'>Generated {stamp} by Use Case Lab. It works offline.</p>"
    body = intro + "".join(sections)
    return f"<!DOCTYPE html>\n<html lang='en'><head>{head}</head><body>{body}</body></html>"


def _section_use_case(run: RunInfo, data: dict[str, Any] | None, use_case: str | None) -> str:
    question = (data or {}).get("question")
    text = use_case or question or task_sentence(run.task, data["name"] if data else "the data")
    kind = labels.task_label(run.task)
    return f"<h2>The use case</h2><p>{_e(text)}</p><p class='muted'>Kind of model: {_e(kind)}.</p>"


def _section_data(data: dict[str, Any] | None, run: RunInfo | None = None) -> str:
    if data is None:
        return "<h2>The data</h2><p class='muted'>The dataset of this run is no longer stored.</p>"
    splits = ", ".join(f"{_e(k)}: {_e(v)}" for k, v in data["splits"].items())
    findings = "".join(f"<li class='{_e(f.get('severity'))}'>{_e(f.get('message'))}</li>"
                       for f in data["findings"]) or "<li>No problems were found.</li>"
    splits = ", ".join(f"{_e(labels.split_label(k).lower())} {_e(labels.number(v))}"
                       for k, v in data["splits"].items())
    checked, trained = data.get("max_length"), (run.config.get("max_length") if run else None)
    lengths = ""
    if checked and trained and int(checked) != int(trained):  # the findings speak of the check's length
        lengths = (f"<p class='muted'>The quality check measured lengths against a max length of "
                   f"{_e(int(checked))} tokens (the setting when the data was saved); this run trained at "
                   f"a max length of {_e(int(trained))}, its stored setting.</p>")
    return (f"<h2>The data and its quality</h2><p>Dataset <b>{_e(data['name'])}</b> version "
            f"{_e(data['version'])}: {_e(labels.number(data['rows']))} rows ({splits}).</p>"
            f"<p>What the quality check found:</p><ul>{findings}</ul>{lengths}")


SETTINGS_SHOWN = ("max_length", "epochs", "max_steps", "batch_size", "learning_rate", "lora",
                  "max_train_rows")


def _settings_line(run: RunInfo) -> str:
    """The run's own stored training settings (what it really trained with, not today's defaults)."""
    def shown(key: str, value: Any) -> str:
        if key == "lora":
            return "yes" if value else "no"
        if key == "learning_rate" and isinstance(value, int | float):
            return f"{value:.0e}"
        return _fmt(value)

    parts = [f"{labels.setting_label(k)} {shown(k, run.config[k])}" for k in SETTINGS_SHOWN
             if run.config.get(k) not in (None, "", 0, False) or (k == "lora" and k in run.config)]
    if not parts:
        return ""
    return f"<p class='muted'>Trained with (its stored settings): {_e('; '.join(parts))}.</p>"


def _section_tried(tried: list[RunInfo], metrics: dict[int, dict[str, Any]], key: str | None,
                   best_id: int) -> str:
    names = _model_names()
    rows = [{"run": labels.run_label(r.id, r.name), "model": names.get(r.model_key, r.model_key),
             "status": labels.status_label(r.status),
             labels.metric_label(key): labels.metric_value(key, (metrics.get(r.id) or {}).get(key)) if key
             else labels.MISSING,
             "epochs": labels.number(r.config.get("epochs")),
             "learning rate": f"{r.config['learning_rate']:.0e}" if isinstance(
                 r.config.get("learning_rate"), int | float) else labels.MISSING,
             "LoRA": "yes" if r.config.get("lora") else "no",
             "training time": f"{(r.elapsed_seconds or 0) / 60:.1f} min"} for r in tried]
    marks = {i: {"run"} for i, r in enumerate(tried) if r.id == best_id}
    return f"<h2>What was tried</h2>{_table(pd.DataFrame(rows), marks)}"


def _section_best(run: RunInfo, metrics: dict[str, Any], baselines: dict[str, dict[str, Any]],
                  key: str | None, split: str) -> str:
    # One row per metric, one column per model: a few columns always fit the page.
    models = {f"This model ({labels.run_label(run.id, run.name)})": metrics,
              **{labels.baseline_label(name): m for name, m in baselines.items()}}
    names = [k for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)
             and k not in ("n", "epoch", "step")][:10]
    rows = [{"metric": labels.metric_label(n),
             **{m: labels.metric_value(n, vals.get(n)) for m, vals in models.items()}} for n in names]
    frame = pd.DataFrame(rows, columns=["metric", *models])
    marks: dict[int, set[str]] = {}
    for i, n in enumerate(names):
        vals = {m: vals[n] for m, vals in models.items() if isinstance(vals.get(n), int | float)}
        if len(vals) > 1:
            marks[i] = {(max if higher_is_better(n) else min)(vals, key=vals.get)}
    note = ("<p class='muted'>No simple baseline was trained for this run.</p>" if not baselines else
            "<p>Baselines are simple models trained on the same training rows; the fine-tuned model "
            "is worth its cost only if it beats them clearly.</p>")
    ranked = f", ranked by {_e(labels.metric_label(key))}" if key else ""
    return (f"<h2>The best run against the baselines</h2><p><b>{_e(labels.run_label(run.id, run.name))}</b> "
            f"({_e(_model_names().get(run.model_key, run.model_key))}) on the {_e(split)} split{ranked}. "
            "The best value of each metric is green.</p>" + _settings_line(run) + note + _table(frame, marks))


def _baseline_win(run: RunInfo, metrics: dict[str, Any], baselines: dict[str, dict[str, Any]]) -> str:
    """A second verdict line when a simple baseline beats the fine-tuned model."""
    win = baseline_winner(run.task, metrics, baselines)
    return f"<p class='verdict'>{_e(win.sentence(run.id))}</p>" if win else ""


def _section_prompting(run: RunInfo, split: str, stored: dict[str, dict[str, Any]]) -> str:
    """A classifier against the base instruct model prompted for a label, each on its own examples."""
    spec = get_spec(run.task)
    if spec is None or not spec.prompt_baselines or spec.generates_text:  # a chat run: _section_answers
        return ""
    try:
        result = get_evaluation(run.id, split)
    except UserError:
        return ""
    prompted = [b for b in result.baselines if b.name not in stored and b.name not in labels.BASELINE_LABELS]
    if not prompted:
        return ""
    keys = [k for k in ("accuracy", "macro_f1") if k in result.metrics]
    rows = []
    for b in prompted:
        n = next((v["n"] for v in (b.metrics.get("metrics") or {}).values() if isinstance(v, dict)
                  and v.get("n")), b.metrics.get("n"))
        rows.append({"prompted model": b.title, "examples (N)": labels.number(n) if n else labels.MISSING,
                     **{labels.metric_label(k): labels.metric_value(k, b.metrics.get(k)) for k in keys},
                     **{f"this model's gain in {labels.metric_label(k).split(' (')[0]}":
                        labels.metric_gain(k, b.gain.get(k)) for k in keys}})
    return ("<h2>Against prompting</h2><p>The base instruct model asked for a label, zero-shot and few-shot. "
            "A prompted model answered only the examples its row counts, so its gain compares both models "
            "on those examples alone.</p>" + _table(pd.DataFrame(rows)))


def _section_int8(run: RunInfo) -> str:
    """The ONNX / int8 table, when it was measured for this run (evaluation page or CLI)."""
    result = stored_measurement(run.id)
    if not result or not result.get("rows"):
        return ""
    table = pd.DataFrame(result["rows"]).rename(columns={
        "model": "model", "latency_ms": "ms per example", "examples_per_s": "examples/s",
        "size_mb": "size (MB)", "accuracy": "accuracy", "macro_f1": "macro F1"})
    return ("<h2>Smaller and faster for production</h2><p>The same model as ONNX (fp32) and with int8 "
            f"weights, measured side by side on one machine.</p>{_table(table)}<p>{_e(summary(result))}</p>"
            f"<p class='muted'>{_e(subset_note(result))}</p>")


def _section_preferences(run: RunInfo) -> str:
    """A preference (DPO) run: the held-out pairs scored by its parent and by it, and the answer quality
    of both on the parent's test examples, each with its 95 % interval."""
    if not preference_eval.is_preference_run(run):
        return ""
    try:
        pe = preference_eval.get_preference_evaluation(run.id)
    except NotFoundError as exc:
        return f"<h2>What the preferences changed</h2><p class='muted'>{_e(exc)}</p>"
    beta = pe.pairs.get("beta")
    answers = (f"<p>Answer quality on {_e(pe.parent)}'s test examples (paired over {pe.answers_examples} "
               "examples; did the preferences cost accuracy?):</p>" + _table(pe.answers_frame())
               if pe.answers else "<p class='muted'>No answer quality to compare: the parent is a catalogue "
               "model, or its test answers were not scored.</p>")
    return ("<h2>What the preferences changed</h2>"
            f"<p>Each held-out {_e(pe.split)} pair was scored by {_e(pe.parent)} and by this run: the "
            "<b>preference accuracy</b> is the share of pairs where a model gives the chosen answer a higher "
            "log-probability than the rejected one; the <b>reward accuracy</b> (DPO's, beta "
            f"{_e(beta)}) is the share where the run moved towards the chosen answer relative to its parent. "
            "Intervals are 95 % (Wilson for shares, paired bootstrap for the gain).</p>"
            + _table(pe.pairs_frame()) + answers)


def _section_answers(run: RunInfo, split: str) -> str:
    """Answer quality of a causal-LM run: every metric with its interval, the prompt baselines, the worst."""
    if not generates_text(run.task):
        return ""
    from core.results.answer_quality import get_answer_quality

    try:
        quality = get_answer_quality(run.id, split)
    except NotFoundError as exc:
        return f"<h2>Answer quality</h2><p class='muted'>{_e(exc)}</p>"
    table = quality.display_frame()
    worst = quality.worst(limit=5)[["prompt", "reference", "answer", quality.headline]]
    note = ("" if quality.baselines else "<p class='muted'>No prompt baseline is stored yet: run "
            f"<code>uclab evaluate {run.id} --prompt-baselines</code>.</p>")
    n = quality.evaluation.examples
    return (f"<h2>Answer quality</h2><p>Greedy answers of the fine-tuned model to {n} {_e(split)} examples, "
            "scored against the reference answers, beside the base model prompted "
            "zero-shot and few-shot on the same examples. Intervals are 95 % bootstrap intervals over the "
            "examples; a gain whose interval excludes 0 is more than noise.</p>"
            f"<p class='muted'>{ANSWER_ENGINE_NOTE}</p>"
            + (f"<p class='muted'>{_e(quality.scoring_note)}</p>" if quality.scoring_note else "")
            + note + _table(table)
            + "<p>The lowest-scoring answers:</p>" + _table(worst))


def _section_charts(run: RunInfo, metrics: dict[str, Any], curves: pd.DataFrame,
                    predictions: pd.DataFrame | None, ids: list[int]) -> str:
    charts = [_chart(f) for f in evaluation_figures(run.task, metrics, curves, predictions)]
    if len(ids) > 1:
        comparison = compare_runs(ids)
        for name in ("loss", next((n for n in comparison.final.index if n != "loss"), None)):
            if name:
                title = f"{labels.metric_label(name)} by epoch, every run compared"
                charts.append(_chart(curve_figure(comparison.curves, name, x="epoch", by="run", title=title)))
    body = "".join(charts) or "<p class='muted'>This run logged no metrics to chart.</p>"
    return f"<h2>Evaluation charts</h2>{body}"


def _section_examples(run: RunInfo, predictions: pd.DataFrame | None, generations: pd.DataFrame,
                      n: int) -> str:
    if generates_text(run.task):
        stored = pd.DataFrame()
        if predictions is not None and "generated" in predictions:
            keep = [c for c in ("prompt", "reference", "generated") if c in predictions]
            stored = predictions[predictions["generated"].astype(str).str.strip() != ""][keep].head(n)
        note = ("<p>Greedy answers of the model to held-out prompts, next to the expected answer, written "
                f"{EXACT_ENGINE_NOTE}.</p>")
        if stored.empty and not generations.empty:
            note = ("<p>Answers stored from the playground and the server; the engine column says which "
                    "engine wrote each (greedy answers can differ between engines).</p>")
        shown = stored if not stored.empty else generations
        return f"<h2>Example generations</h2>{note if not shown.empty else ''}" + _table(shown)
    return f"<h2>Example predictions</h2>{_table(_examples(predictions, n))}"


def _section_cost(runs: list[RunInfo]) -> str:
    rows, total_cost, total_s = [], 0.0, 0.0
    for r in runs:
        rate = _rate(r.device)
        cost = (r.elapsed_seconds or 0.0) / 3600 * rate
        total_cost, total_s = total_cost + cost, total_s + (r.elapsed_seconds or 0.0)
        rows.append({"run": labels.run_label(r.id, r.name), "device": r.device or "cpu",
                     "training time": f"{(r.elapsed_seconds or 0) / 60:.1f} min",
                     "$ per hour": f"{rate:.2f}", "estimated cost": f"${cost:.3f}"})
    return ("<h2>Training time and cost</h2>"
            f"<p>All runs together trained for {total_s / 60:.1f} minutes, about ${total_cost:.2f} of "
            "hardware time. Rates are estimates (set UCLAB_CPU_USD_PER_HOUR and UCLAB_GPU_USD_PER_HOUR "
            "to your own prices).</p>" + _table(pd.DataFrame(rows)))


def _model_names() -> dict[str, str]:
    """The catalogue's name of each model key (a key the catalogue lacks is shown as itself)."""
    try:
        return {m.key: m.name for m in catalog.list_models()}
    except UserError:
        return {}


def _section_appendix(run: RunInfo, folder: str, data: dict[str, Any] | None, runs: list[RunInfo]) -> str:
    """Code, folders and raw names: for the engineer who takes the model on, not for the meeting."""
    refs = "".join(f"<li>{_e(labels.run_label(r.id, r.name))}: <code>run:{r.id}</code>, model "
                   f"<code>{_e(r.model_key)}</code>, task <code>{_e(r.task)}</code></li>" for r in runs)
    source = (f"<p>Source file: <code>{_e(data['source'])}</code>.</p>" if data else "")
    where = (f"<p>Model folder: <code>{_e(folder)}</code> inside the app's data folder (UCLAB_HOME).</p>"
             if folder else "")
    return (f"<h2>Appendix: for engineers</h2><p>Names the command line and the API use:</p><ul>{refs}</ul>"
            f"{source}{where}<h3>How to load and call the model</h3>{load_snippet(run.task, folder, run.id)}")


def write_report(run_id: int | Sequence[int], out_path: str | Path, **kwargs: Any) -> Path:
    """Write the report of a run (or runs) to an HTML file and return its path."""
    path = Path(out_path).expanduser()
    if path.is_dir():
        raise UserError(f"{path} is a folder; give a file name such as report.html.")
    page = build_report(run_id, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
