"""The Models page lists the catalogue with its facts and offers prepare, probe and add actions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.models import catalog


def test_models_page_lists_the_bundled_models(open_page: Callable[..., AppTest]) -> None:
    at = open_page("models", via_app=True)
    assert not at.exception
    table = at.dataframe[0].value
    assert {catalog.MINILM_KEY, catalog.SMOLLM2_KEY} <= set(table["key"])
    assert at.selectbox(key="models_select").value == catalog.MINILM_KEY
    for key in ("models_prepare", "models_probe", "models_add_local", "models_add_hub"):
        assert at.button(key=key) is not None
    # MiniLM ships ready, so there is nothing to prepare.
    assert at.button(key="models_prepare").disabled


def test_adding_a_folder_with_pickle_weights_shows_a_sentence(open_page: Callable[..., AppTest],
                                                             tmp_path: Path) -> None:
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "pytorch_model.bin").write_bytes(b"not really")
    at = open_page("models")
    at.text_input(key="models_local_path").set_value(str(folder)).run()
    at.button(key="models_add_local").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "pickle" in at.error[0].value.lower()


def test_empty_folder_field_asks_for_a_path(open_page: Callable[..., AppTest]) -> None:
    at = open_page("models")
    at.button(key="models_add_local").click().run()
    assert not at.exception
    assert any("Type the path" in w.value for w in at.warning)
    assert len(catalog.list_models()) == len(catalog.BUILTIN_MODELS)


def test_cost_for_the_current_dataset_is_shown_up_front(open_page: Callable[..., AppTest]) -> None:
    from tests.pages.seed import save_reviews

    dataset = save_reviews()
    at = open_page("models")
    assert not at.exception
    cards = {m.label: m.value for m in at.metric}
    assert "Speed measured" not in cards  # no date as the big figure
    speed = cards["Training speed here"]
    assert speed.endswith("samples/s") and len(speed) <= 18  # longer values are cut off in the card
    cost = [i.value for i in at.info if i.value.startswith("About ")]
    assert cost and f"for a quick-look run on {dataset.label} (" in cost[0] and "training rows" in cost[0]
    if speed.startswith("≈"):  # nothing measured yet: the figure must not claim to be
        assert cost[0].endswith("from a built-in speed until measured.")
    table = at.dataframe[0].value
    assert list(table.columns[:3]) == ["model", "ready", "speed here"]  # not off the right edge


def test_the_languages_a_model_reads_are_measured_not_declared(open_page: Callable[..., AppTest]) -> None:
    at = open_page("models")
    assert not at.exception
    table = at.dataframe[0].value
    minilm = table[table["key"] == catalog.MINILM_KEY].iloc[0]
    assert minilm["languages (measured)"].startswith("11 of 27 in words")
    captions = [c.value for c in at.caption]
    assert any(c.startswith("Measured on 27 languages: reads English") for c in captions)
    languages = next(d.value for d in at.dataframe if "reads it" in d.value)
    chinese = languages[languages["language"] == "Chinese (simplified)"].iloc[0]
    assert chinese["reads it"] == "cannot read" and chinese["unknown tokens"] == "66.0%"


def test_the_picked_model_stays_picked_after_prepare_and_a_page_change(
        open_page: Callable[..., AppTest], monkeypatch) -> None:
    """Issue 20, item 13: after Prepare the picker jumped back to MiniLM and "Measure speed" then
    measured MiniLM."""
    # SmolLM2 not yet converted in this home (earlier tests of a session may point at a converted copy)
    monkeypatch.delenv("UCLAB_SMOLLM2_DIR", raising=False)
    prepared, probed = [], []
    real_path = catalog.model_path

    def model_path(key: str, progress=None) -> Path:  # the page's Prepare passes a progress callback
        return prepared.append(key) or Path(".") if progress else real_path(key)

    monkeypatch.setattr(catalog, "model_path", model_path)
    monkeypatch.setattr(catalog, "probe_model", lambda key: probed.append(key) or catalog.get_model(key))
    at = open_page("models", via_app=True)
    at.selectbox(key="models_select").set_value(catalog.SMOLLM2_KEY).run()
    at.switch_page("pages/datasets.py").run()
    at.switch_page("pages/models.py").run()
    assert at.selectbox(key="models_select").value == catalog.SMOLLM2_KEY
    at = open_page("models")
    at.selectbox(key="models_select").set_value(catalog.SMOLLM2_KEY).run()
    at.button(key="models_prepare").click().run()
    assert prepared == [catalog.SMOLLM2_KEY]
    assert at.selectbox(key="models_select").value == catalog.SMOLLM2_KEY
    at.button(key="models_probe").click().run()
    assert probed == [catalog.SMOLLM2_KEY] and not at.exception


def test_cost_line_uses_the_dataset_the_user_picks(open_page: Callable[..., AppTest]) -> None:
    from tests.pages.seed import save_reviews

    older, newer = save_reviews("older reviews"), save_reviews("newer reviews")
    at = open_page("models")
    picker = at.selectbox(key="models_dataset")
    assert picker.value == newer.id  # the newest by default, and the sentence names it

    def cost() -> str:
        return next(i.value for i in at.info if i.value.startswith("About "))

    assert f"on {newer.label} (" in cost()
    picker.set_value(older.id).run()
    assert not at.exception and f"on {older.label} (" in cost()


def test_an_unmeasured_speed_shows_the_built_in_estimate_labelled(open_page: Callable[..., AppTest]) -> None:
    from core.store import probes

    at = open_page("models")
    speeds = probes.latest_speeds()
    table = at.dataframe[0].value
    for key in (catalog.MINILM_KEY, catalog.SMOLLM2_KEY):
        shown = table[table["key"] == key].iloc[0]["speed here"]
        if key not in speeds:
            assert shown.startswith("about ") and "not measured here" in shown and "samples/s" in shown
    card = {m.label: m.value for m in at.metric}["Training speed here"]
    assert card != "not measured"


def test_cost_line_warns_when_the_model_cannot_read_the_dataset(open_page: Callable[..., AppTest]) -> None:
    """MiniLM's vocabulary has no entry for most Chinese characters: the cost of training it on a
    Chinese dataset comes with the sentence that it would learn little, and who reads it instead."""
    from core.data.gallery import import_gallery
    from tests.pages.seed import save_reviews

    save_reviews()
    chinese = import_gallery("chinese-topics")
    at = open_page("models")
    at.selectbox(key="models_dataset").set_value(chinese.id).run()
    assert not at.exception
    assert any(i.value.startswith("About ") and chinese.label in i.value for i in at.info)
    warning = [w.value for w in at.warning if "unknown" in w.value]
    assert len(warning) == 1 and "MiniLM" in warning[0] and "SmolLM2" in warning[0]
    at.selectbox(key="models_dataset").set_value(chinese.id - 1).run()  # the English reviews
    assert not [w.value for w in at.warning if "unknown" in w.value]
