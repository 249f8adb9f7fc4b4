"""Compare runs: overlaid curves, final metrics with deltas and the best marked, a config diff,
and the examples that flipped between two classifiers or taggers on the same data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.data.language import joined
from core.entities import RunInfo
from core.errors import NotFoundError, UserError
from core.results.evaluation import evidence_split, read_predictions
from core.store import evaluations, runs
from core.store.evaluations import EvaluationRow
from core.task_specs import LOWER_IS_BETTER_WORDS, label_fixes
from core.task_specs import higher_is_better as task_higher_is_better
from core.text.labels import run_label

# Metrics where a smaller number is better; everything else (accuracy, f1, r2...) is higher-better.
LOWER_IS_BETTER = LOWER_IS_BETTER_WORDS
# Counts, not qualities: shown nowhere in the final-metrics table.
NOT_COMPARED = {"n", "epoch", "step", "tokens", "examples", "support"}
MAX_RUNS = 8
CURVE_COLUMNS = ["run_id", "run", "step", "epoch", "split", "name", "value"]


@dataclass(frozen=True)
class Comparison:
    """Everything the compare page and the report draw for two or more runs.

    ``final`` has one row per metric and one column per run label; ``deltas`` is ``final``
    minus the first run's column; ``best`` names the best run label per metric.
    """

    runs: pd.DataFrame
    curves: pd.DataFrame
    final: pd.DataFrame
    deltas: pd.DataFrame
    best: dict[str, str]
    higher_is_better: dict[str, bool]
    config_diff: pd.DataFrame
    same_dataset: bool
    final_source: dict[str, str] = field(default_factory=dict)
    split_note: str = ""  # a sentence when the runs' final metrics come from different splits


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of this metric means a better model."""
    return task_higher_is_better(metric.lower().removeprefix("eval_"))


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = value


def config_diff(configs: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Settings whose values differ between runs: one row per setting, one column per run."""
    flat: dict[str, dict[str, Any]] = {}
    for label, config in configs.items():
        flat[label] = {}
        _flatten("", config, flat[label])
    keys = sorted({k for values in flat.values() for k in values})
    rows = {}
    for key in keys:
        values = [flat[label].get(key) for label in configs]
        if len({json.dumps(v, sort_keys=True, default=str) for v in values}) > 1:
            rows[key] = ["—" if v is None else (json.dumps(v) if isinstance(v, list | dict) else str(v))
                         for v in values]
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(configs)).rename_axis("setting")


def _scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in (metrics or {}).items()
            if isinstance(v, int | float) and not isinstance(v, bool) and k not in NOT_COMPARED}


def _final_metrics(own: list[EvaluationRow], run_id: int,
                   curves: pd.DataFrame) -> tuple[dict[str, float], str]:
    """The run's own evaluation on test (else validation), else the last logged validation values."""
    by_split = {e.split: e.metrics for e in own if _scalar_metrics(e.metrics)}
    split = evidence_split(list(by_split))
    if split is not None:
        return _scalar_metrics(by_split[split]), split
    mine = curves[(curves["run_id"] == run_id) & (curves["split"] != "train")].dropna(subset=["value"])
    if mine.empty:
        return {}, ""
    last = mine.sort_values("step").groupby("name", sort=True)["value"].last()
    return {str(k).removeprefix("eval_"): float(v) for k, v in last.items()}, "validation (last logged)"


def _labels(rows: Sequence[RunInfo]) -> dict[int, str]:
    return {r.id: run_label(r.id, r.name) for r in rows}


def compare_runs(run_ids: Sequence[int]) -> Comparison:
    """Curves, final metrics (deltas vs the first run, best marked) and config diff of 2+ runs."""
    ids = list(dict.fromkeys(int(i) for i in run_ids))
    if len(ids) < 2:
        raise UserError("Pick at least two runs to compare.")
    if len(ids) > MAX_RUNS:
        raise UserError(f"Compare at most {MAX_RUNS} runs at a time; remove some from the selection.")
    ordered = _runs(ids)
    labels = _labels(ordered)
    curves = runs.metrics_of(ids)
    curves.insert(1, "run", curves["run_id"].map(labels))
    curves = curves[CURVE_COLUMNS]
    own = evaluations.list_evaluations(ids, model="run")
    finals, sources = {}, {}
    for r in ordered:
        finals[labels[r.id]], sources[labels[r.id]] = _final_metrics(
            [e for e in own if e.run_id == r.id], r.id, curves)
    table = pd.DataFrame([{
        "id": r.id, "run": labels[r.id], "model": r.model_key, "task": r.task,
        "dataset_id": r.dataset_id, "status": r.status, "kind": r.kind,
        "train_seconds": r.elapsed_seconds or 0.0, "device": r.device or "",
        "created_at": r.created_at} for r in ordered])
    configs = {labels[r.id]: {"model": r.model_key, "dataset_id": r.dataset_id, "task": r.task,
                              "seed": r.seed, **(r.config or {})} for r in ordered}
    final = pd.DataFrame(finals).rename_axis("metric")
    final = final.reindex(columns=list(finals))
    first = final.columns[0]
    deltas = final.sub(final[first], axis=0)
    best, direction = {}, {}
    note = _split_note(sources)
    for metric, values in final.iterrows():
        direction[str(metric)] = higher_is_better(str(metric))
        present = values.dropna()
        if len(present) >= 2 and present.nunique() > 1 and not note:  # no "best" across different rows
            best[str(metric)] = str(present.idxmax() if direction[str(metric)] else present.idxmin())
    return Comparison(runs=table, curves=curves, final=final, deltas=deltas, best=best,
                      higher_is_better=direction, config_diff=config_diff(configs),
                      same_dataset=len({r.dataset_id for r in ordered}) == 1, final_source=sources,
                      split_note=note)


def _split_note(sources: dict[str, str]) -> str:
    """A sentence when the runs' final metrics come from different splits (a sweep's trials are scored
    on validation, its final run on test): their numbers are not like for like."""
    by_split: dict[str, list[str]] = {}
    for label, source in sources.items():
        if source:
            by_split.setdefault(source.split(" ")[0], []).append(label)
    if len(by_split) < 2:
        return ""
    parts = "; ".join(f"{joined(names)} on {split}" for split, names in by_split.items())
    return (f"These runs are not scored on the same rows ({parts}), so their numbers are not like for "
            "like and none is marked best; compare runs scored on the same split.")


def _runs(ids: Sequence[int]) -> list[RunInfo]:
    """The runs in the order asked for (NotFoundError naming the first missing id)."""
    found = {r.id: r for r in runs.list_runs(ids=ids, limit=None)}
    missing = [i for i in ids if int(i) not in found]
    if missing:
        raise NotFoundError(f"There is no run with id {missing[0]}; pick runs from the list.")
    return [found[int(i)] for i in ids]


def run_predictions(run_id: int, split: str = "test", model: str = "run") -> pd.DataFrame:
    """The stored predictions (one row per example) of a run's evaluation on a split."""
    return read_predictions(run_id, split, model)


_TRUE = ("label", "tags", "actual")
_PRED = ("predicted", "predicted_tags", "prediction", "predictions")


def _correctness(frame: pd.DataFrame) -> pd.Series:
    if "correct" in frame:
        return frame["correct"].astype(bool)
    true = next((c for c in _TRUE if c in frame), None)
    pred = next((c for c in _PRED if c in frame), None)
    if true is None or pred is None:
        raise UserError("These predictions say neither what was right nor what was predicted, "
                        "so flips cannot be found.")
    # Tags are lists per sentence: a sentence counts as right only when every tag is right.
    return pd.Series([_same(a, b) for a, b in zip(frame[true], frame[pred], strict=True)], index=frame.index)


def _same(a: Any, b: Any) -> bool:
    if hasattr(a, "__len__") and not isinstance(a, str):
        return [str(x) for x in a] == [str(x) for x in b]
    return str(a) == str(b)


def _example_text(frame: pd.DataFrame) -> pd.Series:
    if "text" in frame:
        return frame["text"].astype(str)
    if "tokens" in frame:
        return frame["tokens"].map(lambda t: " ".join(str(x) for x in t))
    return pd.Series([f"row {i}" for i in range(len(frame))], index=frame.index)


def _show(value: Any) -> str:
    if hasattr(value, "__len__") and not isinstance(value, str):
        return " ".join(str(x) for x in value)
    return str(value)


def flip_analysis(run_a: int, run_b: int, split: str = "test") -> pd.DataFrame:
    """Examples that went wrong→right or right→wrong from run A to run B on the same data.

    Columns: row, text, label, predicted_a, predicted_b, flip ('fixed' or 'broken').
    """
    a, b = _runs([int(run_a), int(run_b)])
    if a.dataset_id != b.dataset_id:
        raise UserError(f"Runs {a.id} and {b.id} were trained on different datasets, so their "
                        "examples cannot be matched; pick two runs on the same dataset version.")
    if a.task == "regression" or a.task != b.task:
        raise UserError("Flips need two classifiers or two taggers of the same task; "
                        "for regression compare the error charts instead.")
    pa, pb = run_predictions(a.id, split), run_predictions(b.id, split)
    if len(pa) != len(pb):
        raise UserError(f"The two runs were evaluated on different rows ({len(pa)} and {len(pb)}); "
                        "evaluate both on the full split.")
    ok_a, ok_b = _correctness(pa).to_numpy(), _correctness(pb).to_numpy()
    true_col = next((c for c in _TRUE if c in pa), None)
    pred_col = next((c for c in _PRED if c in pa), None)
    out = pd.DataFrame({
        "row": range(len(pa)),
        "text": _example_text(pa).to_numpy(),
        "label": pa[true_col].map(_show).to_numpy() if true_col else "",
        "predicted_a": pa[pred_col].map(_show).to_numpy() if pred_col else "",
        "predicted_b": pb[pred_col].map(_show).to_numpy() if pred_col in pb else "",
    })
    out["flip"] = None
    out.loc[~ok_a & ok_b, "flip"] = "fixed"
    out.loc[ok_a & ~ok_b, "flip"] = "broken"
    out = out.dropna(subset=["flip"])
    return out.sort_values(["flip", "row"], ascending=[False, True]).reset_index(drop=True)


@dataclass(frozen=True)
class SameRows:
    """Two runs trained on different versions of one dataset, scored on the rows they share against the
    newest labels of those rows: each run's score, and B minus A with its 95 % bootstrap interval."""

    run_a: int
    run_b: int
    version_a: str
    version_b: str
    split: str
    examples: int
    labels_from: str               # the version whose labels both runs are scored against
    metric: str                    # "accuracy" (a classifier) or "token_accuracy" (a tagger)
    score_a: float
    score_b: float
    gain: float
    low: float | None
    high: float | None
    changed_in_split: int          # rows of the split whose label differs between the two versions

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class VersionNote:
    """What the compare page says when runs trained on different versions of a dataset."""

    sentence: str                  # "run 7 trained on reviews v1, run 9 on v2 (37 labels fixed)"
    related: bool                  # the versions descend from one upload (labels fixed in between)
    same_rows: list[SameRows]

    def to_dict(self) -> dict[str, Any]:
        return {"sentence": self.sentence, "related": self.related,
                "same_rows": [s.to_dict() for s in self.same_rows]}


def _example_score(predicted: Any, truth: Any) -> float:
    if hasattr(truth, "__len__") and not isinstance(truth, str):
        pairs = list(zip([str(x) for x in predicted], [str(x) for x in truth], strict=False))
        return sum(a == b for a, b in pairs) / len(truth) if len(truth) else 0.0
    return float(str(predicted) == str(truth))


def same_rows_comparison(run_a: int, run_b: int, split: str = "test", seed: int = 0) -> SameRows:
    """Score two runs of one dataset's versions on the split's shared rows against the newest labels."""
    from core.data import datasets, relabel
    from core.results.answer_metrics import paired_gain

    a, b = _runs([int(run_a), int(run_b)])
    va, vb = datasets.get_dataset(a.dataset_id), datasets.get_dataset(b.dataset_id)
    column = relabel.fix_column(va.task)
    fa, fb = datasets.load_dataset_frame(va.id), datasets.load_dataset_frame(vb.id)
    if len(fa) != len(fb):
        raise UserError(f"Runs {a.id} and {b.id} trained on versions with different rows, so they cannot "
                        "be compared example by example.")
    rows = relabel.evaluated_rows(fa, split, column)
    content = "tokens" if column == "tags" else "text"
    same_text = ([_show(v) for v in fa[content].iloc[rows - 1]]
                 == [_show(v) for v in fb[content].iloc[rows - 1]])
    if list(rows) != list(relabel.evaluated_rows(fb, split, column)) or not same_text:
        raise UserError(f"Runs {a.id} and {b.id} were not evaluated on the same {split} rows, so they "
                        "cannot be compared example by example.")
    pa, pb = run_predictions(a.id, split), run_predictions(b.id, split)
    if len(pa) != len(rows) or len(pb) != len(rows):
        raise UserError(f"The stored {split} predictions of runs {a.id} and {b.id} do not cover the whole "
                        "split; evaluate both on the full split.")
    later = max((va, vb), key=lambda d: (d.version, d.id))
    newest, truth = relabel.newest_labels(later.id, [int(r) for r in rows])
    score_a = [_example_score(p, t) for p, t in zip(pa["predicted"], truth, strict=True)]
    score_b = [_example_score(p, t) for p, t in zip(pb["predicted"], truth, strict=True)]
    gain = paired_gain(score_b, score_a, seed)
    changed = sum(_show(x) != _show(y) for x, y in zip(fa[column].iloc[rows - 1], fb[column].iloc[rows - 1],
                                                       strict=True))
    return SameRows(run_a=a.id, run_b=b.id, version_a=va.label, version_b=vb.label, split=split,
                    examples=len(rows), labels_from=newest.label,
                    metric="token_accuracy" if column == "tags" else "accuracy",
                    score_a=float(sum(score_a) / len(rows)) if len(rows) else 0.0,
                    score_b=float(sum(score_b) / len(rows)) if len(rows) else 0.0,
                    gain=float(gain["mean"] or 0.0), low=gain["low"], high=gain["high"],
                    changed_in_split=int(changed))


def version_note(run_ids: Sequence[int], split: str = "test") -> VersionNote | None:
    """None when the runs trained on one version; else the sentence naming each run's version and, for
    versions made from one another by fixing labels, each later run against the first on the same rows."""
    from core.data import relabel

    ordered = sorted(_runs(list(dict.fromkeys(int(i) for i in run_ids))), key=lambda r: r.id)
    if len({r.dataset_id for r in ordered}) <= 1:
        return None
    chains = {r.dataset_id: relabel.lineage(r.dataset_id) for r in ordered}
    roots = {chain[0].dataset_id for chain in chains.values()}
    parts = []
    for i, r in enumerate(ordered):
        step = chains[r.dataset_id][-1]
        what = step.label if i == 0 or len(roots) > 1 else f"v{step.version}"
        fixed = sum(s.fixed for s in chains[r.dataset_id][1:])
        extra = f" ({fixed} label{'s' if fixed != 1 else ''} fixed)" if fixed else ""
        parts.append(f"run {r.id} {'trained on ' if i == 0 else 'on '}{what}{extra}")
    joined = ", ".join(parts[:-1]) + (" and " if len(parts) > 2 else ", ") + parts[-1]
    related = len(roots) == 1 and bool(label_fixes(ordered[0].task))
    same: list[SameRows] = []
    if related:
        first = ordered[0]
        for other in ordered[1:]:
            if other.dataset_id == first.dataset_id:
                continue
            try:
                same.append(same_rows_comparison(first.id, other.id, split))
            except UserError:
                continue
    return VersionNote(joined[:1].upper() + joined[1:] + ".", related, same)
