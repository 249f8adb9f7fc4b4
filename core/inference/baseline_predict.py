"""Labels from a run's saved keyword baseline (``core.training.baseline_models.save_baseline``).

The server's ``/v1/classify`` asks here when it serves a baseline; the fitted pipeline is loaded
once (skops, no unpickling) into the shared model cache.
"""

from __future__ import annotations

from typing import Any

from core.config import get_settings
from core.errors import NotFoundError
from core.inference.cache import MODELS
from core.run_folder import RunFolder
from core.tasks.baselines import SAVABLE, TextBaseline


def saved_names(run_id: int) -> list[str]:
    """The baselines of a run that are saved, in SAVABLE order."""
    folder = RunFolder.of(get_settings().runs_dir, run_id)
    return [n for n in SAVABLE if (folder.baseline(n) / "baseline.json").is_file()]


def loaded_baseline(run_id: int, name: str) -> TextBaseline:
    """The saved baseline, loaded once per process."""
    folder = RunFolder.of(get_settings().runs_dir, run_id).baseline(name)
    if not (folder / "baseline.json").is_file():
        raise NotFoundError(f"Run {run_id} has no saved '{name}' baseline; save it with "
                            f"`uclab baselines save {run_id}`.")
    return MODELS.get(("baseline", run_id, name), lambda: TextBaseline.load(folder)).value


def classify(run_id: int, name: str, texts: list[str]) -> list[dict[str, Any]]:
    """Each text's label, its probability and every label's probability, as ``encoders.classify``."""
    from core.inference.encoders import check_texts

    model = loaded_baseline(run_id, name)
    proba = model.predict_proba(check_texts(texts))
    return [{"index": i, "label": model.labels[int(row.argmax())], "score": float(row.max()),
             "scores": {lab: float(p) for lab, p in zip(model.labels, row, strict=True)}}
            for i, row in enumerate(proba)]
