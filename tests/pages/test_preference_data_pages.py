"""Preference data on the pages: the Review page makes a dataset from the votes (editors only), the
Playground saves a better answer and a thumbs pair, the Datasets page previews a preference version."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from core.data.datasets import list_datasets
from core.data.preferences import PreferencePair, is_preference, load_pairs, save_pairs
from core.inference import generation
from core.results import review
from core.store import corrections
from tests.core.results.test_judge import endpoint  # noqa: F401 - the fake judge endpoint fixture
from ui import state

ROOT = Path(__file__).resolve().parents[2]
EVIL = "<b>bold?</b> **not markdown**"


def _as(page: str, role: str, query: dict[str, str] | None = None) -> AppTest:
    st_config.set_option("runner.enforceSerializableSessionState", False)
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=90)
    at.session_state[state.ACCESS_IDENTITY] = {"email": f"{role}@example.com", "role": role,
                                               "signed_in": True}
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    return at


def _voted_review() -> int:
    review_id = review.create_review("Replies round 1", "base", "other", [EVIL, "second prompt", "third"],
                                     outputs_a=["A one", "A two", "A three"],
                                     outputs_b=["B one", "B two", "B three"], seed=5)
    while (item := review.next_item_for("ana", review_id)) is not None:
        review.vote(item.item_id, "ana", "tie" if item.prompt == "third" else "a")
    return review_id


def test_the_review_page_makes_preference_data_from_the_votes(home: Path) -> None:
    review_id = _voted_review()
    at = _as("review", "editor")
    assert not at.exception, at.exception
    at.button(key=state.PREF_FROM_VOTES).click().run()
    assert not at.exception, at.exception
    assert any("2 preference pairs" in s.value and "1 ties left out" in s.value for s in at.success)
    info = next(d for d in list_datasets() if is_preference(d))
    assert info.created_by == "editor@example.com"
    pairs = {p.prompt_text: p for p in load_pairs(info.id)}
    assert pairs[EVIL].chosen == "A one" and pairs[EVIL].meta["review_id"] == review_id
    assert not [b for b in at.button if b.key == state.PREF_FROM_JUDGE]  # no judge set: no such button


def test_a_reviewer_votes_but_cannot_make_datasets(home: Path) -> None:
    _voted_review()
    at = _as("review", "reviewer")
    assert not at.exception, at.exception
    assert not [b for b in at.button if b.key == state.PREF_FROM_VOTES]
    assert any("cannot make datasets from the votes" in c.value for c in at.caption)


def _stored_chat(outputs: list[str]) -> int:
    source = generation.ModelSource(ref="smollm2-135m-instruct", path=Path("."))
    result = SimpleNamespace(new_tokens=3, seconds=0.1, device="cpu", prompt_tokens=5, outputs=outputs,
                             time_to_first_token=0.01, tokens_per_second=30.0)
    messages = {"messages": [{"role": "system", "content": "Be brief."},
                             {"role": "user", "content": "Capital of France?"}]}
    record = generation._save(source, "chat", messages, generation.GenerationSettings(seed=1), result,
                              store=True)
    assert record.id is not None
    return record.id


def test_a_reviewer_corrects_an_answer_and_gives_thumbs_in_the_playground(home: Path) -> None:
    generation_id = _stored_chat(["Lyon.", "Paris."])
    at = _as("playground", "reviewer", {"playground_tab": "Generate text"})
    at.session_state["playground_gen_last"] = [("SmolLM2", ["Lyon.", "Paris."], generation_id)]
    at.run()
    assert not at.exception, at.exception
    at.text_area(key=f"{state.PREF_BETTER_PREFIX}{generation_id}").set_value("Paris is the capital.").run()
    at.button(key=state.PREF_SAVE_BETTER).click().run()
    assert not at.exception, at.exception
    assert any("your answer is preferred" in s.value for s in at.success)
    at.selectbox(key=state.PREF_THUMB_UP).set_value(1).run()
    at.selectbox(key=state.PREF_THUMB_DOWN).set_value(0).run()
    at.button(key=state.PREF_SAVE_THUMBS).click().run()
    assert not at.exception, at.exception
    rows = corrections.list_corrections()
    assert [(r.kind, r.chosen, r.rejected) for r in rows] == [("rewrite", "Paris is the capital.", "Lyon."),
                                                              ("thumbs", "Paris.", "Lyon.")]
    assert rows[0].created_by == "reviewer@example.com" and rows[0].place == "playground"
    assert '"Be brief."' in rows[0].prompt and rows[0].model_ref == "smollm2-135m-instruct"


def test_the_datasets_page_previews_pairs_as_text_with_their_source(
        open_page: Callable[..., AppTest]) -> None:
    pairs = [PreferencePair.of(EVIL if i == 0 else f"Question {i}?", f"Good answer {i}", f"Bad answer {i}")
             for i in range(30)]
    info = save_pairs(pairs, name="Votes", source={"source": "review", "review_id": 4, "ties_left_out": 2})
    at = open_page("datasets")
    assert not at.exception, at.exception
    at.selectbox(key=state.DATASETS_LIST_SELECT).set_value(info.id).run()
    assert not at.exception, at.exception
    assert any("the people's votes in review #4" in m.value.replace("\\", "") for m in at.markdown)
    assert any("2 tied (left out); 30 pairs saved." in c.value.replace("\\", "") for c in at.caption)
    shown = next(d.value for d in at.dataframe if list(d.value.columns) == ["prompt", "chosen", "rejected",
                                                                           "source"])
    train = [p.prompt_text for p in load_pairs(info.id, "train")]
    assert list(shown["prompt"]) == train[: len(shown)] and set(shown["source"]) == {"review"}
    assert shown["chosen"].str.startswith("Good answer").all()


def test_a_better_answer_to_one_of_the_worst_answers_on_the_evaluation_page(
        open_page: Callable[..., AppTest]) -> None:
    from tests.pages.test_answer_quality_page import _causal_run

    run_id = _causal_run()
    at = open_page("evaluation", query={"run": str(run_id)})
    assert not at.exception, at.exception
    at.selectbox(key=state.PREF_EVAL_PICK).set_value(3).run()  # "Blue." answered "Red."
    box = at.text_area(key=f"{state.PREF_EVAL_BETTER_PREFIX}3")
    assert box.value == "Blue."  # it starts as the reference
    box.set_value("Blue, like the sky.").run()
    at.button(key=state.PREF_EVAL_SAVE).click().run()
    assert not at.exception, at.exception
    row = corrections.list_corrections(run_id=run_id)[0]
    assert (row.kind, row.chosen, row.rejected, row.place) == ("rewrite", "Blue, like the sky.", "Red.",
                                                               "evaluation")
    assert '"question 3"' in row.prompt


def test_the_judges_verdicts_make_their_own_dataset_with_its_agreement(
        home: Path, endpoint: str) -> None:  # noqa: F811 - the fixture imported above
    review_id = review.create_review("Judged", "base", "other", ["one", "two", "three", "four"],
                                     outputs_a=["A longer one", "A longer two", "A", "A"],
                                     outputs_b=["B", "B", "B much longer", "B"], seed=1)
    while (item := review.next_item_for("ana", review_id)) is not None:  # ana prefers A everywhere
        review.vote(item.item_id, "ana", "first" if item.first.startswith("A") else "second")
    at = _as("review", "owner")
    at.button(key=state.PREF_FROM_JUDGE).click().run()
    assert not at.exception, at.exception
    # the judge (a fake endpoint) prefers the longer answer: A twice, B once, a tie on "four"
    assert any("3 preference pairs" in s.value and "1 ties left out" in s.value for s in at.success)
    assert any("agreed with the people's majority on 2 of 3 items" in c.value for c in at.caption)
    info = next(d for d in list_datasets() if is_preference(d))
    assert info.info["preference"]["source"] == "judge"
    assert {p.meta["source"] for p in load_pairs(info.id)} == {"judge"}
    at.run()  # shown beside the votes from now on
    captions = [c.value.replace("\\", "") for c in at.caption]
    assert any("Judge (Judged (judge) v1)" in c and "2 of 3" in c for c in captions)
