"""Prompts decoded together on one llama.cpp context (core.ml.llama_batch) answer exactly as one at a time.

Each test answers more prompts than there are slots, of different lengths, so sequences start and end
at different steps and freed slots take the next prompt: a shared cache, a wrong position, a logits row
read from the wrong sequence or a slot not cleared would change the tokens.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from tiny_chat import build_tiny_chat_lm, build_tokenizer, needs_llama_cpp

from core.generation_settings import GenerationSettings
from core.ml import gguf_export, llama_engine

pytestmark = needs_llama_cpp
QUESTIONS = ["What is the capital of France?", "Name three fruits.", "Hello!",
             "Once upon a time, in a small village, there lived", "The quick brown fox",
             "How can I help you today? Our product helps small teams.", "0123456789"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> llama_engine.LlamaEngine:
    root = tmp_path_factory.mktemp("varied")
    folder = build_tiny_chat_lm(root / "model", scale=6.0)  # answers that differ from prompt to prompt
    path = gguf_export.write_gguf(folder, root / "model-F16.gguf", gguf_export.F16)
    engine = llama_engine.LlamaEngine(path, context_tokens=512)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def prompts() -> list[list[int]]:
    tok = build_tokenizer()
    return [tok(f"<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n")["input_ids"] for q in QUESTIONS]


def _alone(engine: llama_engine.LlamaEngine, ids: list[int], settings: GenerationSettings, eos: set[int],
           k: int) -> tuple[list[int], bytes, bool]:
    tokens: list[int] = []
    data = bytearray()

    def keep(token: int, piece: bytes) -> bool:
        tokens.append(token)
        data.extend(piece)
        return True
    _, ended = engine.generate(ids, settings.max_new_tokens, settings, eos, keep, seed_offset=k)
    return tokens, bytes(data), ended


def test_greedy_answers_decoded_together_are_the_one_at_a_time_answers(engine, prompts) -> None:
    settings = replace(llama_engine.GREEDY, max_new_tokens=24)
    alone = [_alone(engine, ids, settings, set(), k) for k, ids in enumerate(prompts)]
    # an "end token" that some answers write: those sequences end early, the others run to the limit
    counts = {t: sum(t in a[0] for a in alone) for a in alone for t in a[0]}
    eos = {min(counts, key=lambda t: (abs(counts[t] - len(prompts) / 2), t))}
    alone = [_alone(engine, ids, settings, eos, k) for k, ids in enumerate(prompts)]
    assert any(a[2] for a in alone) and not all(a[2] for a in alone)
    heard: dict[int, list[int]] = {}
    together = engine.answer_many(
        prompts, settings, eos, slots=3,
        on_token=lambda k, token, _piece: heard.setdefault(k, []).append(token) is None)
    assert [a.data for a in together] == [a[1] for a in alone]
    assert [a.finished for a in together] == [a[2] for a in alone]
    assert [a.tokens for a in together] == [len(a[0]) for a in alone]
    assert [heard.get(k, []) for k in range(len(prompts))] == [a[0] for a in alone]


def test_sampled_answers_use_one_seed_per_prompt_as_generate_does(engine, prompts) -> None:
    settings = GenerationSettings(temperature=0.9, top_k=20, top_p=0.9, repetition_penalty=1.2, seed=7,
                                  max_new_tokens=16)
    alone = [_alone(engine, ids, settings, set(), k)[1] for k, ids in enumerate(prompts)]
    together = engine.answer_many(prompts, settings, set(), slots=4)
    assert [a.data for a in together] == alone
    other = engine.answer_many(prompts, replace(settings, seed=8), set(), slots=4)
    assert [a.data for a in other] != alone


def test_a_stop_sequence_ends_only_its_own_prompt_and_is_cut_off(engine, prompts) -> None:
    settings = replace(llama_engine.GREEDY, max_new_tokens=20)
    alone = [_alone(engine, ids, settings, set(), k)[1].decode("utf-8", "replace") for k, ids in
             enumerate(prompts)]
    stop = alone[1][6:9]
    together = engine.answer_many(prompts, replace(settings, stop=(stop,)), set(), slots=2)
    for text, answer in zip(alone, together, strict=True):
        cut = text.find(stop)
        assert answer.data.decode("utf-8", "replace") == (text[:cut] if cut >= 0 else text)
        assert answer.finished == (cut >= 0)
    assert together[1].finished


def test_progress_counts_every_prompt_and_an_empty_prompt_is_refused(engine, prompts) -> None:
    seen: list[tuple[int, int]] = []
    engine.answer_many(prompts, replace(llama_engine.GREEDY, max_new_tokens=3), set(),
                       progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(prompts), len(prompts)) and len(seen) == len(prompts)
    with pytest.raises(ValueError, match="empty"):
        engine.answer_many([prompts[0], []], llama_engine.GREEDY, set())


def test_a_shared_system_prompt_is_decoded_once_and_the_answers_stay_the_one_at_a_time_answers(
        engine, monkeypatch) -> None:
    import llama_cpp

    from core.ml.llama_batch import shared_prefix

    tok = build_tokenizer()
    system = "<|im_start|>system\nYou are a helpful assistant who answers briefly.<|im_end|>\n"
    prompts = [tok(f"{system}<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n")["input_ids"]
               for q in QUESTIONS]
    common = shared_prefix(prompts)
    assert common > 40  # the system prompt and the user turn's start
    prompts.append(prompts[0][:common + 1])  # a prompt that is all shared prefix but its last token
    shared = shared_prefix(prompts)
    assert shared == common
    settings = replace(llama_engine.GREEDY, max_new_tokens=12)
    alone = [_alone(engine, ids, settings, set(), k)[1] for k, ids in enumerate(prompts)]
    decoded: list[tuple[int, int, bool]] = []  # (sequence, position, logits wanted) of every token decoded
    real = llama_cpp.llama_decode

    def counting(ctx, batch):
        decoded.extend((batch.seq_id[i][0], batch.pos[i], bool(batch.logits[i]))
                       for i in range(batch.n_tokens))
        return real(ctx, batch)
    monkeypatch.setattr(llama_cpp, "llama_decode", counting)
    slots = 3
    together = engine.answer_many(prompts, settings, set(), slots=slots, lanes=1)
    assert [a.data for a in together] == alone
    # the shared tokens are decoded once, into a sequence of their own; the slots decode only what
    # follows them (and, in an idle slot between running ones, a throw-away token at position 0)
    assert sorted(pos for seq, pos, _ in decoded if seq == slots) == list(range(shared))
    early = [(pos, wanted) for seq, pos, wanted in decoded if seq < slots and pos < shared]
    assert all(pos == 0 and not wanted for pos, wanted in early)


def _in_lanes(engine: llama_engine.LlamaEngine, prompts: list[list[int]], settings: GenerationSettings,
              lanes: int) -> tuple[list, list[tuple[int, int]], dict[int, list[int]], set[str]]:
    import threading

    seen: list[tuple[int, int]] = []
    heard: dict[int, list[int]] = {}
    callers: set[str] = set()

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        callers.add(threading.current_thread().name)
    def hear(k: int, token: int, _piece: bytes) -> bool:
        heard.setdefault(k, []).append(token)
        return True
    together = engine.answer_many(prompts, settings, set(), slots=4, lanes=lanes, progress=progress,
                                  on_token=hear)
    return together, seen, heard, callers


def test_contexts_side_by_side_give_the_answers_of_one(engine, prompts) -> None:
    import threading

    greedy = replace(llama_engine.GREEDY, max_new_tokens=16)
    sampled = GenerationSettings(temperature=0.9, top_k=20, top_p=0.9, seed=3, max_new_tokens=16)
    for settings in (greedy, sampled):
        alone = [_alone(engine, ids, settings, set(), k)[1] for k, ids in enumerate(prompts)]
        for lanes in (2, 3):
            together, seen, heard, callers = _in_lanes(engine, prompts, settings, lanes)
            assert [a.data for a in together] == alone
            assert [a.tokens for a in together] == [len(heard[k]) for k in range(len(prompts))]
            assert seen == [(n, len(prompts)) for n in range(1, len(prompts) + 1)]
            assert callers == {threading.current_thread().name}  # progress reaches the caller's thread


def test_prompts_without_a_long_shared_start_share_nothing() -> None:
    from core.ml.llama_batch import MIN_SHARED, lanes_for, shared_prefix

    assert shared_prefix([[1, 2, 3, 4, 5, 6]]) == 0  # one prompt: nothing to share
    assert shared_prefix([[1, 2, 3, 9], [1, 2, 3, 8]]) == 0 if MIN_SHARED > 3 else 3
    assert shared_prefix([[1, 2, 3, 4, 5, 9], [1, 2, 3, 4, 5, 8]]) == 5
    assert shared_prefix([[1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6, 7]]) == 4  # the shorter keeps its last token
    # one context per thread while each gets a few prompts
    assert [lanes_for(24, 2), lanes_for(7, 2), lanes_for(3, 2), lanes_for(24, 16), lanes_for(40, 1)] == [
        2, 1, 1, 6, 1]


def test_the_engine_measures_how_many_threads_write_fastest(monkeypatch) -> None:
    """The choice is the measured fastest, not the most threads: here two threads are made slower."""
    import time

    import llama_cpp

    assert llama_engine.thread_choices(1) == [1]
    assert llama_engine.thread_choices(2) == [1, 2]
    assert llama_engine.thread_choices(6) == [1, 2, 4, 6]
    cost = {1: 0.002, 2: 0.004, 4: 0.001}  # seconds per evaluated call with n threads
    current: dict[str, int] = {}
    monkeypatch.setattr(llama_cpp, "llama_set_n_threads",
                        lambda _ctx, n, n_batch: current.update(n=n, batch=n_batch))

    class Context:
        ctx = object()

    class Fake:
        _ctx = Context()
        calls = 0

        def tokenize(self, text: bytes, add_bos: bool = True) -> list[int]:
            return list(text[:20])

        def reset(self) -> None:
            pass

        def __init__(self) -> None:
            self.cold = True  # its file is not in the page cache yet: the first call reads the disk

        def eval(self, ids: list[int]) -> None:
            Fake.calls += 1
            time.sleep(cost[current.get("n", 4)] + (0.3 if self.cold else 0.0))
            self.cold = False
    assert llama_engine.fastest_threads(Fake(), 2) == 1  # the cold first call is not what is timed
    assert llama_engine.fastest_threads(Fake(), 4) == 4
    assert current["n"] == current["batch"]
    # one untimed pass (the prompt, one step), then two rounds of every choice
    assert Fake.calls == 2 * 2 + 2 * (2 + 3) * (1 + llama_engine.THREAD_STEPS)


def test_every_context_of_an_engine_uses_the_measured_threads(engine) -> None:
    assert engine.threads in llama_engine.thread_choices(engine.cores)
    assert all(llm.n_threads == engine.threads for llm in engine._free.queue)


def test_when_one_context_fails_the_others_stop_instead_of_answering_everything(
        engine, prompts, monkeypatch) -> None:
    import time

    import llama_cpp

    real = llama_cpp.llama_decode

    def slower(ctx, batch):  # a step takes a moment (the tiny model alone would finish at once)
        time.sleep(0.002)
        return real(ctx, batch)
    monkeypatch.setattr(llama_cpp, "llama_decode", slower)
    heard: dict[int, int] = {}
    budget = 400

    def hear(k: int, _token: int, _piece: bytes) -> bool:
        heard[k] = heard.get(k, 0) + 1
        if k == 0 and heard[k] == 3:
            raise ValueError("the listener broke")
        return True
    with pytest.raises(ValueError, match="listener broke"):
        engine.answer_many(prompts, replace(llama_engine.GREEDY, max_new_tokens=budget), set(),
                           slots=len(prompts) + 1, lanes=2, on_token=hear)  # every prompt starts at once
    assert heard[0] == 3
    assert max(heard.values()) < budget / 4  # the other context stopped too, long before its budget
