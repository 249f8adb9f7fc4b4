"""The cost of the chat-template budget: transformers' sandboxed render against
``core.tasks.chat_template.render_with`` (the same template under the time and size budget), side
by side in one run on the same conversations.

Run: ``.venv/bin/python bench/chat_template.py [--conversations 2000] [--turns 6]``. Prints
microseconds per render for both and the ratio budgeted / plain.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]

# SmolLM2-style ChatML with a default system prompt (loops, conditions, loop.first)
TEMPLATE = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
            "{{ '<|im_start|>system\nYou are a helpful AI assistant.<|im_end|>\n' }}{% endif %}"
            "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
            "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def main() -> None:
    from transformers.utils.chat_template_utils import render_jinja_template

    from core.tasks.chat_template import render_with

    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=6)
    args = parser.parse_args()
    roles = ("user", "assistant")
    chats = [[{"role": roles[t % 2], "content": f"message {c}.{t} " * 20} for t in range(args.turns)]
             for c in range(args.conversations)]
    render_jinja_template([chats[0]], chat_template=TEMPLATE)  # compile once, outside the timing
    render_with(TEMPLATE, chats[0])
    start = time.perf_counter()
    plain = [render_jinja_template([c], chat_template=TEMPLATE)[0][0] for c in chats]
    plain_us = (time.perf_counter() - start) / len(chats) * 1e6
    start = time.perf_counter()
    budgeted = [render_with(TEMPLATE, c).text for c in chats]
    budget_us = (time.perf_counter() - start) / len(chats) * 1e6
    assert plain == budgeted, "the two renders disagree"
    print(f"{len(chats)} conversations of {args.turns} turns: transformers {plain_us:.0f} us/render, "
          f"budgeted {budget_us:.0f} us/render, ratio {budget_us / plain_us:.2f}")


if __name__ == "__main__":
    main()
