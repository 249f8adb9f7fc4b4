"""How well a model and its parent order held-out preference pairs: the numbers of a preference run.

For each pair (prompt, chosen, rejected) a model gives each answer a log-probability: the sum of
the log-probabilities of the answer's tokens after the prompt, as DPO scores them.

- **Preference accuracy** of one model: the share of pairs where it gives the chosen answer the
  higher log-probability. It exists for the parent and for the preference run alike, so the two
  are compared on the same pairs (paired: the difference's interval resamples the pairs).
- **Reward accuracy** and **reward margin** (DPO's, as TRL logs them): the implicit reward of an
  answer is beta × (log-probability under the run − under the parent); the margin is the chosen
  answer's reward minus the rejected one's, the accuracy the share of pairs where it is above 0.
  The parent's own margin is 0 by definition, so the reward accuracy says how often the run moved
  towards the team's choice; the preference accuracy says whether it now ranks the pair right.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from core.tasks.intervals import bootstrap_mean_interval, wilson_interval

LOGP_COLUMNS = ("logp_chosen", "logp_rejected", "parent_logp_chosen", "parent_logp_rejected")


def _share(hits: Sequence[float]) -> dict[str, float | None]:
    n = len(hits)
    if not n:
        return {"mean": None, "low": None, "high": None, "n": 0}
    low, high = wilson_interval(sum(hits), n)
    return {"mean": sum(hits) / n, "low": low, "high": high, "n": n}


def _mean(values: Sequence[float], seed: int) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "low": None, "high": None, "n": 0}
    low, high = bootstrap_mean_interval(values, seed)
    return {"mean": sum(values) / len(values), "low": low, "high": high, "n": len(values)}


def pair_scores(rows: Sequence[dict[str, Any]], beta: float) -> list[dict[str, Any]]:
    """Each pair's verdicts: does the run (and the parent) prefer the chosen answer, its DPO reward margin."""
    out = []
    for row in rows:
        c, r = row.get("logp_chosen"), row.get("logp_rejected")
        pc, pr = row.get("parent_logp_chosen"), row.get("parent_logp_rejected")
        scored = {**row, "prefers_chosen": None, "parent_prefers_chosen": None, "reward_margin": None}
        if c is not None and r is not None:
            scored["prefers_chosen"] = float(c > r)
        if pc is not None and pr is not None:
            scored["parent_prefers_chosen"] = float(pc > pr)
            if c is not None and r is not None:
                scored["reward_margin"] = beta * ((c - pc) - (r - pr))
        out.append(scored)
    return out


def preference_metrics(scored: Sequence[dict[str, Any]], beta: float, seed: int = 0) -> dict[str, Any]:
    """Preference accuracy of the run and of its parent (each with a Wilson interval), their paired
    difference (bootstrap interval), DPO's reward accuracy and mean reward margin, and the DPO loss."""
    mine = [s["prefers_chosen"] for s in scored if s["prefers_chosen"] is not None]
    both = [s for s in scored if s["prefers_chosen"] is not None and s["parent_prefers_chosen"] is not None]
    parent = [s["parent_prefers_chosen"] for s in both]
    margins = [s["reward_margin"] for s in scored if s["reward_margin"] is not None]
    gain = _mean([s["prefers_chosen"] - s["parent_prefers_chosen"] for s in both], seed)
    reward_acc = _share([float(m > 0) for m in margins])
    margin = _mean(margins, seed)
    metrics: dict[str, Any] = {
        "pairs": len(scored), "beta": beta,
        "preference_accuracy": _share(mine)["mean"], "preference_accuracy_interval": _interval(_share(mine)),
        "intervals": {"preference_accuracy": _share(mine), "parent_preference_accuracy": _share(parent),
                      "preference_accuracy_gain": gain, "reward_accuracy": reward_acc,
                      "reward_margin": margin},
    }
    if both:
        metrics["parent_preference_accuracy"] = _share(parent)["mean"]
        metrics["preference_accuracy_gain"] = gain["mean"]
    if margins:
        metrics["reward_accuracy"] = reward_acc["mean"]
        metrics["reward_margin"] = margin["mean"]
        metrics["dpo_loss"] = sum(math.log1p(math.exp(-m)) if m > -30 else -m for m in margins) / len(margins)
    return metrics


def _interval(summary: dict[str, float | None]) -> list[float | None]:
    return [summary["low"], summary["high"]]

