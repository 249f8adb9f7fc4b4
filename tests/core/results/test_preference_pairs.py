"""Preference pairs from blind review votes (majority, ties, split decisions), the judge (kept apart),
corrections and thumbs, and references against a run's own answers; each saved with its facts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.data import datasets
from core.data.preferences import is_preference, load_pairs, preference_facts
from core.errors import UserError
from core.results import preference_pairs as pp
from core.results import review
from tests.fake_runs import finished_chat_run


def _review(n: int, seed: int = 5, model_a: str = "base", model_b: str = "run:99") -> int:
    return review.create_review("Round 1", model_a, model_b, [f"prompt {i}" for i in range(n)],
                                outputs_a=[f"A says {i}" for i in range(n)],
                                outputs_b=[f"B says {i}" for i in range(n)], seed=seed)


def _vote_all(review_id: int, reviewer: str, pick: dict[str, str]) -> dict[str, str]:
    """Vote as the Review page does (first / second / tie on what is shown); returns prompt -> chosen text."""
    chosen = {}
    while (item := review.next_item_for(reviewer, review_id)) is not None:
        choice = pick.get(item.prompt, "first")
        review.vote(item.item_id, reviewer, choice)
        if choice != "tie":
            chosen[item.prompt] = item.first if choice == "first" else item.second
    return chosen


def test_majority_rule() -> None:
    assert pp.majority(["a", "a", "b"]) == "a"
    assert pp.majority(["a", "b"]) == "split" and pp.majority(["a", "tie"]) == "split"
    assert pp.majority(["tie", "tie", "a"]) == "tie" and pp.majority([]) == "split"


def test_votes_cast_through_the_review_service_become_pairs_by_majority(home: Path) -> None:
    review_id = _review(6)
    # prompt 0: both say second; 1: ana first, bob second (split); 2: both tie; 3: ana tie, bob, cy first
    ana = _vote_all(review_id, "ana", {"prompt 0": "second", "prompt 2": "tie", "prompt 3": "tie"})
    bob = _vote_all(review_id, "bob", {"prompt 0": "second", "prompt 1": "second", "prompt 2": "tie"})
    item = next(i for i in review.store.items(review_id) if i.prompt == "prompt 3")
    review.vote(item.id, "cy", "first")  # cy votes on prompt 3 only
    build = pp.review_pairs(review_id)
    by_prompt = {p.prompt_text: p for p in build.pairs}
    assert set(by_prompt) == {"prompt 0", "prompt 3", "prompt 4", "prompt 5"}
    assert build.facts["ties_left_out"] == 1 and build.facts["split_decisions_left_out"] == 1
    pair = by_prompt["prompt 0"]
    assert pair.chosen == ana["prompt 0"] == bob["prompt 0"]
    assert pair.rejected == ({"A says 0", "B says 0"} - {pair.chosen}).pop()
    assert pair.meta["voters"] == ["ana", "bob"] and len(pair.meta["votes"]) == 2
    assert all(v["at"] for v in pair.meta["votes"])
    assert pair.meta["chosen_model"] == ("base" if pair.chosen.startswith("A") else "run:99")
    assert by_prompt["prompt 3"].chosen == bob["prompt 3"]  # bob and cy chose first, ana said tie
    info = pp.build_from_review(review_id, created_by="ana")
    assert is_preference(info) and info.name == "Round 1 (votes)"
    facts = preference_facts(info)
    assert (facts["source"], facts["review_id"], facts["pairs"]) == ("review", review_id, 4)
    assert facts["ties_left_out"] == 1 and facts["split_decisions_left_out"] == 1
    loaded = {p.prompt_text: p for p in load_pairs(info.id)}
    assert loaded["prompt 0"].chosen == pair.chosen and loaded["prompt 0"].meta["voters"] == ["ana", "bob"]


def test_a_review_without_a_decision_says_so(home: Path) -> None:
    review_id = _review(2)
    _vote_all(review_id, "ana", {"prompt 0": "tie", "prompt 1": "tie"})
    with pytest.raises(UserError, match="collect more votes"):
        pp.build_from_review(review_id)


def test_the_judge_makes_its_own_dataset_with_its_agreement_with_the_people(home: Path) -> None:
    review_id = _review(4)
    _vote_all(review_id, "ana", {})  # ana always votes for what she saw first
    people = {p.prompt_text: p.chosen for p in pp.review_pairs(review_id).pairs}

    def verdict(prompt: str, a: str, b: str) -> str:  # always model A, except a tie on prompt 3
        return "tie" if prompt == "prompt 3" else "a"

    info = pp.build_from_judge(review_id, verdict=verdict)
    facts = preference_facts(info)
    assert facts["source"] == "judge" and facts["ties_left_out"] == 1 and facts["pairs"] == 3
    pairs = load_pairs(info.id)
    assert all(p.chosen.startswith("A says") and p.meta["source"] == "judge" for p in pairs)
    agree = sum(people[f"prompt {i}"].startswith("A says") for i in range(3))
    assert facts["agreement"] == {"both_decided": 3, "agree": agree, "share": agree / 3}
    assert f"{agree} of 3 items" in pp.agreement_sentence(facts["agreement"])
    votes = pp.build_from_review(review_id)
    assert votes.id != info.id and preference_facts(votes)["source"] == "review"


def test_without_a_judge_the_build_says_how_to_set_one(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UCLAB_JUDGE_URL", raising=False)
    with pytest.raises(UserError, match="UCLAB_JUDGE_URL"):
        pp.build_from_judge(_review(2))


def test_corrections_and_thumbs_become_pairs(home: Path) -> None:
    first = pp.record_correction("What is 2+2?", "5", "2 + 2 is 4.", model_ref="smollm2", created_by="rev")
    pp.record_thumbs([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
                     "Hello!", "Go away.", model_ref="smollm2", created_by="rev")
    with pytest.raises(UserError, match="empty"):
        pp.record_correction("Q", "answer", "  ")
    with pytest.raises(UserError, match="same as the model"):
        pp.record_correction("Q", "answer", " answer ")
    with pytest.raises(UserError, match="same"):
        pp.record_thumbs("Q", "x", "x")
    build = pp.correction_pairs()
    assert [p.chosen for p in build.pairs] == ["2 + 2 is 4.", "Hello!"]
    assert [p.rejected for p in build.pairs] == ["5", "Go away."]
    assert build.pairs[1].prompt[0] == {"role": "system", "content": "Be brief."}
    assert build.pairs[0].meta["correction_id"] == first and build.pairs[0].meta["by"] == "rev"
    assert (build.facts["rewrites"], build.facts["thumbs"]) == (1, 1)
    info = pp.build_from_corrections(created_by="ed")
    assert preference_facts(info)["source"] == "corrections" and info.row_count == 2
    with pytest.raises(UserError, match="No correction is stored"):
        pp.build_from_corrections(model_ref="nobody")


def _chat_dataset() -> int:
    frame = pd.DataFrame({"prompt": [f"What is item {i}?" for i in range(30)],
                          "completion": [f"Item {i} is a fruit from the garden." for i in range(30)]})
    mapping = {"prompt": "prompt", "completion": "completion", "format": "prompt_completion"}
    return datasets.save_dataset(datasets.frame_to_parsed(frame, "pairs.csv"), mapping, name="items",
                                 task="causal-lm", split=datasets.SplitConfig(0.2, 0.2, 1)).id


_finished_run = finished_chat_run


def test_references_against_the_runs_own_wrong_answers_on_train_prompts(
        tiny: str, tiny_chat_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.inference import answers as infer

    def answer_prompts(loaded, prompts, budget, batch_size, progress=None):  # noqa: ANN001, ANN202
        out = []  # item N: right when N % 3 == 0, wrong when 1, nothing when 2
        for prompt in prompts:
            number = int(prompt["messages"][-1]["content"].split()[-1].rstrip("?"))
            out.append([f"Item {number} is a fruit from the garden.", "I like turtles.", ""][number % 3])
        return out

    monkeypatch.setattr(infer, "answer_prompts", answer_prompts)  # the tiny model only writes nothing
    dataset_id = _chat_dataset()
    run_id = _finished_run(dataset_id, tiny, tiny_chat_folder)
    train_prompts = datasets.load_dataset_frame(dataset_id, "train")["prompt"]
    train = [int(p.split()[-1].rstrip("?")) for p in train_prompts]
    info = pp.build_from_references(run_id, limit=12, batch_size=4)
    facts = preference_facts(info)
    assert facts["source"] == "references" and facts["answered"] == 12 and facts["threshold"] == 0.5
    assert "ROUGE-L below 0.5" in facts["rule"] and facts["answer_evaluation_id"]
    pairs = load_pairs(info.id)
    numbers = [int(p.prompt_text.split()[-1].rstrip("?")) for p in pairs]
    assert numbers and set(numbers) <= set(train) and all(n % 3 == 1 for n in numbers)
    left_out = facts["right_left_out"] + facts["empty_left_out"]
    assert facts["pairs"] == len(pairs) == facts["answered"] - left_out
    assert facts["right_left_out"] > 0 and facts["empty_left_out"] > 0
    for pair, number in zip(pairs, numbers, strict=True):  # the reference chosen, the wrong answer rejected
        reference = f"Item {number} is a fruit from the garden."
        assert (pair.chosen, pair.rejected) == (reference, "I like turtles.")
        assert pair.meta["rouge_l"] < 0.5 and pair.meta["run_id"] == run_id
    with pytest.raises(UserError, match="between 0 and 1"):
        pp.reference_pairs(run_id, threshold=2)
