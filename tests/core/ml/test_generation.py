"""Generation engine and service: streaming, seeds, stop text, one cached model under two threads, history."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from core.errors import ConfigError, ModelError, NotFoundError
from core.inference import generation as gen
from core.inference.generation import GenerationSettings as S
from tests.tiny_chat import build_tokenizer, needs_llama_cpp


def test_streaming_yields_several_chunks_that_make_the_stored_output(tiny: str) -> None:
    stream = gen.stream_generate(tiny, "Hello!", settings=S(temperature=0, max_new_tokens=24))
    chunks = list(stream)
    assert len(chunks) > 1 and all(i == 0 for i, _ in chunks)
    record = stream.record
    assert record is not None and record.id is not None
    assert record.outputs == ["".join(c for _, c in chunks)]
    assert record.time_to_first_token is not None and record.tokens_per_second > 0
    assert gen.get_generation(record.id).outputs == record.outputs


def test_same_seed_gives_the_same_sampled_text(tiny: str) -> None:
    settings = S(temperature=1.0, top_k=0, top_p=1.0, seed=7, max_new_tokens=20, num_return_sequences=3)
    first = gen.generate(tiny, "Name three fruits.", settings=settings)
    again = gen.generate(tiny, "Name three fruits.", settings=settings)
    other = gen.generate(tiny, "Name three fruits.", settings=S(**{**settings.to_dict(), "seed": 8}))
    assert first.outputs == again.outputs
    assert len(first.outputs) == 3 and len(set(first.outputs)) > 1  # rows sampled independently
    assert other.outputs != first.outputs
    assert first.settings["seed"] == 7


def test_greedy_ignores_the_seed_and_a_missing_seed_is_recorded(tiny: str) -> None:
    a = gen.generate(tiny, "Hello!", settings=S(temperature=0, max_new_tokens=12, seed=1))
    b = gen.generate(tiny, "Hello!", settings=S(temperature=0, max_new_tokens=12, seed=2))
    assert a.outputs == b.outputs
    sampled = gen.generate(tiny, "Hello!", settings=S(max_new_tokens=4))
    assert isinstance(sampled.settings["seed"], int)
    assert gen.rerun_generation(sampled.id).outputs == sampled.outputs


def test_stop_sequence_ends_and_is_trimmed(tiny: str) -> None:
    full = gen.generate(tiny, "Hello!", settings=S(temperature=0, max_new_tokens=40)).text
    assert len(full) > 12
    stop = full[6:9]
    cut = full[:full.find(stop)]
    stream = gen.stream_generate(tiny, "Hello!", settings=S(temperature=0, max_new_tokens=40, stop=(stop,)))
    streamed = "".join(c for _, c in stream)
    assert streamed == cut == stream.record.text
    assert stream.record.stats["new_tokens"] < 40  # generation ended at the stop text, not at the limit


def test_two_threads_on_one_cached_model_both_get_complete_correct_outputs(tiny: str) -> None:
    prompts = ["Hello!", "What is the capital of France?"]
    greedy = S(temperature=0, max_new_tokens=30)
    sampled = S(temperature=1.0, seed=3, max_new_tokens=30)
    expected = [gen.generate(tiny, p, settings=s, store=False).outputs
                for p, s in zip(prompts, (greedy, sampled), strict=True)]
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            chunks = gen.stream_generate(tiny, prompts[i], settings=(greedy, sampled)[i]).texts()
            results[i] = ["".join(chunks)]
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert [results[0], results[1]] == expected
    from core.inference.generation import get_loaded

    assert get_loaded(tiny) is get_loaded(tiny)  # one shared model


def test_chat_mode_uses_the_template_and_prompt_mode_the_raw_text(tiny: str) -> None:
    from core.inference.generation import get_loaded
    from core.ml.generation import encode_prompt

    loaded = get_loaded(tiny)
    prompt = gen.build_prompt("Hi", "chat", system="Be brief", history=[
        {"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hello!"}])
    assert [m["role"] for m in prompt["messages"]] == ["system", "user", "assistant", "user"]
    ids = encode_prompt(loaded, prompt)["input_ids"][0].tolist()
    text = loaded.tokenizer.decode(ids)
    assert text.startswith("<|im_start|>system\nBe brief<|im_end|>")
    assert text.endswith("<|im_start|>assistant\n")
    raw = encode_prompt(loaded, gen.build_prompt("Hi", "prompt"))["input_ids"][0].tolist()
    assert loaded.tokenizer.decode(raw) == "Hi"


def test_bad_requests_are_one_sentence_errors(tiny: str) -> None:
    with pytest.raises(ConfigError, match="between 1 and 5"):
        S(num_return_sequences=6)
    with pytest.raises(ConfigError, match="empty"):
        gen.generate(tiny, "   ", mode="prompt")
    with pytest.raises(ConfigError, match="unknown role 'bot'"):
        gen.build_prompt([{"role": "bot", "content": "x"}], "chat")
    with pytest.raises(NotFoundError):
        gen.generate("no-such-model", "Hi")
    with pytest.raises(ModelError, match="encoder"):
        gen.generate("minilm-l6", "Hi")
    with pytest.raises(NotFoundError, match="no run with id 999"):
        gen.generate("run:999", "Hi")
    with pytest.raises(NotFoundError, match="no generation with id 12345"):
        gen.get_generation(12345)


def test_history_exports_one_row_per_output(tiny: str, tmp_path: Path) -> None:
    gen.generate(tiny, "Hello!", settings=S(max_new_tokens=5, num_return_sequences=2, seed=1))
    gen.generate(tiny, "Once upon a time", mode="prompt", settings=S(temperature=0, max_new_tokens=5))
    frame = gen.export_generations(tmp_path / "history.csv")
    assert len(frame) == 3 and (tmp_path / "history.csv").is_file()
    assert list(frame["mode"]) == ["prompt", "chat", "chat"] and list(frame["sequence"]) == [1, 1, 2]
    assert frame.loc[1, "prompt"] == "user: Hello!"
    assert [r.mode for r in gen.list_generations()] == ["prompt", "chat"]


@pytest.mark.slow
def test_bundled_model_answers_paris(converted_smollm2: Path, home: Path) -> None:
    from core.inference.generation import clear_loaded

    clear_loaded()
    record = gen.generate("smollm2-135m-instruct", "What is the capital of France?",
                          settings=S(temperature=0, max_new_tokens=16))
    assert "Paris" in record.text
    clear_loaded()


def test_side_by_side_uses_one_seed_and_choices_list_text_models(tiny: str) -> None:
    a, b = gen.generate_side_by_side([tiny, tiny], "Hello!", settings=S(temperature=1.0, max_new_tokens=10))
    assert a.outputs == b.outputs and a.settings["seed"] == b.settings["seed"]
    refs = [ref for ref, _ in gen.list_model_choices()]
    assert tiny in refs and "smollm2-135m-instruct" in refs and "minilm-l6" not in refs


def test_a_reader_that_stops_early_stops_the_model_and_frees_the_lock(tiny: str) -> None:
    from core.inference.generation import get_loaded

    stream = gen.stream_generate(tiny, "Hello!", settings=S(temperature=1.0, seed=1, max_new_tokens=400))
    chunks = iter(stream)
    next(chunks)
    chunks.close()  # what a Streamlit rerun does to an abandoned stream
    stream._inner.thread.join(timeout=30)  # the generation thread ends soon after
    lock = get_loaded(tiny).lock
    assert lock.acquire(timeout=30)
    lock.release()
    assert stream._inner.result.stopped_early and stream._inner.result.new_tokens < 400
    assert stream.record is None and gen.list_generations() == []


def test_playground_and_scoring_drop_a_character_cut_by_the_token_limit(tiny: str, monkeypatch) -> None:
    """A Chinese answer cut inside a character ends before it, never in U+FFFD (the playground, the
    stored answers of evaluation and so the report)."""
    from core.inference.answers import answer_prompts
    from core.inference.generation import get_loaded
    from core.ml import llama_engine
    from core.ml.generation import LoadedModel
    from core.ml.llama_batch import BatchAnswer

    text = "北京是中国的首都。".encode()

    class Engine:
        def generate(self, ids, max_new_tokens, sampling, eos_ids, on_token, seed_offset=0):
            for count, byte in enumerate(text[:max_new_tokens], start=1):
                on_token(100 + count, bytes([byte]))
            return min(max_new_tokens, len(text)), max_new_tokens > len(text)

        def answer_many(self, prompts, settings, eos_ids, progress=None, on_token=None, slots=1, lanes=None):
            cut = text[:settings.max_new_tokens]
            return [BatchAnswer(cut, len(cut), False) for _ in prompts]

        greedy = llama_engine.LlamaEngine.greedy

    monkeypatch.setattr(LoadedModel, "engine_for",
                        lambda self, requested: ("llama.cpp", "llama.cpp answered."))
    monkeypatch.setattr(LoadedModel, "llama", lambda self: Engine())
    record = gen.generate(tiny, "首都？", store=False, settings=S(temperature=0, max_new_tokens=5))
    assert record.text == "北" and record.stats["finished"] == [False]
    assert [c for _, c in gen.stream_generate(tiny, "首都？", store=False,
                                              settings=S(temperature=0, max_new_tokens=8))] == ["北", "京"]
    assert answer_prompts(get_loaded(tiny), [{"text": "首都？"}] * 2, 7) == ["北京"] * 2


@needs_llama_cpp
def test_greedy_is_one_answer_across_engines_and_each_answer_names_its_engine(tiny: str) -> None:
    question = "What is the capital of France?"
    auto = gen.generate(tiny, question, settings=S(temperature=0, max_new_tokens=16))
    exact = gen.generate(tiny, question, store=False,
                         settings=S(temperature=0, max_new_tokens=16, engine="exact"))
    assert auto.stats["engine"] == "llama.cpp" and exact.stats["engine"] == "exact"
    assert auto.text == exact.text and auto.text  # 16-bit weights: the same greedy answer
    assert "Engine: llama.cpp on " in auto.stats["engine_note"] and "differ" in auto.stats["engine_note"]
    threads = gen.get_loaded(tiny).llama().threads  # the count it measured fastest is said with the answer
    assert f"({threads} thread{'s' if threads != 1 else ''} per answer, the fastest measured" in auto.stats[
        "engine_note"]
    assert gen.get_generation(auto.id).stats["engine_note"] == auto.stats["engine_note"]  # kept with it


@needs_llama_cpp
def test_a_model_llama_cpp_cannot_run_is_answered_by_exact_with_a_sentence(home, tmp_path) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    from core.models import catalog

    tok = build_tokenizer()
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=len(tok),
                               eos_token_id=tok.eos_token_id)).save_pretrained(tmp_path / "gpt2")
    tok.save_pretrained(tmp_path / "gpt2")
    gen.clear_loaded()
    ref = catalog.add_local_model(str(tmp_path / "gpt2")).key
    record = gen.generate(ref, "Hello", store=False, settings=S(temperature=0, max_new_tokens=4))
    assert record.stats["engine"] == "exact"
    assert "because its architecture is 'gpt2'" in record.stats["engine_note"]
    gen.clear_loaded()


def test_speed_is_the_writing_after_the_first_token_and_the_first_token_excludes_the_engine_load(
        tiny: str, monkeypatch) -> None:
    import time

    from core.ml.generation import LoadedModel

    class Engine:
        def generate(self, ids, max_new_tokens, sampling, eos_ids, on_token, seed_offset=0):
            time.sleep(0.3)  # the prompt
            for count in range(1, max_new_tokens + 1):
                on_token(100 + count, b"a")
                time.sleep(0.005)
            return max_new_tokens, False

    engine = Engine()
    loads: list[int] = []

    def llama(self):
        if not loads:
            time.sleep(2.0)  # loading the engine, once
        loads.append(1)
        return engine
    monkeypatch.setattr(LoadedModel, "engine_for", lambda self, requested: ("llama.cpp", "answered."))
    monkeypatch.setattr(LoadedModel, "llama", llama)
    record = gen.generate(tiny, "Hi", store=False, settings=S(temperature=0, max_new_tokens=10))
    assert 0.3 <= record.time_to_first_token < 1.5  # the prompt's wait, not the 2 s load before it
    whole = 10 / (record.time_to_first_token + 10 * 0.005)  # the old rate: every token over all the time
    assert record.tokens_per_second > whole  # 9 tokens over the time after the first one
    one = gen.generate(tiny, "Hi", store=False, settings=S(temperature=0, max_new_tokens=1))
    assert one.tokens_per_second is None  # one token has no writing speed
