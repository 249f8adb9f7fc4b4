"""Peak memory of importing large files, each in a fresh process, against a bare pandas.read_csv.

Run: ``.venv/bin/python bench/ingest_memory.py [--cell-mb 150] [--rows 1300000]``. Two files:
one CSV whose single text cell is ``--cell-mb`` MB, and one of ``--rows`` short reviews (137 MB at
1.3 M rows). For each, in a new process: the resident memory with the libraries and the tokenizer
loaded, then the peak after ``read_upload``, after ``check_dataset`` and after ``save_dataset``
(what ``uclab datasets add`` does), and, in another new process, the peak of ``pandas.read_csv``
of the same file. Target: at the 200 MB upload limit a file stays under 4x its size in peak
memory (peak minus the loaded libraries).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = ("the a movie film plot acting cast was is very not really quite good great bad boring fun "
         "loved hated story characters ending music scene director script slow fast funny").split()

_OURS = """
import resource, sys
from pathlib import Path
from core.data.datasets import SplitConfig, check_dataset, read_upload, save_dataset
from core.models.tokenlength import tokenizer_for
tokenizer_for("minilm-l6")
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("base", peak(), flush=True)
path = Path(sys.argv[1])
parsed = read_upload(path.read_bytes(), path.name)
print("read_upload", peak(), flush=True)
mapping = {"text": "text", "label": "label"}
check_dataset(parsed, mapping, task="classification", split=SplitConfig())
print("check_dataset", peak(), flush=True)
save_dataset(parsed, mapping, name="bench", task="classification", split=SplitConfig())
print("save_dataset", peak(), flush=True)
"""

_BARE = """
import resource, sys
import pandas as pd
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("base", peak(), flush=True)
pd.read_csv(sys.argv[1])
print("pandas.read_csv", peak(), flush=True)
"""


def write_one_cell(path: Path, megabytes: int) -> None:
    """A header, one row whose text is ``megabytes`` MB of words, and a second short row."""
    chunk = " ".join(WORDS) + " "
    with path.open("w", encoding="utf-8") as f:
        f.write('text,label\n"')
        for _ in range(megabytes * 2**20 // len(chunk)):
            f.write(chunk)
        f.write('",pos\n"a short review",neg\n')


def write_rows(path: Path, rows: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        f.write("text,label\n")
        for _ in range(rows):
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 30)))
            f.write(f'"{words}",{rng.choice(("positive", "negative", "neutral"))}\n')


def measure(script: str, path: Path, home: str) -> list[tuple[str, float]]:
    env = {**os.environ, "UCLAB_HOME": home, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                          cwd=ROOT, env=env)
    lines = [line.split() for line in done.stdout.splitlines() if line.strip()]
    if done.returncode:
        lines.append(["failed:", "nan"])
        print(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed")
    return [(name, float(value)) for name, value in lines]


def main() -> None:
    from core.ml.device import describe_machine

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cell-mb", type=int, default=150)
    parser.add_argument("--rows", type=int, default=1_300_000)
    args = parser.parse_args()
    print(f"machine: {describe_machine()}; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        files = [("one cell", Path(tmp) / "one_cell.csv"), ("many rows", Path(tmp) / "rows.csv")]
        write_one_cell(files[0][1], args.cell_mb)
        write_rows(files[1][1], args.rows)
        for label, path in files:
            size = path.stat().st_size / 2**20
            print(f"\n{label}: {path.name}, {size:.0f} MB")
            for script in (_BARE, _OURS):
                steps = measure(script, path, tempfile.mkdtemp(dir=tmp))
                base = dict(steps).get("base", 0.0)
                for name, peak in steps:
                    if name == "base":
                        continue
                    print(f"  {name:16s} peak {peak:7.0f} MB = {peak / size:5.1f}x the file; "
                          f"{(peak - base) / size:5.1f}x above the loaded libraries ({base:.0f} MB)")


if __name__ == "__main__":
    main()
