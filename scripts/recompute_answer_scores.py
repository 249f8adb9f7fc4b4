"""Recompute a run's ROUGE-L and token F1 from its stored per-example rows, without the app's code.

Reads ``answer_examples`` straight from the SQLite database under UCLAB_HOME (the reference and the
answer of each example), tokenises them the way ``core.results.answer_metrics`` documents (one token
per character of a script written without spaces, whole runs of other letters and digits, after
NFKC, lower case and removing punctuation and the English articles), computes the longest common
subsequence and the token overlap by hand, and prints the means beside the stored ones.

    UCLAB_HOME=~/.uclab python scripts/recompute_answer_scores.py RUN_ID [--split test]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import string
import unicodedata
from collections import Counter
from pathlib import Path

# Unicode name prefixes of letters of scripts written without spaces between words.
UNSPACED = ("CJK", "HIRAGANA", "KATAKANA", "HALFWIDTH KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR",
            "IDEOGRAPHIC", "VERTICAL", "KATAKANA-HIRAGANA")
PUNCT = str.maketrans("", "", string.punctuation + "“”‘’«»¿¡…")


def unspaced(ch: str) -> bool:
    return ch.isalpha() and unicodedata.name(ch, "").startswith(UNSPACED)


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().translate(PUNCT)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def char_tokens(text: str) -> list[str]:
    out, word = [], ""
    for ch in normalise(text):
        if unicodedata.category(ch).startswith("M"):
            if word:
                word += ch
            elif out:
                out[-1] += ch
        elif unspaced(ch):
            out += [word, ch] if word else [ch]
            word = ""
        elif ch.isalnum() or ch == "_":
            word += ch
        elif word:
            out.append(word)
            word = ""
    return out + ([word] if word else [])


def word_tokens(text: str) -> list[str]:
    return normalise(text).split()


def by_character(reference: str) -> bool:
    letters = [ch for ch in reference if ch.isalpha()]
    return bool(letters) and sum(map(unspaced, letters)) / len(letters) >= 0.5


def lcs(a: list[str], b: list[str]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], prev + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


def f1(overlap: int, n_answer: int, n_reference: int) -> float:
    if not overlap:
        return 0.0
    p, r = overlap / n_answer, overlap / n_reference
    return 2 * p * r / (p + r)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_id", type=int)
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    home = Path(os.environ.get("UCLAB_HOME", "~/.uclab")).expanduser()
    db = sqlite3.connect(home / "uclab.db")
    ev_id, metrics = db.execute(
        "SELECT id, metrics FROM answer_evaluations WHERE run_id = ? AND split = ? AND kind = 'run' "
        "ORDER BY id DESC LIMIT 1", (args.run_id, args.split)).fetchone()
    rows = db.execute("SELECT reference, answer, scores FROM answer_examples WHERE evaluation_id = ? "
                      "ORDER BY position", (ev_id,)).fetchall()
    rouge, tf1, char_rows, mismatches = [], [], 0, 0
    for reference, answer, scores in rows:
        chars = by_character(reference)
        char_rows += chars
        tok = char_tokens if chars else word_tokens
        a, r = tok(answer), tok(reference)
        # ROUGE-L as rouge-score computes it: F1 of the LCS; by word its tokens are lower-cased \w+ runs
        ra, rr = (a, r) if chars else (re.findall(r"\w+", unicodedata.normalize("NFKC", x).lower())
                                       for x in (answer, reference))
        rouge.append(f1(lcs(rr, ra), len(ra), len(rr)) if ra and rr else 0.0)
        tf1.append(f1(sum((Counter(a) & Counter(r)).values()), len(a), len(r)) if a and r else float(a == r))
        stored = json.loads(scores)
        mismatches += abs(stored["rouge_l"] - rouge[-1]) > 1e-9 or abs(stored["token_f1"] - tf1[-1]) > 1e-9
    summary = json.loads(metrics)["metrics"]
    print(f"run {args.run_id}, {args.split} split: {len(rows)} examples, {char_rows} scored by character")
    print(f"ROUGE-L   recomputed {sum(rouge) / len(rouge):.4f}   stored {summary['rouge_l']['mean']:.4f}")
    print(f"token F1  recomputed {sum(tf1) / len(tf1):.4f}   stored {summary['token_f1']['mean']:.4f}")
    print(f"examples whose recomputed score differs from the stored one: {mismatches}")


if __name__ == "__main__":
    main()
