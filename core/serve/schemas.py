"""Request bodies of the OpenAI-compatible endpoints (fields OpenAI defines; others are ignored)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StreamOptions(_Body):
    include_usage: bool = False


class Sampling(_Body):
    """The sampling fields chat and text completions share."""

    model: str | None = None
    max_tokens: int | None = Field(default=None, description="new tokens at most (default 256)")
    max_completion_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    n: int = 1
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None


class ChatMessage(_Body):
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(Sampling):
    messages: list[ChatMessage]


class CompletionRequest(Sampling):
    prompt: str | list[str]


class TextsRequest(_Body):
    """/v1/classify, /v1/entities and /v1/embeddings: one text or a list of texts."""

    model: str | None = None
    input: str | list[str]
    encoding_format: str = "float"

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)
