"""Entities highlighted in a text, as HTML built here with every piece of user text escaped."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

PALETTE = ("#FDE68A", "#BFDBFE", "#BBF7D0", "#FBCFE8", "#DDD6FE", "#FED7AA", "#A5F3FC", "#E5E7EB")


def colours(types: Sequence[str]) -> dict[str, str]:
    """A stable colour per entity type (sorted, so the same types always get the same colours)."""
    return {kind: PALETTE[i % len(PALETTE)] for i, kind in enumerate(sorted(set(types)))}


def entity_html(text: str, entities: Sequence[Mapping[str, Any]]) -> str:
    """The text with each entity wrapped in a coloured mark labelled with its type.

    Entities are ``{type, start, end}`` character offsets into `text`; overlapping or out-of-range
    spans are skipped. Every slice of `text` and every type name goes through html.escape.
    """
    palette = colours([str(e["type"]) for e in entities])
    parts: list[str] = []
    cursor = 0
    for entity in sorted(entities, key=lambda e: (int(e["start"]), -int(e["end"]))):
        start, end = int(entity["start"]), int(entity["end"])
        if start < cursor or end > len(text) or start >= end:
            continue
        kind = str(entity["type"])
        parts.append(html.escape(text[cursor:start]))
        parts.append(
            f'<mark dir="auto" style="background:{palette[kind]};padding:0.1em 0.3em;border-radius:0.3em;">'
            f"{html.escape(text[start:end])}"
            f' <span style="font-size:0.7em;font-weight:600;opacity:0.7;">{html.escape(kind)}</span></mark>')
        cursor = end
    parts.append(html.escape(text[cursor:]))
    body = "".join(parts).replace("\n", "<br>")
    # dir="auto": right-to-left text (Arabic, Hebrew) runs the way it is written.
    return f'<div dir="auto" style="line-height:2.2;font-size:1.05em;">{body}</div>'


def legend_html(types: Sequence[str]) -> str:
    """A row of the entity types in their colours."""
    palette = colours(types)
    items = "".join(f'<mark style="background:{palette[k]};padding:0.1em 0.4em;border-radius:0.3em;'
                    f'margin-right:0.5em;">{html.escape(k)}</mark>' for k in sorted(palette))
    return f"<div>{items}</div>"
