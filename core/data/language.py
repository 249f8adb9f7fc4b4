"""Language checks of the quality report: the scripts of the text, and whether the model reads them.

A WordPiece model such as MiniLM turns letters it has never seen into ``[UNK]``: on Chinese
text most of its tokens are unknown and a classifier trained on them learns little. The report
measures the chosen model's unknown-token share and characters per token on a sample, and
above ``UNKNOWN_WARNING`` names the catalogue models whose tokenizers read the text.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pandas as pd

from core.entities import Finding
from core.text.scripts import SCRIPT_NAMES, guess_language, script_counts

SAMPLE_TEXTS = 300
UNKNOWN_WARNING = 0.05  # above this share of [UNK] tokens the model cannot read the text
READS_WELL = 0.01       # a model "reads" the text when at most this share is unknown
SHOWN_SCRIPT = 0.02     # scripts below this share of the letters are not named
# Hub models that read about 100 languages, suggested for when the machine is online.
HUB_MULTILINGUAL = ("xlm-roberta-base", "bert-base-multilingual-cased", "Qwen/Qwen2.5-0.5B-Instruct")


def sample_texts(texts: pd.Series, n: int = SAMPLE_TEXTS, seed: int = 0) -> list[str]:
    """Up to ``n`` texts (each cut to 1,000 characters), picked at random but reproducibly."""
    if len(texts) > 4 * n:  # a large column: look at a few random rows, not a list of all of them
        picked = sorted(random.Random(seed).sample(range(len(texts)), 4 * n))
        texts = texts.iloc[picked]
    if pd.api.types.is_string_dtype(texts) and texts.dtype != object:
        texts = texts.str.slice(0, 1000)  # in Arrow: a 150 MB cell is not copied to be cut
    values = [v for v in texts.tolist() if isinstance(v, str) and v.strip()]
    if len(values) > n:
        values = random.Random(seed).sample(values, n)
    return [v[:1000] for v in values]


def script_shares(sample: Sequence[str]) -> dict[str, float]:
    """Share of letters per script, largest first."""
    counts = script_counts(sample)
    total = sum(counts.values())
    if not total:
        return {}
    return {k: round(v / total, 4) for k, v in counts.most_common()}


def vocabulary(sample: Sequence[str], model_key: str) -> dict[str, Any] | None:
    """Unknown-token share and characters per token of the model's tokenizer on the sample."""
    from core.models.tokenlength import tokenizer_for

    try:
        tokenizer, used, _note = tokenizer_for(model_key)
    except Exception:  # noqa: BLE001 - no tokenizer: the report says nothing about vocabulary
        return None
    if used != model_key or not sample:
        return None
    unk_token = getattr(tokenizer.model, "unk_token", None)
    unk_id = tokenizer.token_to_id(unk_token) if unk_token else None
    encodings = tokenizer.encode_batch(list(sample), add_special_tokens=False)
    tokens = sum(len(e.ids) for e in encodings)
    if not tokens:
        return None
    unknown = sum(e.ids.count(unk_id) for e in encodings) if unk_id is not None else 0
    chars = sum(len("".join(t.split())) for t in sample)
    return {"model": model_key, "tokens": tokens, "unknown_share": round(unknown / tokens, 4),
            "chars_per_token": round(chars / tokens, 2)}


def language_findings(texts: pd.Series | None, *, model_key: str, task: str,
                      stats: dict[str, Any]) -> list[Finding]:
    """Sentences on the scripts of the text and on how much of it the chosen model can read."""
    if texts is None or task == "tabular":
        return []
    if task == "token-classification":
        texts = texts.map(lambda v: " ".join(map(str, v)) if v is not None else None)
    sample = sample_texts(texts)
    shares = script_shares(sample)
    if not shares:
        return []
    language = guess_language(script_counts(sample))
    stats["scripts"] = shares
    stats["language"] = language
    findings: list[Finding] = []
    named = [(k, v) for k, v in shares.items() if v >= SHOWN_SCRIPT]
    if any(k != "LATIN" for k, _ in named):
        parts = [f"{SCRIPT_NAMES.get(k, k.title())} {v:.0%}" for k, v in named]
        looks = f"; it looks like {language}" if language else ""
        findings.append(Finding("info", "scripts", f"Letters of the text: {', '.join(parts)}"
                                f"{looks}.", example={"scripts": dict(named)}))
    model_key = _model_for_task(model_key, task)
    measured = vocabulary(sample, model_key)
    if measured is None:
        return findings
    stats["vocabulary"] = measured
    share = measured["unknown_share"]
    if share > UNKNOWN_WARNING:
        findings.append(_unknown_tokens(sample, named, task, measured))
    elif any(k != "LATIN" for k, _ in named):
        findings.append(Finding(
            "info", "vocabulary", f"{_model_name(model_key)} reads this text with {share:.1%} unknown "
            f"tokens at {measured['chars_per_token']:.1f} characters per token."))
    return findings


def _unknown_tokens(sample: Sequence[str], named: list[tuple[str, float]], task: str,
                    measured: dict[str, Any]) -> Finding:
    """The warning that a model's vocabulary does not cover the text, naming the models that read it."""
    share, key = measured["unknown_share"], measured["model"]
    readers = _readers(sample, task, exclude=key)
    return Finding(
        "warning", "unknown_tokens",
        f"{share:.0%} of {_model_name(key)}'s tokens for this text are unknown ([UNK]): its vocabulary "
        f"does not cover {_script_words(named)}, so it would learn little. "
        + _suggestion(readers), example={"unknown_share": share, "readers": readers})


def reading_warning(texts: pd.Series | None, *, model_key: str, task: str) -> str | None:
    """The sentence that this model cannot read these texts (too many unknown tokens), else None:
    what the Models page says beside the cost of training it on a dataset."""
    if texts is None:
        return None
    if task == "token-classification":
        texts = texts.map(lambda v: " ".join(map(str, v)) if v is not None else None)
    sample = sample_texts(texts)
    measured = vocabulary(sample, model_key) if sample else None
    if measured is None or measured["unknown_share"] <= UNKNOWN_WARNING:
        return None
    named = [(k, v) for k, v in script_shares(sample).items() if v >= SHOWN_SCRIPT]
    return _unknown_tokens(sample, named, task, measured).message


def _model_for_task(model_key: str, task: str) -> str:
    """The chosen model if it can do the task, else the first catalogue model that can."""
    try:
        from core.models import catalog

        models = catalog.list_models()
    except Exception:  # noqa: BLE001 - no catalogue: measure the model as chosen
        return model_key
    chosen = next((m for m in models if m.key == model_key), None)
    if chosen is not None and task in chosen.tasks:
        return model_key
    return next((m.key for m in models if task in m.tasks), model_key)


def _readers(sample: Sequence[str], task: str, exclude: str) -> list[dict[str, Any]]:
    """Catalogue models for this task whose tokenizers read the sample, best first."""
    from core.models import catalog

    found = []
    for info in catalog.list_models():
        if info.key == exclude or task not in info.tasks or info.family not in ("encoder",
                                                                                "causal-lm"):
            continue
        measured = vocabulary(sample, info.key)
        if measured and measured["unknown_share"] <= READS_WELL:
            found.append({"key": info.key, "name": info.name, **measured})
    return sorted(found, key=lambda m: (m["unknown_share"], -m["chars_per_token"]))


def _suggestion(readers: list[dict[str, Any]]) -> str:
    hub = ", ".join(HUB_MULTILINGUAL)
    if readers:
        shown = "; ".join(f"{r['name']} ({r['unknown_share']:.0%} unknown, "
                          f"{r['chars_per_token']:.1f} characters per token)" for r in readers)
        return (f"Catalogue models that read it: {shown}. With internet, the multilingual Hub "
                f"models {hub} also do (add one on the Models page).")
    return (f"No catalogue model reads it; with internet add a multilingual Hub model ({hub}) "
            "on the Models page.")


def _model_name(key: str) -> str:
    try:
        from core.models import catalog

        return catalog.get_model(key).name
    except Exception:  # noqa: BLE001 - a name is only for the sentence
        return key


def _script_words(named: list[tuple[str, float]]) -> str:
    others = [SCRIPT_NAMES.get(k, k.title()) for k, _ in named if k != "LATIN"]
    return f"{joined(others)} letters" if others else "these letters"


def joined(parts: list[str]) -> str:
    """"a", "a and b", "a, b and c": a list in a sentence."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def suggested_model(quality: dict[str, Any] | None, candidates: Sequence[str]) -> tuple[str, str] | None:
    """(model key, reason) when the stored quality report found the measured model cannot read the text
    and named a catalogue model that can; None otherwise (keep the usual default)."""
    for finding in (quality or {}).get("findings") or []:
        if finding.get("code") != "unknown_tokens":
            continue
        example = finding.get("example") or {}
        for reader in example.get("readers") or []:
            if reader.get("key") in candidates:
                share = example.get("unknown_share")
                unread = f" ({share:.0%} of its tokens unknown)" if isinstance(share, int | float) else ""
                measured = ((quality or {}).get("stats") or {}).get("vocabulary") or {}
                who = _model_name(measured["model"]) if measured.get("model") else "The default model"
                return str(reader["key"]), (f"{reader.get('name', reader['key'])} is chosen because "
                                            f"{who} cannot read this dataset's text{unread}.")
    return None
