"""Whether a prompt and the tokens asked for fit a model's context, decided before the model sees it.

A prompt far beyond the context is refused from its length in characters alone (no token is
longer than the vocabulary's longest entry, so ``characters / longest`` tokens at least), so a
10 MB prompt costs neither time nor memory; one near the limit is counted exactly, after its chat
template. ``PromptLimits`` keeps its own copy of the tokenizer: counting must not race the engine,
which uses the shared tokenizer while it generates.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError

UNKNOWN_CONTEXT = 2048  # a model that does not say its context length
_HUGE = 1_000_000  # tokenizers without a limit report model_max_length as 1e30


class PromptTooLong(ConfigError):
    """A prompt that, with the tokens asked for, does not fit the model's context."""


@dataclass
class PromptLimits:
    """A model's context in tokens and how to count a stored prompt (``{"text"}`` or ``{"messages"}``)."""

    context: int
    longest_token: int  # characters of the longest vocabulary entry
    tokenizer: Any
    has_template: bool

    def characters(self, prompt: Mapping[str, Any]) -> int:
        if "messages" in prompt:
            return sum(len(str(m.get("content", ""))) + len(str(m.get("role", "")))
                       for m in prompt["messages"])
        return len(str(prompt.get("text", "")))

    def count(self, prompt: Mapping[str, Any]) -> int:
        """The prompt's tokens as the engine will see them (the chat template applied)."""
        tok = self.tokenizer
        if "messages" in prompt:
            if self.has_template:
                from core.tasks.chat_template import render_chat

                text = render_chat(tok, list(prompt["messages"]), add_generation_prompt=True).text
                return len(tok(text, add_special_tokens=False)["input_ids"])
            text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in prompt["messages"])
            return len(tok(text + "Assistant:")["input_ids"])
        return len(tok(str(prompt["text"]))["input_ids"])

    def check(self, prompt: Mapping[str, Any], max_new_tokens: int | None, default_new_tokens: int) -> int:
        """The new tokens to generate: ``max_new_tokens`` when it fits, else PromptTooLong with the numbers.

        Without ``max_new_tokens`` the default shrinks to what the context leaves (OpenAI's way)."""
        asked = max_new_tokens or 0
        at_least = -(-self.characters(prompt) // max(1, self.longest_token))
        if at_least + asked >= self.context:  # certainly too long: refused without tokenizing
            raise self._refusal(f"at least {at_least:,}", asked)
        tokens = self.count(prompt)
        if tokens + asked > self.context or tokens >= self.context:
            raise self._refusal(f"{tokens:,}", asked)
        return max_new_tokens if max_new_tokens else min(default_new_tokens, self.context - tokens)

    def _refusal(self, prompt_tokens: str, asked: int) -> PromptTooLong:
        wanted = f" plus the {asked:,} new tokens asked for (max_tokens)" if asked else ""
        return PromptTooLong(f"This model's context is {self.context:,} tokens, but the prompt has "
                             f"{prompt_tokens} tokens{wanted}; shorten the prompt"
                             + (" or lower max_tokens." if asked else "."))


def limits_of(tokenizer: Any, config: Any) -> PromptLimits:
    """The limits of a loaded model from its tokenizer and its config (max_position_embeddings)."""
    context = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    tok_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_limit, int) and 0 < tok_limit < _HUGE:
        context = min(context, tok_limit) if context else tok_limit
    vocab = tokenizer.get_vocab()
    longest = max((len(piece) for piece in vocab), default=1)
    return PromptLimits(context=int(context or UNKNOWN_CONTEXT), longest_token=max(1, longest),
                        tokenizer=copy.deepcopy(tokenizer),
                        has_template=bool(getattr(tokenizer, "chat_template", None)))


def prompt_limits(model_ref: str) -> PromptLimits:
    """The limits of a model in the shared cache (loaded now if it is not yet)."""
    from core.inference.generation import get_loaded

    loaded = get_loaded(model_ref)
    return limits_of(loaded.tokenizer, loaded.config)  # config.json: the weights stay unloaded
