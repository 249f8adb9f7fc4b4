"""A model's tokenizer read straight from its folder with the ``tokenizers`` library, without transformers.

The llama.cpp engine needs only token ids for a prompt (the chat template applied) and the ids that end
an answer; importing transformers (and torch with it) for that was most of a server's start. The
ids are the ones transformers' fast tokenizer gives: it runs the same ``tokenizer.json`` through the
same library (tests/core/ml/test_light_tokenizer.py compares them). The chat template and the special
tokens come from ``tokenizer_config.json`` (or ``chat_template.jinja``), as transformers reads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.text.jsonl import read_json_object

SPECIAL = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
_HUGE = int(1e30)


def usable(folder: Path) -> bool:
    """Whether the folder has what this tokenizer reads (a ``tokenizer.json``)."""
    return (Path(folder) / "tokenizer.json").is_file()


def _content(value: Any) -> str | None:
    if isinstance(value, dict):  # an AddedToken written out as {"content": ...}
        value = value.get("content")
    return value if isinstance(value, str) else None


class LightTokenizer:
    """The parts of a transformers tokenizer the generation path uses: call, decode, ids, template."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        self._tok = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self._tok.no_padding()
        self._tok.no_truncation()
        config = read_json_object(self.folder / "tokenizer_config.json")
        self.special_tokens_map = {k: v for k in SPECIAL if (v := _content(config.get(k)))}
        if "pad_token" not in self.special_tokens_map and "eos_token" in self.special_tokens_map:
            self.special_tokens_map["pad_token"] = self.special_tokens_map["eos_token"]
        template = config.get("chat_template")
        jinja = self.folder / "chat_template.jinja"
        if jinja.is_file():
            template = jinja.read_text(encoding="utf-8")
        self.chat_template: str | None = template if isinstance(template, str) and template else None
        limit = config.get("model_max_length")
        self.model_max_length = int(limit) if isinstance(limit, int | float) and limit < _HUGE else _HUGE

    def _id(self, name: str) -> int | None:
        token = self.special_tokens_map.get(name)
        return self._tok.token_to_id(token) if token is not None else None

    @property
    def eos_token(self) -> str | None:
        return self.special_tokens_map.get("eos_token")

    @property
    def eos_token_id(self) -> int | None:
        return self._id("eos_token")

    @property
    def pad_token(self) -> str | None:
        return self.special_tokens_map.get("pad_token")

    @property
    def pad_token_id(self) -> int | None:
        return self._id("pad_token")

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        return {"input_ids": self.encode(text, add_special_tokens)}

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=add_special_tokens).ids)

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def get_vocab(self) -> dict[str, int]:
        return self._tok.get_vocab(with_added_tokens=True)

    def __len__(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def __deepcopy__(self, memo: dict[int, Any]) -> LightTokenizer:
        return LightTokenizer(self.folder)  # a tokenizer of its own: counting must not race generation
