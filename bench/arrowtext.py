"""The quality report's duplicate check: the hand-written text codes of core.text.arrowtext against
the pyarrow / pandas calls that give the same answer, on a file at the upload limit.

Run: ``.venv/bin/python bench/arrowtext.py [--rows 1600000] [--repeat 3]`` (1.6M rows is the
193 MB CSV of ``bench/ingest.py --rows 1600000``). Each pair is timed in the same run (best of
the repeats), its answers are compared, and the ratio library / hand-written is printed: above
1 the hand-written path earns its place, below 1 the library should be used.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORDS = ("the a movie film plot acting cast was is very not really quite good great bad boring fun "
         "loved hated story characters ending music scene director script slow fast funny sad dark").split()
OTHER_SCRIPTS = "电影 很好 看 故事 演员 café naïve фильм хороший".split()


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    from core.ml.device import describe_machine

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_600_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import pandas as pd

    print(f"machine: {describe_machine()}")
    for label, vocabulary in (("English", WORDS), ("mixed scripts", WORDS + OTHER_SCRIPTS)):
        rng = random.Random(0)
        texts = [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(15, 25)))
                 for _ in range(args.rows)]
        texts[::1000] = ["   "] * len(texts[::1000])  # some blank rows
        _compare(label, pd.Series(texts, dtype="string[pyarrow]"), args.repeat)


def _compare(label: str, series: Any, repeat: int) -> None:
    import numpy as np
    import pandas as pd
    import pyarrow.compute as pc

    from core.text import arrowtext as A

    arr = A.arrow_strings(series)

    def duplicated(codes: np.ndarray) -> np.ndarray:
        return pd.Series(codes).duplicated(keep=False).to_numpy()

    pairs = [
        ("duplicate texts", lambda: duplicated(A.text_codes(series)),
         lambda: series.duplicated(keep=False).to_numpy(), np.array_equal),
        ("duplicate codes", lambda: duplicated(A.text_codes(series)),
         lambda: duplicated(pc.dictionary_encode(arr.combine_chunks()).indices.to_numpy()), np.array_equal),
    ]
    print(f"{label}: {len(series):,} rows, {arr.nbytes / 2**20:.0f} MB of text (best of {repeat})")
    for name, hand, library, same in pairs:
        t_hand, r_hand = _best(hand, repeat)
        t_lib, r_lib = _best(library, repeat)
        print(f"{name:18} app path {t_hand * 1000:8.1f} ms   library {t_lib * 1000:8.1f} ms   "
              f"library/app {t_lib / t_hand:5.2f}x   same answers: {bool(same(r_hand, r_lib))}")


if __name__ == "__main__":
    main()
