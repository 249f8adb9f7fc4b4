"""Several prompts answered together on one llama.cpp context: one forward pass per step for all of them.

A 135M model on a CPU reads all its weights for every token it writes; decoding ``slots`` sequences
in one ``llama_decode`` reads them once for all, which is where batched answer scoring gets its speed
(``bench/evaluate.py``). The loop is llama.cpp's own ``examples/batched``/``examples/parallel``
pattern over the low-level API (``llama_batch_init``, one sequence id per prompt, a logits row per
active sequence, ``llama_memory_seq_rm`` when a sequence ends), with continuous batching: a slot
whose sequence ended takes the next waiting prompt at once.

The context keeps one key/value stream per sequence (``kv_unified`` off), so each sequence attends
over its own cache exactly as a lone prompt does: greedy answers are the one-at-a-time answers of
``LlamaEngine.generate`` (tests/core/ml/test_llama_batch.py checks it token for token). Each sequence
samples with the sampler chain ``LlamaEngine.generate`` builds (seeded per prompt) and stops on its
own at an end token, its stop text or its token budget.

Prompts built from one template share their first tokens (a chat template's system prompt: 24 of the
37 tokens of a typical chat-pairs prompt). That shared prefix is decoded once, into a sequence of its
own, and each slot starts from a copy of its cache (``llama_memory_seq_cp``) before it decodes the rest
of its prompt: 344 prompt tokens decoded instead of 896 for 24 chat-pairs prompts. A token's keys and
values depend only on the tokens before it, so the answers stay the one-at-a-time answers.

``decode_in_lanes`` runs several such contexts side by side on threads of this process, each with its
share of the prompts: on a small model one context cannot keep two cores busy (its threads wait for
each other after every operation), two one-thread contexts can (1.40x on 24 chat prompts, 2 vCPUs).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.generation_settings import GenerationSettings
from core.tasks.stop_text import StopScanner

PAD = 256  # llama.cpp pads a context's cells to this
UNIFIED = False  # one key/value buffer for all sequences instead of a stream each
# flash attention in LlamaEngine's contexts and the batch's: 19 % fewer CPU seconds for 24 chat prompts
# decoded together, but its kernel is not batch-invariant: 2 of 24 SmolLM2 answers then differ from the
# same prompts decoded one at a time (bench/evaluate.py), so it stays off
FLASH = False
MIN_PER_LANE = 4  # prompts a context needs before answers are split over another context
MIN_SHARED = 4  # fewer shared prefix tokens than this are decoded with each prompt, not copied
PENALTY_WINDOW = 64  # the last tokens a repetition penalty looks at (llama-cpp-python's default)
Progress = Callable[[int, int], None]


class Stopped(RuntimeError):
    """A lane's work ended early because the request it belongs to ended."""


@dataclass
class BatchAnswer:
    """One prompt's answer: its bytes (stop text cut off), its tokens, and whether it ended by itself."""

    data: bytes = b""
    tokens: int = 0
    finished: bool = False  # an end token or a stop sequence ended it, not the token limit


@dataclass
class _Sequence:
    index: int  # the prompt's position in the request
    seq: int  # its llama.cpp sequence id (the slot)
    budget: int
    sampler: Any
    pos: int = 0
    row: int = -1  # the batch row whose logits it samples from next
    pending: int = -1  # the token sampled last, decoded in the next step
    answer: BatchAnswer = field(default_factory=BatchAnswer)
    scanner: StopScanner | None = None


def sampler_chain(settings: GenerationSettings, seed: int, n_vocab: int) -> Any:
    """llama.cpp's sampler for one sequence, as ``llama_cpp.Llama`` builds it for ``generate``."""
    import llama_cpp

    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    add = llama_cpp.llama_sampler_chain_add
    add(chain, llama_cpp.llama_sampler_init_penalties(n_vocab, PENALTY_WINDOW,
                                                      float(settings.repetition_penalty), 0.0, 0.0))
    if settings.greedy:
        add(chain, llama_cpp.llama_sampler_init_greedy())
        return chain
    add(chain, llama_cpp.llama_sampler_init_top_k(int(settings.top_k)))
    add(chain, llama_cpp.llama_sampler_init_typical(1.0, 1))
    add(chain, llama_cpp.llama_sampler_init_top_p(float(settings.top_p), 1))
    add(chain, llama_cpp.llama_sampler_init_min_p(0.0, 1))
    add(chain, llama_cpp.llama_sampler_init_temp(float(settings.temperature)))
    add(chain, llama_cpp.llama_sampler_init_dist(seed % 2**31))
    return chain


def shared_prefix(prompts: Sequence[list[int]]) -> int:
    """How many first tokens every prompt shares, leaving each at least one token of its own (the token
    whose logits give its first answer token); 0 when fewer than ``MIN_SHARED``."""
    if len(prompts) < 2:
        return 0
    first, limit = prompts[0], min(len(ids) for ids in prompts) - 1
    n = 0
    while n < limit and all(ids[n] == first[n] for ids in prompts):
        n += 1
    return n if n >= MIN_SHARED else 0


def _context(model: Any, streams: int, cells: int, n_batch: int, threads: int) -> Any:
    import llama_cpp

    params = llama_cpp.llama_context_default_params()
    params.n_ctx = cells * streams
    params.n_batch = n_batch
    params.n_ubatch = min(n_batch, 512)
    params.n_seq_max = streams
    params.kv_unified = UNIFIED  # a stream per sequence: each attends over its own cache, as when alone
    params.n_threads = params.n_threads_batch = threads
    params.flash_attn_type = (llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED if FLASH
                              else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED)
    params.no_perf = True
    ctx = llama_cpp.llama_init_from_model(model, params)
    if ctx is None:
        raise RuntimeError(f"llama.cpp could not create a context for {streams} sequences of {cells} tokens")
    return ctx


def decode_together(model: Any, prompts: Sequence[list[int]], settings: GenerationSettings,
                    eos_ids: set[int], piece: Callable[[int], bytes], *, slots: int, threads: int,
                    n_vocab: int, progress: Progress | None = None,
                    on_token: Callable[[int, int, bytes], bool] | None = None,
                    numbers: Sequence[int] | None = None,
                    stop: threading.Event | None = None) -> list[BatchAnswer]:
    """Answer every prompt (token ids) on the llama.cpp ``model``, ``slots`` sequences at a time.

    Prompt ``k`` samples with seed ``settings.seed + k`` (greedy when the temperature is 0), writes at
    most ``settings.max_new_tokens`` and ends at an end token or at ``settings.stop``; ``piece`` turns a
    token into its bytes and ``on_token(k, token, bytes)`` (False stops prompt ``k``) hears each one.
    ``numbers`` gives the prompts other numbers ``k`` (their places in a larger request: ``decode_in_lanes``);
    ``stop``, once set, ends the work at the next step with ``Stopped``.
    """
    import llama_cpp

    if any(not ids for ids in prompts):
        raise ValueError("a prompt is empty")
    answers = [BatchAnswer() for _ in prompts]
    if not prompts:
        return answers
    number = list(numbers) if numbers is not None else list(range(len(prompts)))
    slots = max(1, min(slots, len(prompts)))
    longest = max(len(ids) for ids in prompts)
    cells = -(-(longest + settings.max_new_tokens + 1) // PAD) * PAD
    n_batch = max(512, longest + slots)
    shared = shared_prefix(prompts)
    prefix_seq = slots  # the sequence holding the shared prefix's cache, copied into each slot it starts
    ctx = _context(model, slots + (1 if shared else 0), cells, n_batch, threads)
    batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
    memory = llama_cpp.llama_get_memory(ctx)
    # shortest first: the prompts starting together get consecutive sequence ids in order of length, and
    # llama.cpp splits a batch of several streams into micro-batches of consecutive sequences with the
    # same number of tokens each, so then the prompts still unfinished after each micro-batch are one
    # run of ids (unsorted, every shorter prompt between two longer ones split the rest into more passes)
    waiting = deque(sorted(range(len(prompts)), key=lambda i: len(prompts[i])))
    active: dict[int, _Sequence] = {}
    free = list(range(slots - 1, -1, -1))  # sequence ids; the lowest is taken first
    done = 0
    seed = int(settings.seed or 0)
    filler = prompts[0][0]  # the token an idle slot between running ones decodes

    def add(token: int, pos: int, seq: int, logits: bool) -> int:
        n = batch.n_tokens
        batch.token[n], batch.pos[n], batch.n_seq_id[n] = token, pos, 1
        batch.seq_id[n][0], batch.logits[n] = seq, int(logits)
        batch.n_tokens = n + 1
        return n

    def decode() -> None:
        status = llama_cpp.llama_decode(ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama.cpp could not decode a batch of {batch.n_tokens} tokens "
                               f"(status {status})")

    def finish(state: _Sequence, finished: bool) -> None:
        nonlocal done
        state.answer.finished = finished
        answers[state.index] = state.answer
        llama_cpp.llama_memory_seq_rm(memory, state.seq, -1, -1)
        llama_cpp.llama_sampler_free(state.sampler)
        del active[state.seq]
        free.append(state.seq)
        free.sort(reverse=True)
        done += 1
        if progress is not None:
            progress(done, len(prompts))

    def take(state: _Sequence, token: int) -> None:
        """The token sampled for ``state``: end the sequence, or keep the token to decode next."""
        if token in eos_ids:
            finish(state, True)
            return
        data = piece(token)
        state.answer.tokens += 1
        state.answer.data += data
        keep = on_token(number[state.index], token, data) if on_token is not None else True
        if state.scanner is not None:
            text = state.answer.data.decode("utf-8", errors="replace")
            cut = state.scanner.first(text)
            if cut >= 0:
                state.answer.data = text[:cut].encode("utf-8")
                finish(state, True)
                return
        if not keep:
            finish(state, True)
        elif state.answer.tokens >= state.budget:
            finish(state, False)
        else:
            state.pending = token

    def sample(states: list[_Sequence]) -> None:
        for state in states:
            take(state, llama_cpp.llama_sampler_sample(state.sampler, ctx, state.row))

    try:
        if shared:
            for pos, token in enumerate(prompts[0][:shared]):
                add(token, pos, prefix_seq, False)
            decode()
        while waiting or active:
            if stop is not None and stop.is_set():
                raise Stopped("another part of the request failed or was stopped")
            # free slots take waiting prompts: their tokens in one batch, logits of each last token
            batch.n_tokens = 0
            started: list[_Sequence] = []
            while waiting and free and batch.n_tokens + len(prompts[waiting[0]]) - shared <= n_batch:
                index = waiting.popleft()
                ids = prompts[index]
                seq = free.pop()
                llama_cpp.llama_memory_seq_rm(memory, seq, -1, -1)  # a throw-away token may sit there
                if shared:  # the whole stream is copied when the next batch is decoded
                    llama_cpp.llama_memory_seq_cp(memory, prefix_seq, seq, -1, -1)
                state = _Sequence(index=index, seq=seq, pos=len(ids),
                                  budget=max(1, min(settings.max_new_tokens, cells - len(ids) - 1)),
                                  sampler=sampler_chain(settings, seed + number[index], n_vocab),
                                  scanner=StopScanner(settings.stop) if settings.stop else None)
                for pos in range(shared, len(ids)):
                    state.row = add(ids[pos], pos, state.seq, pos == len(ids) - 1)
                active[state.seq] = state
                started.append(state)
            if started:
                decode()
                sample(started)
            # one step: the newest token of every running sequence, in sequence order. llama.cpp computes
            # the streams of one micro-batch together only when their ids are consecutive, so an idle
            # slot between two running ones decodes a throw-away token at position 0 (a row of the
            # matrix product) instead of splitting the step into two passes over the weights
            batch.n_tokens = 0
            stepping = [active[seq] for seq in sorted(active)]
            for seq in range(stepping[0].seq if stepping else 0, stepping[-1].seq + 1 if stepping else 0):
                state = active.get(seq)
                if state is None:
                    llama_cpp.llama_memory_seq_rm(memory, seq, -1, -1)
                    add(filler, 0, seq, False)
                    continue
                state.row = add(state.pending, state.pos, state.seq, True)
                state.pos += 1
            if stepping:
                decode()
                sample(stepping)
    finally:
        for state in list(active.values()):
            llama_cpp.llama_sampler_free(state.sampler)
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_free(ctx)
    return answers


def lanes_for(prompts: int, room: int) -> int:
    """Contexts that decode side by side: as many as the cores hold (``room``) while each gets
    ``MIN_PER_LANE`` prompts."""
    return max(1, min(room, prompts // MIN_PER_LANE))


def decode_in_lanes(model: Any, prompts: Sequence[list[int]], settings: GenerationSettings,
                    eos_ids: set[int], piece: Callable[[int], bytes], *, slots: int, threads: int,
                    n_vocab: int, lanes: int, progress: Progress | None = None,
                    on_token: Callable[[int, int, bytes], bool] | None = None) -> list[BatchAnswer]:
    """``decode_together`` on ``lanes`` contexts of the same model at once, each with its share of the
    prompts (dealt in order of length) and of the slots, and ``threads`` threads, on threads of this process
    (llama.cpp lets go of Python's lock while it decodes). Prompt ``k`` keeps seed ``settings.seed + k``,
    so the answers are those of one context; ``progress`` is called on the calling thread and
    ``on_token`` on a lane's thread, one call at a time.
    """
    import queue
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

    lanes = max(1, min(lanes, len(prompts)))
    if lanes == 1:
        return decode_together(model, prompts, settings, eos_ids, piece, slots=slots, threads=threads,
                               n_vocab=n_vocab, progress=progress, on_token=on_token)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    shares = [order[k::lanes] for k in range(lanes)]
    finished: queue.Queue[int] = queue.Queue()
    lock = threading.Lock()
    stop = threading.Event()  # set when the caller's progress raises or a lane fails: the others end too

    def heard(k: int, token: int, data: bytes) -> bool:
        with lock:
            return on_token(k, token, data)

    def lane(share: list[int]) -> list[BatchAnswer]:
        try:
            return decode_together(model, [prompts[i] for i in share], settings, eos_ids, piece,
                                   slots=-(-slots // lanes), threads=threads, n_vocab=n_vocab,
                                   progress=lambda _done, _total: finished.put(1),
                                   on_token=heard if on_token is not None else None, numbers=share,
                                   stop=stop)
        except BaseException:
            finished.put(-1)  # wakes the caller at once
            raise

    answers = [BatchAnswer() for _ in prompts]
    with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="llama-lane") as pool:
        futures = [pool.submit(lane, share) for share in shares]
        done = 0
        try:
            while done < len(prompts):  # each lane says each prompt it finished, or -1 when it failed
                if finished.get() < 0:
                    wait(futures, return_when=FIRST_EXCEPTION)  # until that lane's error is set
                    raise next(f.exception() for f in futures if f.done() and f.exception() is not None)
                done += 1
                if progress is not None:
                    progress(done, len(prompts))
        except BaseException:
            stop.set()  # the other lanes end at their next step instead of answering every prompt
            raise
        for share, future in zip(shares, futures, strict=True):
            for i, answer in zip(share, future.result(), strict=True):
                answers[i] = answer
    return answers
