"""The one Wilson score interval of the project (review win rates, sampled token-length shares).

scipy's ``binomtest(...).proportion_ci(method="wilson")`` wants whole successes, but a review
counts a tie as half a win, and a sample drawn from a known number of rows narrows the
interval (finite-population correction); so the few lines of the formula live here once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z_95 = 1.959963984540054


def wilson_interval(successes: float, n: float, z: float = Z_95,
                    population: int | None = None) -> tuple[float, float]:
    """Wilson score interval of the proportion successes / n (successes may be fractional).

    With `population`, n rows were drawn without replacement from that many, and z² is scaled
    by the finite-population correction (N - n) / (N - 1): the whole population gives a point.
    """
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    if population is not None:
        if n >= population:
            return (p, p)
        z2 *= (population - n) / (population - 1)
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = math.sqrt(z2 * p * (1 - p) / n + z2 * z2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_mean_interval(values: Sequence[float], seed: int = 0,
                            samples: int = 2000) -> tuple[float | None, float | None]:
    """95 % percentile interval of the mean of ``values`` over resamples of the examples (paired
    differences too: resample the pairs, not each side apart)."""
    import numpy as np

    data = np.asarray([v for v in values if v is not None], dtype=float)
    if len(data) == 0:
        return None, None
    if len(data) == 1:
        return float(data[0]), float(data[0])
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(samples, len(data)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)
