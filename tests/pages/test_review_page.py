"""The Review page: a reviewer votes on unlabeled outputs; results show win rates and a CSV."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from core.results import review

EVIL = "<b>bold?</b> **not markdown**"


def _review() -> int:
    return review.create_review("Replies round 1", "run:1", "run:2", [EVIL, "second prompt"],
                                outputs_a=["A one", "A two"], outputs_b=["B one", "B two"], seed=5)


def test_reviewer_votes_through_every_item(open_page: Callable[..., AppTest]) -> None:
    review_id = _review()
    at = open_page("review")
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="review_select").value == review_id
    at.text_input(key="review_reviewer").set_value("ana").run()
    texts = [t.value for t in at.tabs[0].text]  # the Vote tab
    assert any(t in (EVIL, "second prompt") for t in texts)  # the prompt is shown as plain text
    shown = {t for t in texts if t in ("A one", "A two", "B one", "B two")}
    assert len(shown) == 2 and {s[0] for s in shown} == {"A", "B"}  # both outputs...
    assert not any("run:" in t for t in texts)  # ...and no model names
    at.button(key="review_vote_first").click().run()
    at.button(key="review_vote_tie").click().run()
    assert not at.exception, at.exception
    assert any("voted on every item" in s.value for s in at.success)
    result = review.review_result(review_id)
    assert result["votes"] == 2 and result["ties"] == 1 and result["reviewers"] == ["ana"]
    metrics = [m.value for m in at.metric]
    assert "2" in metrics  # the Results tab shows the vote count
    assert at.get("download_button")


def test_review_page_without_reviews(open_page: Callable[..., AppTest]) -> None:
    at = open_page("review")
    assert not at.exception
    assert any("No review yet" in i.value for i in at.info)
