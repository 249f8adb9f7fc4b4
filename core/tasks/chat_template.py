"""Chat templates rendered under a time and size budget, with a plain fallback and a sentence.

A model folder (or a Hub model) ships its chat template as Jinja code. Jinja's sandbox stops code
execution but not work: nested loops, ``'A' * 3000000000``, a string doubled thirty times. This
renders in the same environment transformers uses (trim_blocks, lstrip_blocks, loopcontrols,
``tojson``, ``raise_exception``, ``strftime_now``, ``namespace``), plus a budget:

- time: the compiled template checks a deadline at the start of every block it runs (each pass of
  a loop, each branch, each macro call), so no template loop outlives ``seconds`` (the helpers it
  calls work on values the size rules bound);
- size: ``*``, ``+``, ``%``, ``**``, ``~``, calls, filters and every captured block are checked
  before or right after they build a value; no single value passes ``max_chars`` and the values
  built in one render add up to at most ``SPENT_FACTOR`` times that.

A template that breaks the budget (or fails) falls back to a plain ChatML transcript, and the
result carries one sentence saying so; a broken template is remembered, so the next render falls
back at once instead of spending the budget again.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SECONDS = 2.0
MIN_CHARS = 1_000_000  # the largest value a render may build, at least; more for long conversations
SPENT_FACTOR = 16  # all values built in one render, as a multiple of the largest
MAX_INT_ARGUMENT = 1_000_000  # widths, counts and repeats handed to calls and filters
_WIDE_FORMAT = re.compile(r"\d{7,}")  # a format width of a million characters or more
_broken: dict[str, str] = {}  # template source -> why it was refused (this process)
_broken_lock = threading.Lock()


class TemplateBudgetError(Exception):
    """A template that took too long or built too large a value."""


@dataclass(frozen=True)
class Rendered:
    """A rendered conversation; ``problem`` is one sentence when the model's template was not used."""

    text: str
    problem: str | None = None


class _Budget(threading.local):
    deadline: float = 0.0
    max_chars: int = MIN_CHARS
    spent: int = 0
    active: bool = False


_budget = _Budget()


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple | dict) else 0


def _spend(value: Any) -> Any:
    size = _size(value)
    if size > _budget.max_chars:
        raise TemplateBudgetError(f"it built a value of {size:,} characters or items")
    _budget.spent += size
    if _budget.spent > _budget.max_chars * SPENT_FACTOR:
        raise TemplateBudgetError(f"it built more than {_budget.max_chars * SPENT_FACTOR:,} characters")
    return value


def _check_arguments(args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT_ARGUMENT:
            raise TemplateBudgetError(f"it passed the number {value:,} to a function")


def _make_environment() -> Any:
    import jinja2
    import jinja2.ext
    from jinja2.compiler import CodeGenerator
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from jinja2.utils import Namespace

    class Generator(CodeGenerator):
        def blockvisit(self, nodes: Any, frame: Any) -> None:  # every loop pass, branch and macro call
            self.writeline("environment.tick()")
            super().blockvisit(nodes, frame)

        def visit_Concat(self, node: Any, frame: Any) -> None:  # '~' builds a checked string
            self.write("environment.checked(")
            super().visit_Concat(node, frame)
            self.write(")")

    class Generation(jinja2.ext.Extension):
        """``{% generation %}`` blocks (assistant masks in transformers) render their body as is."""

        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller: Callable[[], str]) -> str:
            return caller()

    class SafeNamespace(Namespace):
        def __setitem__(self, name: str, value: Any) -> None:
            if isinstance(name, str) and name.startswith("_"):
                raise jinja2.exceptions.SecurityError("a template cannot set underscore names")
            super().__setitem__(name, value)

    class Bounded(ImmutableSandboxedEnvironment):
        code_generator_class = Generator
        intercepted_binops = frozenset({"*", "+", "%", "**"})

        def wrap_str_format(self, value: Any) -> Any:
            receiver = getattr(value, "__self__", None)
            if isinstance(receiver, str) and _WIDE_FORMAT.search(receiver):
                raise TemplateBudgetError("it formatted with a huge width")
            return super().wrap_str_format(value)

        def tick(self) -> None:
            if time.monotonic() > _budget.deadline:
                raise TemplateBudgetError("it ran past its time budget")

        def checked(self, value: Any) -> Any:
            return _spend(value)

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "*":
                count = right if isinstance(right, int) else left if isinstance(left, int) else 1
                if _size(left) * max(1, count) > _budget.max_chars or \
                        _size(right) * max(1, count) > _budget.max_chars:
                    raise TemplateBudgetError("it multiplied a text or list too many times")
            elif operator == "**" and isinstance(left, int) and isinstance(right, int):
                if abs(left) > 1 and right > 64:
                    raise TemplateBudgetError("it raised a number to a huge power")
            elif operator == "%" and isinstance(left, str) and _WIDE_FORMAT.search(left):
                raise TemplateBudgetError("it formatted with a huge width")
            elif operator == "+" and _size(left) + _size(right) > _budget.max_chars:
                raise TemplateBudgetError("it joined texts that are too long")
            return _spend(super().call_binop(context, operator, left, right))

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
            _check_arguments(args, kwargs)
            return _spend(super().call(__context, __obj, *args, **kwargs))

    def checked_filter(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            _check_arguments(args[1:], kwargs)
            first = args[0] if args else None
            if isinstance(first, str) and fn.__name__ == "do_format" and _WIDE_FORMAT.search(first):
                raise TemplateBudgetError("it formatted with a huge width")
            return _spend(fn(*args, **kwargs))

        return run

    def checked_join(pieces: Any) -> str:
        parts = list(pieces)
        if sum(len(p) for p in parts if isinstance(p, str)) > _budget.max_chars:
            raise TemplateBudgetError("its output grew too long")
        return _spend("".join(parts))

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    env = Bounded(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, jinja2.ext.loopcontrols])
    env.concat = checked_join  # type: ignore[method-assign]
    env.filters["tojson"] = tojson
    env.filters = {name: checked_filter(fn) for name, fn in env.filters.items()}
    env.globals.pop("lipsum", None)
    env.globals.update(raise_exception=raise_exception, namespace=SafeNamespace, dict=dict,
                       strftime_now=lambda fmt: datetime.now().strftime(fmt))
    return env


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    return _make_environment()


@functools.lru_cache(maxsize=16)
def _compiled(source: str) -> Any:
    return _environment().from_string(source)


def render_template(source: str, messages: Sequence[Mapping[str, Any]], *,
                    add_generation_prompt: bool = False, seconds: float | None = None,
                    max_chars: int | None = None,
                    **variables: Any) -> str:
    """Render a chat template under the budget; TemplateBudgetError when it breaks it (any Jinja
    error passes through)."""
    plain = [dict(m) for m in messages]
    given = sum(len(str(m.get("content", ""))) for m in plain)
    limit = max_chars or max(MIN_CHARS, 4 * given)
    if _budget.active:  # a template rendering a template: one budget for both
        return "".join(_compiled(source).generate(messages=plain, add_generation_prompt=add_generation_prompt,
                                                  **variables))
    _budget.deadline, _budget.max_chars, _budget.spent, _budget.active = \
        time.monotonic() + (seconds or SECONDS), limit, 0, True
    try:
        template = _compiled(source)
        out: list[str] = []
        size = 0
        pieces = template.generate(messages=plain, add_generation_prompt=add_generation_prompt, **variables)
        for piece in pieces:
            size += len(piece)
            if size > limit:
                raise TemplateBudgetError("its output grew too long")
            out.append(piece)
        return "".join(out)
    except RecursionError as exc:
        raise TemplateBudgetError("it recursed too deeply") from exc
    except MemoryError as exc:
        raise TemplateBudgetError("it ran out of memory") from exc
    finally:
        _budget.active = False


def chatml(messages: Sequence[Mapping[str, Any]], add_generation_prompt: bool = False) -> str:
    """The plain ChatML transcript used when a model's own template cannot be used."""
    text = "".join(f"<|im_start|>{m.get('role', '')}\n{m.get('content', '')}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def special_tokens(tokenizer: Any) -> dict[str, Any]:
    """The variables transformers hands a template: bos_token, eos_token and the other special tokens."""
    found = getattr(tokenizer, "special_tokens_map", None) or {}
    return {k: v for k, v in found.items() if isinstance(v, str)}


def render_with(source: str | None, messages: Sequence[Mapping[str, Any]], *,
                add_generation_prompt: bool = False, seconds: float | None = None,
                **variables: Any) -> Rendered:
    """The model's template rendered under the budget, or the ChatML fallback with the sentence why."""
    seconds = seconds or SECONDS
    if not source:
        return Rendered(chatml(messages, add_generation_prompt))
    with _broken_lock:
        known = _broken.get(source)
    if known is None:
        try:
            return Rendered(render_template(source, messages, add_generation_prompt=add_generation_prompt,
                                            seconds=seconds, **variables))
        except TemplateBudgetError as exc:
            known = (f"The model's chat template was stopped because {exc} (a template may use at most "
                     f"{seconds:g} s and {MIN_CHARS:,} characters per value); the plain ChatML format is "
                     "used instead.")
        except Exception as exc:  # noqa: BLE001 - a template's own refusal (TemplateError) is re-raised below
            from jinja2.exceptions import TemplateError

            if isinstance(exc, TemplateError):
                raise
            known = (f"The model's chat template failed ({type(exc).__name__}: {str(exc)[:120]}); the plain "
                     "ChatML format is used instead.")
        with _broken_lock:  # remembered: the next conversation falls back at once
            _broken[source] = known
    return Rendered(chatml(messages, add_generation_prompt), known)


def render_chat(tokenizer: Any, messages: Sequence[Mapping[str, Any]], *, add_generation_prompt: bool = False,
                seconds: float | None = None) -> Rendered:
    """A tokenizer's chat template (``tokenizer.chat_template``) rendered under the budget."""
    return render_with(getattr(tokenizer, "chat_template", None), messages,
                       add_generation_prompt=add_generation_prompt, seconds=seconds,
                       **special_tokens(tokenizer))
