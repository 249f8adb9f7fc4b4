"""The Compare page: curves, final metrics with the best marked, config diff, flips, report download."""

from __future__ import annotations

from collections.abc import Callable

from fake_runs import add_dataset, add_predictions, add_run
from streamlit.testing.v1 import AppTest

EVIL = "<img src=x onerror=alert(1)>"


def _two_runs() -> tuple[int, int]:
    ds = add_dataset()
    a = add_run(ds, name=EVIL, accuracy=0.7)
    b = add_run(ds, name="wider", accuracy=0.9,
                config={"epochs": 3.0, "learning_rate": 1e-4, "batch_size": 16})
    labels = ["good", "bad", "good"]
    add_predictions(a, labels, ["bad", "bad", "good"], texts=["t0", EVIL, "t2"])
    add_predictions(b, labels, ["good", "good", "good"], texts=["t0", EVIL, "t2"])
    return a, b


def test_compare_page_shows_the_comparison(open_page: Callable[..., AppTest]) -> None:
    a, b = _two_runs()
    at = open_page("compare", {"runs": f"{a},{b}"})
    assert not at.exception, at.exception
    assert at.multiselect(key="compare_runs").value == [a, b]
    assert len(at.get("plotly_chart")) >= 1
    # Tables in page order (AppTest does not expose a dataframe's key): final metrics, diff, flips.
    final, diff, flips = (frame.value for frame in at.dataframe[:3])
    assert final.loc["Accuracy", f"Run {b} · wider"] == "90.0 % (Δ +20.0 pts)"
    assert "None" not in final.astype(str).to_numpy().ravel().tolist()
    assert list(diff.index) == ["Learning rate"]  # a person's words, not the config key
    assert flips["flip"].tolist() == ["fixed", "broken"]
    assert EVIL in flips["text"].tolist()  # user text stays data in a table, never markup
    assert not any(EVIL in m.value for m in at.markdown)
    at.radio(key="compare_x_axis").set_value("epoch").run()
    assert not at.exception


def test_report_is_built_and_offered_for_download(open_page: Callable[..., AppTest]) -> None:
    a, b = _two_runs()
    at = open_page("compare", {"runs": f"{a},{b}"})
    at.button(key="compare_report").click().run()
    assert not at.exception, at.exception
    assert at.get("download_button"), "the report download button appears after building"


def test_compare_page_with_too_few_runs(open_page: Callable[..., AppTest]) -> None:
    at = open_page("compare")
    assert not at.exception
    assert "at least two runs" in at.info[0].value


def test_export_of_a_run_without_weights_says_why(open_page: Callable[..., AppTest]) -> None:
    a, b = _two_runs()
    at = open_page("compare", {"runs": f"{a},{b}"})
    at.button(key="compare_export").click().run()
    assert not at.exception, at.exception
    assert any("no saved model" in e.value for e in at.error)


def test_generators_side_by_side_are_named_like_people_read_them(open_page: Callable[..., AppTest]) -> None:
    import pandas as pd

    from core.results.evaluation import store_evaluation

    ds = add_dataset(task="causal-lm")
    ids = [add_run(ds, name=name, task="causal-lm") for name in ("base prompts", "tuned replies")]
    for run_id, answer in zip(ids, ("Hello.", "Hi there!"), strict=True):
        frame = pd.DataFrame({"prompt": ["Say hi"], "reference": ["Hi!"], "generated": [answer]})
        store_evaluation(run_id, "test", "run", {"loss": 1.0}, frame)
    at = open_page("compare", {"runs": f"{ids[0]},{ids[1]}"})
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "prompt" in d.value.columns)
    assert list(table.columns) == ["prompt", "reference", f"Run {ids[0]} · base prompts",
                                   f"Run {ids[1]} · tuned replies"]
    assert not any(str(c).startswith("run:") for c in table.columns)


def test_compare_opens_with_the_verdict_and_flips_read_older_to_newer(
        open_page: Callable[..., AppTest]) -> None:
    a, b = _two_runs()
    at = open_page("compare", {"runs": f"{b},{a}"})  # picked newest first
    assert not at.exception, at.exception
    shown = [e.value.replace("\\", "") for e in (*at.success, *at.warning, *at.error, *at.info)]
    sentence = next(v for v in shown if "is the best of these 2 runs" in v)
    assert sentence.startswith(f"Run {b} · wider is the best of these 2 runs by Macro F1 (85.0 % against "
                               f"65.0 % for run {a}). The fine-tuned model gets the answer right 90 % of the "
                               "time on 10 test rows (95 % interval")
    assert at.selectbox(key="compare_flip_a").value == a and at.selectbox(key="compare_flip_b").value == b
