"""An optional LLM judge: an OpenAI-compatible endpoint grades answers against references with a rubric.

Set ``UCLAB_JUDGE_URL`` (the base URL, e.g. ``http://127.0.0.1:11434/v1`` for a local Ollama or
the project's own ``uclab serve``), ``UCLAB_JUDGE_MODEL`` and, for a hosted API, the key in the
environment variable named by ``UCLAB_JUDGE_KEY_ENV`` (default ``UCLAB_JUDGE_API_KEY``). Unset,
the judge is absent and ``judge_status`` says how to set it. Grades are 1–5, stored per example
as ``judge`` on a 0–1 scale ((grade − 1) / 4). Pairwise A-vs-B verdicts on a blind review are
compared with the stakeholders' votes by Cohen's kappa with a bootstrap interval.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core import config
from core.errors import ConfigError, UserError
from core.results import answer_metrics as am
from core.store import answers as store

TIMEOUT_S = 60
RUBRIC = (
    "You grade an assistant's answer against a reference answer written by the team. Grade 1 to 5:\n"
    "5 = says what the reference says (wording may differ), nothing wrong added;\n"
    "4 = mostly the same, a small omission or harmless extra;\n"
    "3 = partly right: some of the reference's content, or right but vague;\n"
    "2 = mostly wrong or off-topic, with a little that matches;\n"
    "1 = wrong, contradicts the reference, or no answer.\n"
    "Reply with the line 'Grade: N' and then one sentence of reason.")
PAIRWISE = ("Two assistants answered the same prompt. Which answer is better for the user? "
            "Reply with exactly one word: A, B or tie.")


class JudgeError(UserError):
    """The judge endpoint could not be reached or answered something unusable."""


@dataclass(frozen=True)
class JudgeSettings:
    """Where the judge is and which model grades."""

    base_url: str
    model: str
    api_key: str | None

    @classmethod
    def from_env(cls) -> JudgeSettings | None:
        endpoint = config.judge_endpoint()
        if endpoint is None:
            return None
        url, model, key = endpoint
        return cls(url.rstrip("/"), model, key)


def judge_status() -> str | None:
    """None when a judge is set, else the sentence that says how to set one."""
    if JudgeSettings.from_env() is not None:
        return None
    return ("No judge is set: set UCLAB_JUDGE_URL to an OpenAI-compatible endpoint (a local Ollama, "
            "`uclab serve` or a hosted API) and UCLAB_JUDGE_MODEL to its model; a hosted API's key goes in "
            "UCLAB_JUDGE_API_KEY.")


def _settings() -> JudgeSettings:
    found = JudgeSettings.from_env()
    if found is None:
        raise ConfigError(judge_status() or "No judge is set.")
    return found


def _chat(settings: JudgeSettings, system: str, user: str) -> str:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    body = json.dumps({"model": settings.model, "temperature": 0, "max_tokens": 200, "messages": messages})
    headers = {"Content-Type": "application/json"}
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    request = urllib.request.Request(f"{settings.base_url}/chat/completions", data=body.encode(),
                                     headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 - a URL the user set
            data = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise JudgeError(f"The judge at {settings.base_url} answered HTTP {exc.code}; check UCLAB_JUDGE_URL, "
                         "UCLAB_JUDGE_MODEL and the key.") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise JudgeError(f"The judge at {settings.base_url} cannot be reached ({exc}); start it or fix "
                         "UCLAB_JUDGE_URL.") from exc
    except ValueError as exc:
        raise JudgeError(f"The judge at {settings.base_url} did not answer JSON; is it "
                         "OpenAI-compatible?") from exc
    try:
        return str(data["choices"][0]["message"]["content"])
    except (KeyError, IndexError, TypeError) as exc:
        raise JudgeError("The judge's answer has no choices[0].message.content; is it "
                         "OpenAI-compatible?") from exc


def parse_grade(text: str) -> int | None:
    """The 1–5 grade in a judge's reply ('Grade: 4 ...'), or None."""
    found = re.search(r"grade\s*[:=]?\s*([1-5])\b", text, re.I) or re.search(r"\b([1-5])\b", text)
    return int(found.group(1)) if found else None


def grade_answer(prompt: str, reference: str, answer: str, settings: JudgeSettings | None = None
                 ) -> tuple[int | None, str]:
    """(grade 1–5 or None when unreadable, the judge's reply)."""
    reply = _chat(settings or _settings(), RUBRIC,
                  f"Prompt:\n{prompt}\n\nReference answer:\n{reference}\n\nAssistant's answer:\n{answer}")
    return parse_grade(reply), reply.strip()


def judge_evaluation(evaluation_id: int,
                     progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Grade every stored answer of an evaluation; store ``judge`` per example and its mean with interval."""
    settings = _settings()
    ev = store.get_answer_evaluation(evaluation_id)
    scores: dict[int, dict[str, Any]] = {}
    rows = ev.examples_frame.to_dict("records")
    for n, row in enumerate(rows, start=1):
        grade, reply = grade_answer(row["prompt"], row["reference"], row["answer"], settings)
        scores[int(row["position"])] = {"judge": None if grade is None else (grade - 1) / 4,
                                        "judge_reason": reply[:500]}
        if progress is not None:
            progress(n, len(rows))
    values = [s["judge"] for s in scores.values() if s["judge"] is not None]
    low, high = am.bootstrap_interval(values, ev.seed)
    mean = sum(values) / len(values) if values else None
    summary = {"mean": mean, "low": low, "high": high, "n": len(values), "model": settings.model}
    store.update_example_scores(evaluation_id, scores, {"judge": summary})
    return summary


def pairwise_verdict(prompt: str, first: str, second: str,
                     settings: JudgeSettings | None = None) -> str | None:
    """'a', 'b' or 'tie' for two answers (A shown first), or None when the reply is unreadable."""
    reply = _chat(settings or _settings(), PAIRWISE,
                  f"Prompt:\n{prompt}\n\nAnswer A:\n{first}\n\nAnswer B:\n{second}")
    word = reply.strip().split()[0].strip(".,:;!\"'").lower() if reply.strip() else ""
    return {"a": "a", "b": "b", "tie": "tie"}.get(word)


def cohen_kappa(judge: list[str], people: list[str], seed: int = 0, samples: int = 1000) -> dict[str, Any]:
    """Cohen's kappa between two raters over the same items, with a 95 % bootstrap interval."""
    import numpy as np
    from sklearn.metrics import cohen_kappa_score

    if len(judge) != len(people) or not judge:
        return {"kappa": None, "low": None, "high": None, "n": 0}

    def kappa(a: list[str], b: list[str]) -> float:
        return 1.0 if len(set(a) | set(b)) == 1 else float(cohen_kappa_score(a, b))

    value = kappa(judge, people)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(judge), size=(samples, len(judge)))
    boot = [kappa([judge[i] for i in p], [people[i] for i in p]) for p in picks]
    low, high = np.nanpercentile(boot, [2.5, 97.5])
    return {"kappa": value, "low": float(low), "high": float(high), "n": len(judge)}


def review_agreement(review_id: int) -> dict[str, Any]:
    """The judge's A/B verdict on each voted item of a blind review against the reviewers' majority vote."""
    from core.store import reviews

    settings = _settings()
    by_item: dict[int, list[str]] = {}
    for vote in reviews.votes(review_id):
        by_item.setdefault(vote.item_id, []).append(vote.choice)
    judge, people = [], []
    for item in reviews.items(review_id):
        if item.id not in by_item:
            continue
        top = Counter(by_item[item.id]).most_common()
        majority = "tie" if len(top) > 1 and top[0][1] == top[1][1] else top[0][0]
        verdict = pairwise_verdict(item.prompt, item.output_a, item.output_b, settings)
        if verdict is not None:
            judge.append(verdict)
            people.append(majority)
    same = sum(j == p for j, p in zip(judge, people, strict=True))
    return {**cohen_kappa(judge, people), "model": settings.model,
            "agreement": same / len(judge) if judge else None}
