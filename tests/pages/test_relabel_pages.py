"""Fixing labels through the pages: the Evaluation page's "Check the labels", the Datasets page's
lineage with "Train again", and the Compare page's note on versions (AppTest, no training)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from core.data import datasets, relabel
from core.store import runs
from core.training import service as training
from tests.pages.seed import NoLauncher, save_labelled_reviews, seed_predicted_run
from ui import state

ROOT = Path(__file__).resolve().parents[2]
FLIP = {"fresh": "rotten", "rotten": "fresh"}


def _as(page: str, role: str, email: str, query: dict[str, str]) -> AppTest:
    st_config.set_option("runner.enforceSerializableSessionState", False)
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=30)
    at.session_state[state.ACCESS_IDENTITY] = {"email": email, "role": role, "signed_in": True}
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    return at


def _run_with_two_mistakes() -> tuple[datasets.DatasetInfo, int, list[str], list[int]]:
    v1 = save_labelled_reviews()
    truth = list(datasets.load_dataset_frame(v1.id, "test")["label"])
    predicted = list(truth)
    predicted[0], predicted[3] = FLIP[truth[0]], FLIP[truth[3]]
    run = seed_predicted_run(v1.id, predicted, name="first")
    frame = datasets.load_dataset_frame(v1.id)
    return v1, run.id, truth, [i + 1 for i in frame.index[frame["split"] == "test"]]


def test_a_person_checks_labels_and_an_editor_makes_the_next_version(
        open_page: Callable[..., AppTest]) -> None:
    v1, run_id, truth, rows = _run_with_two_mistakes()
    at = open_page("evaluation", {"run": str(run_id)})
    assert not at.exception
    assert any(h.value == "Check the labels" for h in at.subheader)
    table = at.dataframe[-1].value
    assert table["row"].tolist()[:2] == [str(rows[0]), str(rows[3])]  # the wrong ones first
    assert table["stored label"].tolist()[:2] == [truth[0], truth[3]]
    suffix = f"{run_id}_test"
    at.selectbox(key=f"{state.EVALUATION_CHECK_ROW}{suffix}").set_value(rows[0]).run()
    at.radio(key=f"{state.EVALUATION_CHECK_VERDICT}{suffix}").set_value("wrong").run()
    label_box = at.selectbox(key=f"{state.EVALUATION_CHECK_LABEL}{suffix}_{rows[0]}")
    assert label_box.value == FLIP[truth[0]]  # the model's answer is offered first
    at.text_input(key=f"{state.EVALUATION_CHECK_REASON}{suffix}").input("<b>says so</b>").run()
    at.button(key=state.EVALUATION_CHECK_SAVE).click().run()
    assert not at.exception and not at.error
    assert any(f"row {rows[0]}'s label is wrong" in s.value for s in at.success)
    assert at.dataframe[-1].value["checks"].tolist()[0] == f"local user: should be {FLIP[truth[0]]}"
    at.run()  # the form has moved on to the next row to check
    assert at.selectbox(key=f"{state.EVALUATION_CHECK_ROW}{suffix}").value == rows[3]
    make = at.button(key=state.EVALUATION_CHECK_MAKE)
    assert make.label == "Make version 2 with 1 fixed label"
    make.click().run()
    assert not at.exception and not at.error
    v2 = max(datasets.list_datasets(), key=lambda d: d.id)
    assert (v2.label, v2.info["lineage"]["from_run"]) == ("reviews v2", run_id)
    assert v2.info["lineage"]["changes"][0]["why"] == "<b>says so</b>"


def test_a_reviewer_checks_but_cannot_make_the_version(home: Path) -> None:
    v1, run_id, truth, rows = _run_with_two_mistakes()
    relabel.record_check(v1.id, rows[3], FLIP[truth[3]], reviewer="grace@example.com")
    at = _as("evaluation", "reviewer", "linus@example.com", {"run": str(run_id)})
    assert not at.exception
    assert at.button(key=state.EVALUATION_CHECK_SAVE).label == "Save check"
    assert not [b for b in at.button if b.key == state.EVALUATION_CHECK_MAKE]
    assert any("cannot make a new dataset version" in c.value for c in at.caption)
    # Linus disagrees with Grace: the conflict is shown, not merged.
    suffix = f"{run_id}_test"
    at.selectbox(key=f"{state.EVALUATION_CHECK_ROW}{suffix}").set_value(rows[3]).run()
    at.radio(key=f"{state.EVALUATION_CHECK_VERDICT}{suffix}").set_value("right").run()
    at.button(key=state.EVALUATION_CHECK_SAVE).click().run()
    assert not at.exception
    assert any("conflicting checks" in w.value.replace("\\", "") for w in at.warning)
    conflicts = at.dataframe[-1].value
    assert conflicts["checks"].tolist() == [f"grace@example.com: should be {FLIP[truth[3]]}; "
                                            "linus@example.com: right"]


def test_the_datasets_page_shows_the_lineage_and_trains_again(home: Path, launcher: NoLauncher) -> None:
    v1, run_id, truth, rows = _run_with_two_mistakes()
    relabel.record_check(v1.id, rows[0], FLIP[truth[0]], reviewer="ada@example.com", reason="<i>typo</i>")
    v2 = relabel.make_fixed_version(v1.id, created_by="ada@example.com", from_run=run_id)
    at = _as("datasets", "editor", "grace@example.com", {})
    assert not at.exception
    assert at.selectbox(key=state.DATASETS_LIST_SELECT).value == v2.id
    assert any(f"v1 → v2: 1 label fixed by 1 person (checked on run {run_id})" in m.value.replace("\\", "")
               for m in at.markdown)
    changes = at.dataframe[-1].value
    assert changes.to_dict("records") == [{"row": str(rows[0]), "split": "test", "old label": truth[0],
                                           "new label": FLIP[truth[0]], "by": "ada@example.com",
                                           "why": "<i>typo</i>"}]
    at.button(key=state.DATASETS_TRAIN_AGAIN).click().run()
    assert not at.exception and not at.error
    again = runs.get_run(max(launcher.launched))
    assert (again.dataset_id, again.config["max_steps"], again.created_by) == (v2.id, 7, "grace@example.com")
    reviewer = _as("datasets", "reviewer", "linus@example.com", {})
    assert not [b for b in reviewer.button if b.key == state.DATASETS_TRAIN_AGAIN]


def test_compare_says_the_versions_and_scores_both_runs_on_the_same_rows(
        open_page: Callable[..., AppTest]) -> None:
    v1, run_id, truth, rows = _run_with_two_mistakes()
    relabel.record_check(v1.id, rows[0], FLIP[truth[0]], reviewer="ada")
    v2 = relabel.make_fixed_version(v1.id, from_run=run_id)
    new = seed_predicted_run(v2.id, list(datasets.load_dataset_frame(v2.id, "test")["label"]))
    at = open_page("compare", {"runs": f"{run_id},{new.id}"})
    assert not at.exception
    assert any(f"Run {run_id} trained on reviews v1, run {new.id} on v2 (1 label fixed)."
               in i.value.replace("\\", "") for i in at.info)
    said = [s.value.replace("\\", "") for s in [*at.info, *at.success] if "On the same" in s.value]
    assert len(said) == 1 and f"run {new.id} is" in said[0] and "labels of reviews v2" in said[0]
    assert not [w for w in at.warning if "different datasets" in w.value]
    table = next(d.value for d in at.dataframe if "B − A" in d.value.columns)
    # Run A's mistake on the fixed row is right by v2's labels; it stays wrong on one other row.
    assert table[["rows", "run A", "run B", "B − A"]].to_dict("records") == [
        {"rows": "20 test", "run A": "95.00 %", "run B": "100.00 %", "B − A": "+5.00 pts"}]


def test_a_tagger_run_gets_its_tags_checked_one_per_token(open_page: Callable[..., AppTest]) -> None:
    import pandas as pd

    from core.results.evaluation import store_evaluation

    rows = [{"tokens": ["Ada", "paid", "ACME", str(i)], "tags": ["B-PER", "O", "B-ORG", "O"]}
            for i in range(40)]
    v1 = datasets.save_dataset(datasets.frame_to_parsed(pd.DataFrame(rows), "tickets.jsonl"),
                               {"tokens": "tokens", "tags": "tags"}, name="tickets",
                               task="token-classification", split=datasets.SplitConfig(0.2, 0.2, 3))
    test = datasets.load_dataset_frame(v1.id, "test")
    info = runs.create_run(dataset_id=v1.id, model_key="minilm-l6", task="token-classification",
                           config=training.TrainConfig().to_dict(), seed=42)
    runs.transition(info.id, "running")
    runs.transition(info.id, "succeeded")
    tokens = [list(t) for t in test["tokens"]]
    predicted = [["B-PER", "O", "O", "O"]] + [list(t) for t in test["tags"][1:]]
    metrics = {"f1": 0.9, "labels": ["ORG", "PER"], "confusion_matrix": [[1, 0], [0, 1]]}
    store_evaluation(info.id, "test", "run", metrics,
                     pd.DataFrame({"text": [" ".join(t) for t in tokens], "tokens": tokens,
                                   "tags": [list(t) for t in test["tags"]], "predicted": predicted,
                                   "correct": [p == list(g)
                                               for p, g in zip(predicted, test["tags"], strict=True)]}))
    at = open_page("evaluation", {"run": str(info.id)})
    assert not at.exception
    suffix = f"{info.id}_test"
    row = at.selectbox(key=f"{state.EVALUATION_CHECK_ROW}{suffix}").value
    tags = at.text_input(key=f"{state.EVALUATION_CHECK_TAGS}{suffix}_{row}")
    assert tags.value == "B-PER O O O"  # the model's tags, to edit
    tags.input("B-PER O B-ORG").run()
    at.button(key=state.EVALUATION_CHECK_SAVE).click().run()
    assert any("one tag per token" in e.value for e in at.error)
    at.text_input(key=f"{state.EVALUATION_CHECK_TAGS}{suffix}_{row}").input("B-PER O O O").run()
    at.button(key=state.EVALUATION_CHECK_SAVE).click().run()
    assert not at.exception
    assert relabel.list_checks(v1.id)[0].new_value == ["B-PER", "O", "O", "O"]
    assert at.button(key=state.EVALUATION_CHECK_MAKE).label == "Make version 2 with 1 fixed label"
