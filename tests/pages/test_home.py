"""The Home page: what the app does, the gallery with one-click import, recent datasets and runs."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from core.data import gallery
from tests.pages.seed import save_reviews, seed_run


def test_home_shows_the_gallery_cards(open_page: Callable[..., AppTest]) -> None:
    at = open_page("home", via_app=True)
    assert not at.exception
    assert at.title[0].value == "Use Case Lab"
    for entry in gallery.list_gallery():
        assert at.button(key=f"gallery_import_{entry.key}").label == "Import"
    assert not any(s.value == "Recent datasets" for s in at.subheader)


def test_recent_datasets_and_runs_are_listed(open_page: Callable[..., AppTest]) -> None:
    dataset = save_reviews()
    seed_run(dataset.id, status="succeeded")
    at = open_page("home", via_app=True)  # the page links need app.py's navigation
    assert not at.exception
    assert list(at.dataframe[0].value["name"]) == ["reviews"]
    assert list(at.dataframe[1].value["status"]) == ["Finished"]
    assert list(at.dataframe[1].value["task"]) == ["Text classification"]
    assert list(at.dataframe[0].value["task"]) == ["Text classification"]
