"""The fast decoding loop writes exactly what transformers' generate writes (greedy, seeded, stops)."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.inference import generation as gen
from core.inference.generation import GenerationSettings as S

CASES = [
    {"temperature": 0, "max_new_tokens": 30},
    {"temperature": 0, "max_new_tokens": 30, "repetition_penalty": 1.3},
    {"temperature": 1.0, "top_k": 20, "top_p": 0.9, "seed": 5, "max_new_tokens": 24,
     "num_return_sequences": 3},
]


@pytest.mark.parametrize("values", CASES, ids=["greedy", "repetition-penalty", "seeded-n3"])
def test_fast_and_exact_engines_write_the_same_text(tiny: str, values: dict) -> None:
    for mode, prompt in (("chat", "What is the capital of France?"), ("prompt", "Once upon a time")):
        fast = gen.generate(tiny, prompt, mode=mode, settings=S(**values, engine="fast"), store=False)
        exact = gen.generate(tiny, prompt, mode=mode, settings=S(**values, engine="exact"), store=False)
        assert fast.outputs == exact.outputs and all(fast.outputs)
        assert fast.stats["new_tokens"] == exact.stats["new_tokens"]
        assert fast.stats["finished"] == exact.stats["finished"]


def test_fast_engine_honours_stop_text_and_the_token_limit(tiny: str) -> None:
    full = gen.generate(tiny, "Hello!", settings=S(temperature=0, max_new_tokens=40), store=False)
    stop = full.text[6:9]
    cut = gen.generate(tiny, "Hello!", settings=S(temperature=0, max_new_tokens=40, stop=(stop,)),
                       store=False)
    assert cut.text == full.text[:full.text.find(stop)] and cut.stats["finished"] == [True]
    short = gen.generate(tiny, "Hello!", settings=S(temperature=0, max_new_tokens=3), store=False)
    assert short.stats["new_tokens"] <= 3 and full.text.startswith(short.text)


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(ConfigError, match="Unknown engine 'turbo'"):
        S(engine="turbo")
    assert S.from_dict({"temperature": 0}).engine == "fast"  # stored settings from before engines
