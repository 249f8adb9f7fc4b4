"""Causal-LM data shapes: detection, row-numbered sentences for broken conversations, token lengths."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.data import chat_checks
from core.errors import DatasetError
from core.tasks import chat


def _conv(*turns: tuple[str, str]) -> str:
    return json.dumps([{"role": r, "content": c} for r, c in turns])


def test_detects_the_three_shapes_from_column_names() -> None:
    assert chat.detect_format(["Text", "id"]) == ("text", {"text": "Text"})
    assert chat.detect_format(["prompt", "completion"]) == (
        "prompt_completion", {"prompt": "prompt", "completion": "completion"})
    # the dataset services' mapping names columns under the role itself
    mapping = {"format": "prompt_completion", "prompt": "q", "completion": "a"}
    assert chat.detect_format(["q", "a"], mapping)[1] == {"prompt": "q", "completion": "a"}
    assert chat.detect_format(["messages", "text"])[0] == "messages"
    assert chat.detect_format(["a", "b"], {"text_column": "b"}) == ("text", {"text": "b"})
    with pytest.raises(DatasetError, match="needs a 'text' column"):
        chat.detect_format(["a", "b"])
    with pytest.raises(DatasetError, match="no column 'zzz'"):
        chat.detect_format(["a"], {"text_column": "zzz"})


def test_malformed_messages_file_names_the_line() -> None:
    good = json.dumps({"messages": [{"role": "user", "content": "Hi"},
                                    {"role": "assistant", "content": "Hello!"}]})
    bad_role = json.dumps({"messages": [{"role": "user", "content": "Hi"}, {"role": "bot", "content": "x"}]})
    with pytest.raises(DatasetError) as info:
        chat.read_messages_jsonl(f"{good}\n{good}\n{bad_role}\n")
    assert str(info.value) == ("Row 3, turn 2 has the unknown role 'bot'; use system, user, assistant "
                               "or tool (ShareGPT: human, gpt, system).")
    with pytest.raises(DatasetError, match=r"^Line 2 of the JSONL file is not valid JSON"):
        chat.read_messages_jsonl(f"{good}\n{{not json\n")
    assert chat.read_messages_jsonl(f"{good}\n\n{good}\n")[1][1] == {"role": "assistant", "content": "Hello!"}


def test_each_broken_conversation_gets_a_sentence_with_its_row() -> None:
    frame = pd.DataFrame({"messages": [
        _conv(("user", "Hi"), ("assistant", "Hello")),
        _conv(("user", "Hi"), ("assistant", "  ")),                 # row 2: empty turn
        _conv(("system", "Be brief"), ("user", "Hi")),             # row 3: no assistant
        _conv(("user", "Hi"), ("robot", "Hello")),                 # row 4: unknown role
        "[{not json",                                              # row 5
    ]})
    findings = {f.code: f for f in
                chat_checks.check_causal_frame(frame, {"format": "messages"}, tokenizer="/x")}
    assert findings["messages_empty_turn"].message == (
        "Row 2, turn 2 (assistant) is empty; write its text or remove the turn.")
    assert findings["messages_no_assistant"].message.startswith("Row 3 has no assistant turn")
    assert findings["messages_unknown_role"].message.startswith("Row 4, turn 2 has the unknown role 'robot'")
    assert findings["messages_not_json"].message.startswith("Row 5: the messages are not valid JSON")
    assert all(findings[c].severity == "blocking" for c in ("messages_empty_turn", "messages_not_json"))
    assert findings["messages_unknown_role"].example["row"] == 4


def test_row_numbers_come_from_the_file_when_known() -> None:
    frame = pd.DataFrame({"_row": [3, 8], "messages": [_conv(("user", "a"), ("assistant", "b")),
                                                       _conv(("user", "a"))]})
    findings = chat_checks.check_causal_frame(frame, {"format": "messages"}, tokenizer="/nonexistent")
    assert [f.message for f in findings if f.code == "messages_no_assistant"][0].startswith("Row 8 has")


def test_repeated_problem_lists_its_rows() -> None:
    frame = pd.DataFrame({"prompt": ["a", "", "c", ""], "completion": ["x", "y", "z", "w"]})
    (finding,) = [f for f in chat_checks.check_causal_frame(frame, None, tokenizer="/x")
                  if f.code == "prompt_empty"]
    assert finding.count == 2 and "2 rows: 2, 4" in finding.message


def test_token_lengths_against_max_length_with_a_folder_tokenizer(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "<|im_start|>": 1, "<|im_end|>": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    (tmp_path / "config.json").write_text(json.dumps({"max_position_embeddings": 64}))
    frame = pd.DataFrame({"text": ["one two three", "word " * 40, "word " * 100]})
    findings = {f.code: f for f in
                chat_checks.check_causal_frame(frame, {}, tokenizer=tmp_path, max_length=32)}
    stats = findings["token_lengths"].example
    assert (stats["min"], stats["max"], stats["context"]) == (4, 101, 64)  # words + end token
    assert findings["examples_cut"].count == 2
    assert "2 of 3 examples" in findings["examples_cut"].message
    assert "token_lengths_estimated" not in findings
    over = {f.code for f in chat_checks.check_causal_frame(frame, {}, tokenizer=tmp_path, max_length=100)}
    assert "max_length_over_context" in over


def test_prompt_that_fills_the_max_length_is_reported_and_lengths_are_estimated_without_tokenizer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat_checks, "_catalogue_tokenizer", lambda key, context: (None, context))
    frame = pd.DataFrame({"prompt": ["short?", "long " * 200], "completion": ["yes", "no"]})
    findings = {f.code: f for f in chat_checks.check_causal_frame(frame, {}, max_length=64)}
    assert findings["prompt_fills_max_length"].count == 1
    assert findings["token_lengths_estimated"].severity == "info"
    assert findings["token_lengths"].message.startswith("Examples are about ")


def test_row_to_messages_turns_pairs_into_user_and_assistant() -> None:
    assert chat.row_to_messages({"prompt": "Q", "completion": "A"}, "prompt_completion") == [
        {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]
    assert chat.row_to_messages({"text": "t"}, "text") is None
    with pytest.raises(DatasetError, match="Row 7 has no assistant turn"):
        chat.row_to_messages({"messages": _conv(("user", "x"))}, "messages", row_number=7)


def test_sharegpt_conversations_are_read_as_chat() -> None:
    frame = pd.DataFrame({"conversations": [
        [{"from": "system", "value": "Be kind"}, {"from": "human", "value": "Hi"},
         {"from": "gpt", "value": "Hello"}],
        [{"from": "human", "value": "Hi"}, {"from": "robot", "value": "x"}]]})
    checked = chat_checks.check_causal_frame(frame, {"format": "messages"}, tokenizer="/x")
    findings = {f.code: f for f in checked}
    assert findings["messages_unknown_role"].message.startswith("Row 2, turn 2 has the unknown role 'robot'")
    assert "messages_bad_turn" not in findings
    turns = chat.preview_conversations(frame, {"format": "messages"})
    assert turns == [[{"role": "system", "content": "Be kind"}, {"role": "user", "content": "Hi"},
                      {"role": "assistant", "content": "Hello"}]]


def test_alpaca_columns_are_detected_with_their_input() -> None:
    from core.data.mapping import suggest_mapping

    frame = pd.DataFrame({"instruction": ["Translate", "Sum"] * 5, "input": ["chat", ""] * 5,
                          "output": ["gato", "0"] * 5})
    mapping = suggest_mapping(frame)
    assert (mapping["task"], mapping["format"], mapping["prompt"], mapping["input"],
            mapping["completion"]) == ("causal-lm", "prompt_completion", "instruction", "input", "output")
    preview = chat.preview_conversations(frame, mapping, n=2)
    assert preview[0][0] == {"role": "user", "content": "Translate\n\nchat"}
    assert preview[1][0] == {"role": "user", "content": "Sum"}


def test_openai_content_parts_and_tool_calls_are_normalised() -> None:
    turns = chat.normalize_turns([
        {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]},
        {"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "f"}}]},
        {"role": "tool", "content": "42"}, {"role": "assistant", "content": "It is 42."}])
    assert turns[0]["content"] == "Hi\nthere"
    assert turns[1]["train"] is False and '"name": "f"' in turns[1]["content"]
    assert [chat.is_target(t) for t in turns] == [False, False, False, True]
    assert chat.last_target(turns) == 3
