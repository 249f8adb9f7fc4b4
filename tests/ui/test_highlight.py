"""Entity highlighting escapes every piece of user text and marks the spans by offset."""

from __future__ import annotations

from ui.highlight import colours, entity_html, legend_html


def test_entities_are_marked_with_their_type() -> None:
    text = "Anna paid 40 EUR to Acme"
    out = entity_html(text, [{"type": "PER", "start": 0, "end": 4}, {"type": "ORG", "start": 20, "end": 24}])
    assert out.count("<mark") == 2
    assert ">Anna <span" in out and ">PER</span>" in out and " paid 40 EUR to " in out


def test_user_text_and_type_names_are_escaped() -> None:
    text = "<script>alert(1)</script> & Bob"
    out = entity_html(text, [{"type": "<b>X</b>", "start": 28, "end": 31}])
    assert "<script>" not in out and "&lt;script&gt;" in out and "&amp;" in out
    assert "<b>" not in out and "&lt;b&gt;X&lt;/b&gt;" in out


def test_overlapping_and_out_of_range_spans_are_skipped() -> None:
    text = "New York City"
    out = entity_html(text, [{"type": "LOC", "start": 0, "end": 8}, {"type": "LOC", "start": 4, "end": 13},
                             {"type": "LOC", "start": 10, "end": 99}])
    assert out.count("<mark") == 1 and out.endswith(" City</div>")


def test_colours_are_stable_and_the_legend_lists_each_type_once() -> None:
    assert colours(["ORG", "PER"]) == colours(["PER", "ORG", "PER"])
    assert legend_html(["PER", "ORG", "PER"]).count("<mark") == 2


def test_right_to_left_and_cjk_text_keeps_its_direction_and_characters() -> None:
    arabic = "اشترت مريم هاتفا"
    out = entity_html(arabic, [{"type": "PER", "start": 6, "end": 10}])
    assert out.startswith('<div dir="auto"') and '<mark dir="auto"' in out and "مريم" in out
    assert ">上海 <span" in entity_html("张三在上海", [{"type": "LOC", "start": 3, "end": 5}])
