"""The Fine-tuning page's preference form and the Evaluation page of a preference (DPO) run."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from core.models.catalog import SMOLLM2_KEY
from core.store import runs
from core.training import service as training
from tests.pages.seed import NoLauncher
from tests.preference_data import add_pairs_dataset


def _finished_chat_run(dataset_id: int, config: dict | None = None) -> int:
    info = runs.create_run(dataset_id=dataset_id, model_key=SMOLLM2_KEY, task="causal-lm",
                           config={**training.TrainConfig().to_dict(), **(config or {})}, seed=42)
    runs.transition(info.id, "running", pid=1)
    runs.transition(info.id, "succeeded")
    return info.id


def test_a_preference_dataset_offers_dpo_from_the_run_the_pairs_came_from(
        open_page: Callable[..., AppTest], launcher: NoLauncher) -> None:
    from tests.training_data import add_text_dataset

    chat = add_text_dataset(name="chat")
    other, parent = _finished_chat_run(chat), _finished_chat_run(chat)
    pairs = add_pairs_dataset(info={"run_id": other})  # the pairs judged run `other`'s answers
    at = open_page("finetune")
    assert not at.exception
    assert at.selectbox(key="finetune_dataset").value == pairs
    assert at.selectbox(key="finetune_pref_parent").value == f"run:{other}"
    options = at.selectbox(key="finetune_pref_parent").options
    assert f"Run {parent} · run-{parent} ({SMOLLM2_KEY})" in options
    assert "SmolLM2-135M-Instruct (catalogue)" in options
    assert at.number_input(key="finetune_pref_beta").value == 0.1
    assert at.number_input(key="finetune_pref_steps").value == 100
    assert "Duration (estimate)" in [m.label for m in at.metric]
    at.selectbox(key="finetune_pref_parent").set_value(f"run:{parent}").run()
    at.number_input(key="finetune_pref_beta").set_value(0.3).run()
    at.number_input(key="finetune_pref_steps").set_value(40).run()
    at.button(key="finetune_pref_start").click().run()
    assert not at.exception
    started = [r for r in training.list_runs() if r.dataset_id == pairs]
    assert len(started) == 1 and started[0].status == "queued"
    config = started[0].config
    assert (config["training_kind"], config["parent_run_id"], config["beta"], config["lora"]) == \
        ("preference", parent, 0.3, True) and config["max_steps"] == 40


def test_the_preference_form_keeps_what_was_typed_while_the_user_is_on_another_page(
        open_page: Callable[..., AppTest]) -> None:
    from tests.training_data import add_text_dataset

    chat = add_text_dataset(name="chat")
    other, parent = _finished_chat_run(chat), _finished_chat_run(chat)
    add_pairs_dataset(info={"run_id": other})
    at = open_page("finetune", via_app=True)
    at.selectbox(key="finetune_pref_parent").set_value(f"run:{parent}").run()
    at.number_input(key="finetune_pref_beta").set_value(0.3).run()
    at.number_input(key="finetune_pref_steps").set_value(40).run()
    at.switch_page("pages/datasets.py").run()
    at.switch_page("pages/finetune.py").run()
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    assert at.selectbox(key="finetune_pref_parent").value == f"run:{parent}"
    assert [at.number_input(key=f"finetune_pref_{name}").value for name in ("beta", "steps")] == [0.3, 40]


def test_the_evaluation_page_of_a_dpo_run_compares_it_with_its_parent_and_sets_up_a_review(
        open_page: Callable[..., AppTest], launcher: NoLauncher) -> None:
    import pandas as pd

    from core.results.evaluation import store_evaluation
    from core.results.review import get_review
    from core.store.answers import save_answer_evaluation
    from core.tasks.preference_metrics import pair_scores, preference_metrics
    from tests.training_data import add_text_dataset

    chat = add_text_dataset(name="chat")
    parent = _finished_chat_run(chat)
    pairs = add_pairs_dataset()
    run = _finished_chat_run(pairs, {"training_kind": "preference", "parent_run_id": parent, "lora": True})
    rows = [{"prompt": f"q{i}", "chosen": "good", "rejected": "bad", "logp_chosen": -1.0,
             "logp_rejected": -2.0, "parent_logp_chosen": -2.0 if i % 2 else -1.0,
             "parent_logp_rejected": -1.5} for i in range(20)]
    scored = pair_scores(rows, 0.1)
    store_evaluation(run, "test", "run", preference_metrics(scored, 0.1), pd.DataFrame(scored))
    for run_id, score in ((parent, 0.4), (run, 0.5)):
        answers = [{"position": i, "prompt": f"q{i}", "reference": "r", "answer": f"a{run_id}-{i}",
                    "rouge_l": score} for i in range(6)]
        save_answer_evaluation(dataset_id=chat, run_id=run_id, model_ref=f"run:{run_id}", split="test",
                               kind="run", shots=0, seed=42, settings={}, seconds=1.0, rows=answers,
                               metrics={"headline": "rouge_l", "metrics": {"rouge_l": {"mean": score}}})
    at = open_page("evaluation", {"run": str(run)})
    assert not at.exception
    text = " ".join(e.value for e in [*at.success, *at.warning, *at.info]).replace("\\", "")
    assert "The team's preferences raised the share of 20 held-out test pairs" in text
    assert f"run {parent}" in text and "ROUGE-L" in text
    tables = [d.value for d in at.dataframe]
    pairs_table = next(t for t in tables if "measure" in t)
    assert list(pairs_table["value"])[:2] == pytest.approx([0.5, 1.0])  # parent, then this run
    answers_table = next(t for t in tables if "gain" in t)
    assert answers_table.iloc[0]["gain"] == pytest.approx(0.1)
    at.button(key="evaluation_pref_review").click().run()
    assert not at.exception
    review = get_review(max(int(s.value.split()[1]) for s in at.success if s.value.startswith("Review ")))
    assert (review.model_a, review.model_b, review.items) == (f"run:{parent}", f"run:{run}", 6)
