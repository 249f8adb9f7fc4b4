"""Validation rows checked during training: the first rows always, the rest a sample in file order."""

from __future__ import annotations

import pandas as pd

from core.training.worker import validation_during_training


def test_the_first_validation_rows_are_kept_first_and_the_rest_stays_in_file_order() -> None:
    frame = pd.DataFrame({"text": [f"row {i}" for i in range(100)]}, index=range(1000, 1100))
    picked = validation_during_training(frame, seed=3, limit=20)
    assert len(picked) == 20
    assert list(picked["text"].head(10)) == [f"row {i}" for i in range(10)]  # the sample prompts
    assert list(picked.index) == sorted(picked.index)
    assert validation_during_training(frame, seed=3, limit=200) is frame
