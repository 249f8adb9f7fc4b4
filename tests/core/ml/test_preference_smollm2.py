"""Must show (issue 23): a team's blind-review votes train SmolLM2 with DPO, and on held-out pairs the run
prefers what the team preferred more often than its parent did.

The review is real: the reference answers of chat-pairs prompts against an enthusiastic variant of each
(its final full stop made an exclamation mark), stored as a blind review and voted item by item through
the review service by three reviewers who prefer the enthusiastic answer (one item tied, one split: both
left out by the majority rule). i23pref's builder turns the votes into a preference dataset version; a
short DPO run (LoRA on the bundled SmolLM2, the reference being the same weights with the adapters off)
trains on its train split. The parent ranks the plain answer higher on almost every pair (a full stop is
the likelier token), so the rise is the votes' doing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ITEMS = 64


@pytest.fixture
def smollm2_home(home: Path, converted_smollm2: Path) -> Iterator[None]:
    from core.inference.generation import clear_loaded
    from core.training import service as training
    from core.training import worker

    clear_loaded()
    training.set_launcher(worker.InlineLauncher())
    yield
    training.set_launcher(None)
    clear_loaded()


def _review() -> int:
    """A blind review of plain against enthusiastic reference answers on distinct chat-pairs prompts."""
    from core.data.gallery import load_gallery_frame
    from core.results import review

    _, frame, _, _ = load_gallery_frame("chat-pairs")
    rows = frame.drop_duplicates("prompt")
    rows = rows[rows["completion"].str.endswith(".") & (rows["completion"].str.len() < 100)]
    rows = rows.sample(n=ITEMS, random_state=0)
    prompts, plain = rows["prompt"].tolist(), rows["completion"].tolist()
    return review.create_review("Enthusiastic or plain", "plain answers", "enthusiastic answers", prompts,
                                outputs_a=plain, outputs_b=[p[:-1] + "!" for p in plain], seed=1)


def _vote(review_id: int) -> None:
    """Three reviewers pick the enthusiastic answer by its shown position; one item tied, one split."""
    from core.results import review

    for n, reviewer in enumerate(("ada", "grace", "linus")):
        while (item := review.next_item_for(reviewer, review_id)) is not None:
            friendly = "first" if item.first.endswith("!") else "second"
            plain = "second" if friendly == "first" else "first"
            position = item.done
            choice = {0: "tie", 1: plain if n == 0 else friendly}.get(position, friendly)
            if position == 1 and n == 1:
                choice = plain  # item 1: ada and grace prefer the plain answer, linus the friendly one
            if position == 0 and n == 2:
                choice = friendly  # item 0: two ties and one friendly vote: the majority is a tie
            review.vote(item.item_id, reviewer, choice)


def test_votes_of_a_blind_review_train_dpo_that_prefers_what_the_team_preferred(smollm2_home) -> None:
    from core.data.preferences import load_pairs
    from core.models.catalog import SMOLLM2_KEY
    from core.results.evaluation import get_evaluation
    from core.results.preference_pairs import build_from_review
    from core.training import service as training

    review_id = _review()
    _vote(review_id)
    data = build_from_review(review_id)
    facts = data.info["preference"]
    assert facts["source"] == "review" and facts["ties_left_out"] == 1
    pairs = load_pairs(data.id)
    assert sum(p.chosen.endswith("!") and p.rejected.endswith(".") for p in pairs) == len(pairs) - 1
    request = training.preference_request(data.id, model_key=SMOLLM2_KEY, max_steps=12, batch_size=4,
                                          learning_rate=1e-3, max_length=64, eval_every=6, beta=0.1)
    run = training.start_run(request)
    assert run.status == "succeeded", (run.status_reason, training.run_logs(run.id, 40))
    held_out = get_evaluation(run.id, "test").metrics
    iv = held_out["intervals"]
    assert held_out["pairs"] >= 5
    # the share of held-out pairs where the model gives the team's choice the higher log-probability
    assert held_out["preference_accuracy"] > held_out["parent_preference_accuracy"]
    assert iv["preference_accuracy_gain"]["low"] > 0 and held_out["reward_accuracy"] > 0.5  # beyond noise
    curves = training.run_metrics(run.id)
    assert {"reward_accuracy", "reward_margin"} <= set(curves[curves["split"] == "validation"]["name"])
