"""The held-out encodings table: each legacy code page × short/long natural text, and what the
upload path did with it: stored right, asked (both readings shown), refused, or WRONG.

Run: ``PYTHONPATH=. .venv/bin/python scripts/encodings_table.py [--markdown]``. The texts live in
``tests/encoding_corpus.py``; ``tests/core/text/test_encoding_heldout.py`` asserts that no cell is
WRONG. Also tried: each file with ``--encoding`` set to its codec (the answer to the question).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("UCLAB_HOME", tempfile.mkdtemp(prefix="uclab-enc-"))


def outcome(codec: str, language: str, size: str, encoding: str | None = None,
            which: str = "main") -> tuple[str, str]:
    """('stored right' | 'asked' | 'refused' | 'WRONG', detail) for one file."""
    from core.data.ingest import read_upload
    from core.errors import DatasetError
    from core.text.encoding import EncodingQuestion
    from tests.encoding_corpus import csv_bytes

    data, texts = csv_bytes(language, size, codec, which)
    try:
        parsed = read_upload(data, f"{language}-{size}.csv", encoding)
    except EncodingQuestion as question:
        return "asked", " / ".join(r.codec for r in question.readings)
    except DatasetError as error:
        return "refused", str(error)[:80]
    stored = parsed.frame["text"].tolist() if "text" in parsed.frame else []
    if stored == texts:
        return "stored right", str(parsed.encoding)
    return "WRONG", f"{parsed.encoding}: {str(stored[:1])[:60]}"


def main() -> None:
    from tests.encoding_corpus import CASES

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--detail", action="store_true", help="print the codec or sentence per cell")
    parser.add_argument("--set", choices=("main", "fresh"), default="main",
                        help="main: 3/15 rows; fresh: 3/10 rows written after tuning, never tuned on")
    args = parser.parse_args()
    long_rows = 15 if args.set == "main" else 10
    print(f"| file saved as | short (3 rows) | long ({long_rows} rows) | with --encoding |")
    print("|---|---|---|---|")
    wrong = 0
    for name, language, codec in CASES:
        cells = []
        for size in ("short", "long"):
            what, detail = outcome(codec, language, size, which=args.set)
            wrong += what == "WRONG"
            cells.append(f"{what} ({detail})" if args.detail else what)
        forced, detail = outcome(codec, language, "long", codec, which=args.set)
        wrong += forced == "WRONG"
        cells.append(f"{forced} ({detail})" if args.detail and forced != "stored right" else forced)
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\nWRONG cells: {wrong}")


if __name__ == "__main__":
    main()
