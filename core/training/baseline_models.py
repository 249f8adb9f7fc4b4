"""Saving the keyword baseline of a classification run when it is the model worth shipping.

The worker judges the TF-IDF baseline on the run's own split but keeps only its metrics. When that
baseline wins (``core.results.verdict.baseline_winner``), ``save_baseline`` fits it again on the very
same training rows (the run's split and seed, so the same model) and writes it under
``runs/<id>/baselines/<name>/`` as ``model.skops`` + ``baseline.json``, optionally copied to a folder
of the user's choice. ``uclab serve --run ID --baseline`` then answers ``/v1/classify`` with it.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.config import get_settings
from core.errors import ConfigError, NotFoundError
from core.run_config import TrainConfig
from core.run_folder import RunFolder
from core.store.runs import get_run
from core.tasks.baselines import BASELINE_TITLES, SAVABLE, class_labels, fit_text_baseline


@dataclass(frozen=True)
class SavedBaseline:
    """Where a baseline was saved, and how closely it repeats the evaluated baseline's answers."""

    run_id: int
    name: str
    title: str
    folder: str
    labels: list[str]
    split: str
    rows: int
    same_answers: int  # rows of the evaluation split where it answers as the evaluated baseline did
    exported_to: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def savable_baseline(run_id: int, name: str | None = None) -> str:
    """The baseline to save: `name`, else the run's winning keyword baseline, else its keyword baseline."""
    from core.results import verdict

    run = get_run(run_id)
    if run.task != "classification":
        raise ConfigError(f"Run {run_id} is a {run.task} run; only a classification run's keyword baseline "
                          "can be saved and served.")
    stored = dict((run.summary or {}).get("baselines") or {})
    if name:
        if name not in SAVABLE:
            raise ConfigError(f"'{name}' cannot be saved; choose one of {', '.join(SAVABLE)}.")
        return name
    win = verdict.baseline_winner(run.task, verdict.final_metrics(run), stored)
    if win is not None and win.servable:
        return win.name
    found = [n for n in SAVABLE if n in stored]
    if not found:
        raise NotFoundError(f"Run {run_id} has no keyword baseline to save; it is trained when the run "
                            "finishes.")
    return found[0]


def save_baseline(run_id: int, name: str | None = None, out: Path | str | None = None) -> SavedBaseline:
    """Fit the run's keyword baseline again on its training rows, save it (skops) and say how it agrees."""
    from core.results.evaluation import read_predictions
    from core.training.prepare import load_frames, split_frames

    name = savable_baseline(run_id, name)
    run = get_run(run_id)
    if run.status != "succeeded":
        raise ConfigError(f"Run {run_id} is {run.status}; save a baseline of a succeeded run.")
    _, frame = load_frames(run.dataset_id)
    parts = split_frames(frame, TrainConfig.from_dict(run.config))
    split = "test" if not parts["test"].empty else "validation"
    model = fit_text_baseline(parts["train"], class_labels(parts["train"], parts[split]),
                              characters=name == "tfidf_char_logreg")
    folder = model.save(RunFolder.of(get_settings().runs_dir, run_id).baseline(name))
    texts = parts[split]["text"].astype(str).tolist()
    answers = [model.labels[i] for i in model.predict_proba(texts).argmax(1)] if texts else []
    try:
        stored = read_predictions(run_id, split, name)["predicted"].astype(str).tolist()
    except Exception:  # noqa: BLE001 - an old run without the stored predictions: nothing to compare
        stored = []
    same = sum(a == b for a, b in zip(answers, stored, strict=False)) if len(stored) == len(answers) else 0
    exported = None
    if out is not None:
        dest = Path(out)
        if dest.exists() and any(dest.iterdir()):
            raise ConfigError(f"The folder {dest} is not empty; choose a new folder for the baseline.")
        shutil.copytree(folder, dest, dirs_exist_ok=True)
        exported = str(dest)
    return SavedBaseline(run_id=run_id, name=name, title=BASELINE_TITLES.get(name, name),
                         folder=get_settings().relative(folder), labels=list(model.labels), split=split,
                         rows=len(texts), same_answers=same, exported_to=exported)
