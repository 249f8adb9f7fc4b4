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


def test_the_onnx_engine_exports_once_and_writes_the_same_text(tiny: str, home) -> None:
    from core.inference.generation import get_loaded

    auto = gen.generate(tiny, "Once upon a time", mode="prompt", settings=S(**CASES[0]), store=False)
    assert not list(home.glob("models/onnx-decoder/*/decoder.onnx"))  # auto: torch until an export exists
    for values in CASES[:2]:  # greedy: token for token (onnxruntime's float rounding keeps the argmax)
        onnx = gen.generate(tiny, "Once upon a time", mode="prompt", settings=S(**values, engine="onnx"),
                            store=False)
        exact = gen.generate(tiny, "Once upon a time", mode="prompt", settings=S(**values, engine="exact"),
                             store=False)
        assert onnx.outputs == exact.outputs
    assert gen.generate(tiny, "Once upon a time", mode="prompt", settings=S(**CASES[0]),
                        store=False).outputs == auto.outputs  # auto now runs the export
    seeded = [gen.generate(tiny, "Hello", mode="prompt", settings=S(**CASES[2], engine="onnx"), store=False)
              for _ in range(2)]
    assert seeded[0].outputs == seeded[1].outputs and len(seeded[0].outputs) == 3
    exported = list((home / "models" / "onnx-decoder").glob("*/decoder.onnx"))
    assert len(exported) == 1 and get_loaded(tiny).onnx is not None  # one export, kept with the model


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
    assert S.from_dict({"temperature": 0}).engine == "auto"  # stored settings from before engines
