"""The runs table says what each run scored on held-out data."""

from __future__ import annotations

from types import SimpleNamespace

from ui.panels import runs_frame


def test_the_runs_table_gives_a_preference_run_its_preference_accuracy() -> None:
    """It said "—" for a DPO run (no perplexity or loss of a supervised run to show)."""
    run = SimpleNamespace(id=2, name="dpo", task="causal-lm", model_key="smollm2-135m-instruct", dataset_id=2,
                          status="succeeded", progress=1.0, created_at=None,
                          summary={"test": {"preference_accuracy": 0.2105, "reward_accuracy": 0.947}})
    sft = SimpleNamespace(**{**vars(run), "id": 1, "summary": {"test": {"perplexity": 6.89, "loss": 1.93}}})
    table = runs_frame([run, sft])
    assert list(table["result"]) == ["Preference accuracy: 21.1 %", "Perplexity (lower is better): 6.89"]
