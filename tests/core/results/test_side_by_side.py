"""Side-by-side outputs: same prompts and seed for every model; prompts from the validation split."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pytest
from fake_runs import add_dataset, add_run

from core.config import get_settings
from core.errors import UserError
from core.results import review, side_by_side
from core.store import orm
from core.store.db import session_scope


@pytest.fixture
def fake_generate(monkeypatch) -> list[tuple[str, str, int]]:
    calls: list[tuple[str, str, int]] = []

    def generate(ref, prompt, *, mode, settings, store):  # noqa: ANN001 - mirrors core.inference.generation
        calls.append((ref, prompt, settings.seed))
        assert store is False  # side-by-side outputs do not fill the playground history
        return SimpleNamespace(text=f"{ref} answers {prompt}")

    import core.inference.generation

    monkeypatch.setattr(core.inference.generation, "generate", generate)
    return calls


def _generator_run() -> str:
    return f"run:{add_run(add_dataset(task='causal-lm'), task='causal-lm')}"


def test_side_by_side_uses_the_same_prompts_and_seed(home, fake_generate) -> None:
    ref = _generator_run()
    table = side_by_side.side_by_side(["smollm2-135m-instruct", ref], ["hi", "bye"], seed=11)
    assert table.columns.tolist() == ["prompt", "smollm2-135m-instruct", ref]
    assert table.loc[1, ref] == f"{ref} answers bye"
    assert {seed for _, _, seed in fake_generate} == {11}
    with pytest.raises(UserError):
        side_by_side.side_by_side([ref, ref], ["hi"])
    tagger = add_run(add_dataset(task="token-classification"), task="token-classification")
    with pytest.raises(UserError, match="token-classification"):
        side_by_side.side_by_side([ref, f"run:{tagger}"], ["hi"])


def test_validation_prompts_from_a_chat_dataset(home) -> None:
    settings = get_settings()
    settings.datasets_dir.mkdir(parents=True, exist_ok=True)
    path = settings.datasets_dir / "chat.parquet"
    chats = [json.dumps([{"role": "user", "content": f"question {i}"},
                         {"role": "assistant", "content": f"answer {i}"}]) for i in range(6)]
    pd.DataFrame({"messages": chats, "split": ["train", "train", "validation", "validation", "test", "test"]}
                 ).to_parquet(path)
    with session_scope(write=True) as s:
        ds = orm.Dataset(name="chat", version=1, task="causal-lm", source_filename="c.jsonl",
                         content_hash="h", path=settings.relative(path), mapping={"format": "messages"},
                         split_sizes={}, quality={}, info={}, row_count=6)
        s.add(ds)
        s.flush()
        ds_id = ds.id
    run = add_run(ds_id, task="causal-lm")
    assert side_by_side.validation_prompts(run, n=5) == ["question 2", "question 3"]


def test_review_generates_outputs_when_none_are_given(home, fake_generate) -> None:
    ref = _generator_run()
    review_id = review.create_review("Gen", "smollm2-135m-instruct", ref, ["p1", "p2"], seed=0)
    item = review.next_item_for("ana", review_id)
    assert {item.first, item.second} == {f"smollm2-135m-instruct answers {item.prompt}",
                                         f"{ref} answers {item.prompt}"}


def test_stored_outputs_line_up_the_runs_evaluation_answers(home) -> None:
    ds = add_dataset(task="causal-lm")
    ids = [add_run(ds, task="causal-lm") for _ in range(2)]
    for run_id, word in zip(ids, ("hello", "howdy"), strict=True):
        path = get_settings().runs_dir / f"gen-{run_id}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"prompt": ["p1", "p2", "p3"], "reference": ["r1", "r2", "r3"],
                      "generated": [f"{word} 1", f"{word} 2", ""]}).to_parquet(path)
        with session_scope(write=True) as s:
            s.add(orm.Evaluation(run_id=run_id, split="test", model="run", metrics={},
                                 predictions_path=get_settings().relative(path)))
    table = side_by_side.stored_outputs(ids)
    assert table.columns.tolist() == ["prompt", "reference", f"run:{ids[0]}", f"run:{ids[1]}"]
    assert table[f"run:{ids[1]}"].tolist() == ["howdy 1", "howdy 2"]  # unanswered rows dropped
