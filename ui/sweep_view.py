"""The sweep page's leaderboard as a table (a pure function of the service's trial rows)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

STATE_WORDS = {"COMPLETE": "Finished", "PRUNED": "Pruned", "FAIL": "Failed", "RUNNING": "Queued or training",
               "WAITING": "Waiting"}


def _shown(value: Any) -> Any:
    return f"{value:.3g}" if isinstance(value, float) else value


def leaderboard_frame(trials: Sequence[Any], metric: str) -> pd.DataFrame:
    """One row per trial, best first: the mark, the trial, its state, the validation metric with its
    interval, each parameter, the run (a link to its page), where it trained and why it stopped."""
    rows = []
    for t in trials:
        interval = t.interval
        row = {"Best": "★" if t.best else "", "Trial": t.number, "State": STATE_WORDS.get(t.state, t.state),
               f"Validation {metric}": t.value,
               "95 % interval": f"{interval[0]:.3f} – {interval[1]:.3f}" if interval else "",
               **{name: _shown(value) for name, value in t.params.items()},
               "Run": f"/finetune?run={t.run_id}" if t.run_id is not None else None,
               "Host": t.host, "Note": t.status_reason}
        rows.append(row)
    return pd.DataFrame(rows)
