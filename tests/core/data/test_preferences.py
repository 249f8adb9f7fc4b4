"""Preference datasets: TRL-format uploads (CSV, JSONL, Parquet, message lists), their quality report,
save_pairs / load_pairs, and the refusal to fine-tune on pairs as if they were examples."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from core.data.datasets import SplitConfig, get_dataset, load_dataset_frame, read_upload, save_dataset
from core.data.mapping import resolve_mapping, suggest_mapping
from core.data.preferences import (
    PREFERENCE_FORMAT,
    PreferencePair,
    is_preference,
    load_pairs,
    preference_facts,
    save_pairs,
)
from core.errors import ConfigError, DatasetError
from core.tasks.chat import detect_format
from core.tasks.preference import answer_text, prompt_turns


def _rows(n: int = 40) -> list[dict]:
    return [{"prompt": f"What is {i} plus {i}?", "chosen": f"{i} plus {i} is {2 * i}.",
             "rejected": f"I do not know what {i} plus {i} is."} for i in range(n)]


def _save_upload(data: bytes, filename: str, **kw):
    parsed = read_upload(data, filename)
    mapping = suggest_mapping(parsed.frame)
    return save_dataset(parsed, mapping, name=kw.pop("name", "Pairs"), task=mapping["task"],
                        split=SplitConfig(), model_key="smollm2-135m-instruct", max_length=256, **kw)


def test_the_cells_of_trl_pairs_read_as_prompt_turns_and_answer_text() -> None:
    assert prompt_turns("Hi?") == [{"role": "user", "content": "Hi?"}]
    system = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    assert prompt_turns(json.dumps(system)) == system
    assert prompt_turns([{"role": "assistant", "content": "x"}]) is None  # ends with no user turn
    assert answer_text([{"role": "assistant", "content": "Hello."}]) == "Hello."
    whole = [*system, {"role": "assistant", "content": "Hello."}]
    assert answer_text(whole) == "Hello." and prompt_turns(whole, implicit=True) == system
    assert answer_text([{"role": "user", "content": "no answer"}]) is None
    assert answer_text("[not json") == "[not json"


def test_trl_columns_are_recognised_as_the_preference_shape() -> None:
    frame = pd.DataFrame(_rows(3))
    mapping = suggest_mapping(frame)
    assert (mapping["task"], mapping["format"]) == ("causal-lm", PREFERENCE_FORMAT)
    assert (mapping["prompt"], mapping["chosen"], mapping["rejected"]) == ("prompt", "chosen", "rejected")
    with pytest.raises(DatasetError, match="rejected"):
        resolve_mapping(frame, {"format": "preference", "chosen": "chosen"}, "causal-lm")


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_an_upload_of_trl_pairs_saves_and_loads_as_pairs(home: Path, kind: str) -> None:
    frame = pd.DataFrame(_rows())
    if kind == "csv":
        data = frame.to_csv(index=False).encode()
    elif kind == "jsonl":
        data = frame.to_json(orient="records", lines=True).encode()
    else:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        data = buffer.getvalue()
    info = _save_upload(data, f"pairs.{kind}")
    assert is_preference(info) and info.row_count == 40
    assert preference_facts(info)["source"] == "upload"
    pairs = load_pairs(info.id)
    assert len(pairs) == 40
    first = next(p for p in pairs if p.prompt_text == "What is 3 plus 3?")
    assert first.prompt == ({"role": "user", "content": "What is 3 plus 3?"},)
    assert (first.chosen, first.rejected) == ("3 plus 3 is 6.", "I do not know what 3 plus 3 is.")
    held = load_pairs(info.id, "test") + load_pairs(info.id, "validation")
    assert 0 < len(held) < 40
    assert list(load_dataset_frame(info.id).columns) == ["split", "prompt", "chosen", "rejected"]


@pytest.mark.parametrize("kind", ["jsonl", "parquet", "csv"])
def test_conversational_pairs_keep_the_assistant_turn_and_the_prompt_turns(home: Path, kind: str) -> None:
    rows = [{"prompt": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": f"Hi {i}"}],
             "chosen": [{"role": "assistant", "content": f"Hello {i}!"}],
             "rejected": [{"role": "assistant", "content": "Go away."}]} for i in range(30)]
    if kind == "jsonl":
        data = "\n".join(json.dumps(r) for r in rows).encode()
    elif kind == "parquet":  # lists of structs, as TRL's datasets save them
        buffer = io.BytesIO()
        pd.DataFrame(rows).to_parquet(buffer, index=False)
        data = buffer.getvalue()
    else:  # each message list written as JSON in its cell
        cells = [{k: json.dumps(v) for k, v in r.items()} for r in rows]
        data = pd.DataFrame(cells).to_csv(index=False).encode()
    pairs = load_pairs(_save_upload(data, f"chat.{kind}").id)
    pair = next(p for p in pairs if p.prompt_text == "Hi 4")
    assert pair.prompt == ({"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi 4"})
    assert (pair.chosen, pair.rejected) == ("Hello 4!", "Go away.")


def test_without_a_prompt_column_the_prompt_is_the_conversation_before_the_answer(home: Path) -> None:
    rows = [{"chosen": [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": f"A{i}"}],
             "rejected": [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": "no"}]}
            for i in range(30)]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    pairs = load_pairs(_save_upload(data, "implicit.jsonl").id)
    pair = next(p for p in pairs if p.prompt_text == "Q7")
    assert (pair.chosen, pair.rejected) == ("A7", "no")


def test_the_report_names_duplicates_empty_sides_identical_sides_and_long_pairs(home: Path) -> None:
    rows = _rows(30) + [_rows(1)[0],                                   # a copy of row 1
                        {"prompt": "Empty?", "chosen": "", "rejected": "no"},
                        {"prompt": "Same?", "chosen": "Yes.", "rejected": "  Yes. "},
                        {"prompt": "Long?", "chosen": "word " * 400, "rejected": "short"}]
    info = _save_upload(pd.DataFrame(rows).to_csv(index=False).encode(), "bad.csv")
    findings = {f["code"]: f["message"] for f in info.quality["findings"]}
    assert "repeats an earlier row" in findings["duplicates"]
    assert "no chosen" in findings["missing_chosen"]
    assert "the same chosen and rejected answer" in findings["chosen_equals_rejected"]
    assert "1 of 31 pairs (3%) have a side" in findings["pairs_cut"] and "256" in findings["pairs_cut"]
    texts = [p.prompt_text for p in load_pairs(info.id)]
    assert "Same?" not in texts and "Empty?" not in texts and texts.count("What is 0 plus 0?") == 1


def test_the_same_prompt_stays_in_one_split(home: Path) -> None:
    rows = [{"prompt": f"Prompt {i % 10}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(60)]
    info = _save_upload(pd.DataFrame(rows).to_csv(index=False).encode(), "many.csv")
    frame = load_dataset_frame(info.id)
    assert (frame.groupby("prompt")["split"].nunique() == 1).all()
    assert set(frame["split"]) == {"train", "validation", "test"}


def test_a_split_column_that_puts_one_prompt_in_two_splits_is_reported(home: Path) -> None:
    rows = [{"prompt": f"P{i % 20}", "chosen": f"good {i}", "rejected": f"bad {i}",
             "split": "test" if i == 25 else "train" if i < 30 else "validation"} for i in range(40)]
    parsed = read_upload(pd.DataFrame(rows).to_csv(index=False).encode(), "given.csv")
    mapping = suggest_mapping(parsed.frame)
    info = save_dataset(parsed, mapping, name="Given", task="causal-lm",
                        split=SplitConfig(split_column="split"), model_key="smollm2-135m-instruct",
                        max_length=256)
    leak = next(f for f in info.quality["findings"] if f["code"] == "leakage")
    assert "more than one split" in leak["message"]


def test_save_pairs_keeps_the_meta_the_source_and_flags_prompts_of_the_parent_test_split(home: Path) -> None:
    parent_rows = [{"prompt": f"Question {i}", "completion": f"Answer {i}"} for i in range(50)]
    parsed = read_upload(pd.DataFrame(parent_rows).to_csv(index=False).encode(), "parent.csv")
    shape = {"format": "prompt_completion", "prompt": "prompt", "completion": "completion"}
    parent = save_dataset(parsed, shape, name="Parent", task="causal-lm", split=SplitConfig(),
                          model_key="smollm2-135m-instruct")
    test_prompts = list(load_dataset_frame(parent.id, "test")["prompt"])
    pairs = [PreferencePair.of(f"Question {i}", f"Answer {i}", "wrong", voters=["ann"], run_id=3)
             for i in range(50)]
    info = save_pairs(pairs, name="From review", source={"source": "review", "review_id": 9,
                                                         "parent_dataset_id": parent.id}, created_by="ann")
    assert is_preference(info) and info.created_by == "ann"
    facts = preference_facts(info)
    assert facts["source"] == "review" and facts["review_id"] == 9 and facts["pairs"] == 50
    found = next(f for f in info.quality["findings"] if f["code"] == "prompt_in_parent_test")
    assert found["count"] == len(test_prompts) and "'Parent v1'" in found["message"]
    loaded = load_pairs(info.id)
    assert dict(loaded[0].meta) == {"voters": ["ann"], "run_id": 3}
    again = save_pairs(pairs, name="From review", source={"source": "review", "review_id": 9})
    assert again.id == info.id  # the same pairs are the same version
    with pytest.raises(DatasetError, match="no preference pairs to save"):
        save_pairs([], name="x", source={"source": "review"})
    with pytest.raises(DatasetError, match="holds no preference pairs"):
        load_pairs(parent.id)
    assert not is_preference(get_dataset(parent.id))


def test_ordinary_fine_tuning_refuses_a_preference_dataset(home: Path) -> None:
    from core.run_config import TrainConfig
    from core.training.request import TrainRequest, check_request

    with pytest.raises(DatasetError, match="preference"):
        detect_format(["prompt", "chosen", "rejected"], {"format": "preference"})
    info = save_pairs([PreferencePair.of(f"Q{i}", f"A{i}", "no") for i in range(20)], name="P",
                      source={"source": "corrections"})
    with pytest.raises(ConfigError, match="preference \\(DPO\\) kind"):
        check_request(TrainRequest(info.id, "smollm2-135m-instruct", TrainConfig()))
    options = TrainConfig(training_kind="preference", lora=True)  # the run config's key (i23 contract)
    assert check_request(TrainRequest(info.id, "smollm2-135m-instruct", options))[0] == "causal-lm"


def test_the_text_measured_for_a_pair_is_its_longer_side() -> None:
    """The length chart and the truncation share measure the side that would be cut: a long rejected
    answer beside a short chosen one counted as short (the chart said 0% cut, the report 6 pairs)."""
    import json

    import pandas as pd

    from core.data.textchecks import texts_of

    prompt = json.dumps([{"role": "user", "content": "Hi"}])
    frame = pd.DataFrame({"prompt": [prompt, prompt], "chosen": ["short", "a much longer chosen answer"],
                          "rejected": ["a much longer rejected answer", "no"]})
    texts = texts_of(frame, "causal-lm", {"format": "preference"})
    assert list(texts) == ["Hi\na much longer rejected answer", "Hi\na much longer chosen answer"]


def test_the_counts_sentence_adds_up_from_what_was_looked_at_to_the_pairs_saved() -> None:
    from core.data.preferences import counts_sentence

    references = {"source": "references", "run_id": 1, "split": "train", "answered": 240,
                  "right_left_out": 30, "empty_left_out": 0, "threshold": 0.5, "pairs": 204}
    assert counts_sentence(references) == (
        "Run 1 answered 240 train prompts; 30 answers scored ROUGE-L of 0.5 or more and are left out; "
        "6 of the 210 pairs made were left out when saving (see the quality report); 204 pairs saved.")
    votes = {"source": "review", "items": 12, "votes": 30, "ties_left_out": 2, "split_decisions_left_out": 1,
             "items_without_votes": 0, "pairs": 9}
    assert counts_sentence(votes) == ("12 items and 30 votes; 2 tied (left out); 1 split (left out); "
                                      "9 pairs saved.")
    assert counts_sentence({"source": "upload", "pairs": 5}) == "5 pairs saved."
