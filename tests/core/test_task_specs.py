"""Facts the pages and results ask of a task spec instead of comparing task names (issue 26)."""

from __future__ import annotations

from dataclasses import replace

from core import task_specs
from core.task_specs import SPECS, count_tokens_to, generates_text, reads_text, serve_in_app, tasks_where


def test_capabilities_follow_the_specs() -> None:
    assert [s.task for s in SPECS if generates_text(s.task)] == ["causal-lm"]
    assert [s.task for s in SPECS if not reads_text(s.task)] == ["tabular"]
    assert tasks_where("serve_in_app") == ("classification", "token-classification", "causal-lm")
    assert tasks_where("prompt_baselines") == ("classification", "causal-lm")
    assert (count_tokens_to("causal-lm"), count_tokens_to("classification")) == (512, 128)


def test_unknown_tasks_get_the_cautious_answer() -> None:
    assert (generates_text(None), generates_text("sorting"), serve_in_app("sorting")) == (False, False, False)
    assert reads_text("sorting") and count_tokens_to(None) == 128


def test_a_changed_spec_changes_the_answer(monkeypatch) -> None:
    """The helpers read the spec table, not a list of names: a spec that generates text is one."""
    spec = replace(task_specs.get_spec("regression"), generates_text=True, reads_text=False)
    monkeypatch.setattr(task_specs, "_BY_TASK", {**task_specs._BY_TASK, "regression": spec})
    assert generates_text("regression") and not reads_text("regression")



def test_a_preference_run_is_spoken_of_by_its_preference_accuracy() -> None:
    """A DPO run has no perplexity or loss of a supervised run: the runs table said "—" for it."""
    dpo = {"preference_accuracy": 0.2105, "reward_accuracy": 0.947, "dpo_loss": 0.66}
    assert task_specs.headline_metric("causal-lm", dpo) == "preference_accuracy"
    assert task_specs.headline_metric("causal-lm", {**dpo, "perplexity": 7.1}) == "perplexity"
    assert task_specs.rank_metric("causal-lm", dpo) is None  # never ranked against supervised runs
