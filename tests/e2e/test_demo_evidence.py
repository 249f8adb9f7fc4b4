"""What a new user's demo walk broke (issue 20), each checked in Chromium against one app server.

The server's UCLAB_HOME is seeded through the services before it starts: stored runs, evaluations,
answer scores and an int8 measurement, so no test trains a model. The form test starts a run and
cancels it at once; it reads the run's stored settings.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from local import wait_until

from tests.e2e.conftest import App, serve_app
from tests.e2e.conftest import idle as _idle
from tests.e2e.conftest import st_key as _key

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NAMES = ["fresh", "rotten"]


def _classifier(dataset_id: int, right: int) -> int:
    """A finished classifier on 100 test rows (58 'fresh'), `right` of them right, with a majority and a
    keyword baseline, as the worker stores them."""
    from core.results import evaluation
    from core.tasks import metrics as M
    from tests.pages.seed import seed_run

    run = seed_run(dataset_id, status="succeeded")
    y = np.array([0] * 58 + [1] * 42)
    wrong = 100 - right
    pred = y.copy()
    pred[:wrong // 2] = 1
    pred[58:58 + wrong - wrong // 2] = 0
    frame = pd.DataFrame({"text": [f"review {i}" for i in range(100)], "label": [NAMES[v] for v in y],
                          "predicted": [NAMES[v] for v in pred], "confidence": 0.6})
    frame["correct"] = frame["label"] == frame["predicted"]
    evaluation.store_evaluation(run.id, "test", "run", M.classification_metrics(y, pred, NAMES, curves=False),
                                frame)
    evaluation.store_evaluation(run.id, "test", "majority",
                                M.classification_metrics(y, np.zeros_like(y), NAMES, curves=False), frame)
    keyword = y.copy()
    keyword[:20] = 1
    evaluation.store_evaluation(run.id, "test", "tfidf_logreg",
                                M.classification_metrics(y, keyword, NAMES, curves=False), frame)
    return run.id


def _chat_run() -> tuple[int, int]:
    """A causal-LM run on a dataset whose test split has 5 rows: its answers scored on all 5, the base
    model's few-shot baseline on only 3 (N smaller than the split)."""
    from core.data import datasets
    from core.models.catalog import SMOLLM2_KEY
    from core.results import answer_metrics as am
    from core.results import evaluation
    from core.store import answers, runs
    from core.training import service as training

    frame = pd.DataFrame({"prompt": [f"q{i}" for i in range(20)], "completion": [f"a{i}" for i in range(20)]})
    info = datasets.save_dataset(datasets.frame_to_parsed(frame, "pairs.csv"),
                                 {"prompt": "prompt", "completion": "completion",
                                  "format": "prompt_completion"},
                                 name="pairs", task="causal-lm", split=datasets.SplitConfig(0.2, 0.25, 1))
    run = runs.create_run(dataset_id=info.id, model_key=SMOLLM2_KEY, task="causal-lm",
                          config=training.TrainConfig().to_dict(), seed=42, name="support-bot")
    runs.transition(run.id, "running", pid=os.getpid(), step=10, total_steps=10)
    runs.transition(run.id, "succeeded")
    evaluation.store_evaluation(run.id, "test", "run", {"loss": 1.2, "perplexity": 3.3, "examples": 5},
                                pd.DataFrame({"prompt": ["q"], "reference": ["a"], "generated": ["a"]}))
    refs = ["Paris is the capital.", "Apples and pears.", "I am fine, thanks.", "Blue sky.", "Green tea."]
    for run_id, ref, kind, shots, said in (
            (run.id, f"run:{run.id}", "run", 0, refs),
            (None, SMOLLM2_KEY, "few_shot", 3, ["It is Rome.", "Bananas.", "Hello there."])):
        rows, metrics = am.score_answers(said, refs[:len(said)])
        answers.save_answer_evaluation(
            dataset_id=info.id, run_id=run_id, model_ref=ref, split="test", kind=kind, shots=shots, seed=42,
            settings={"max_new_tokens": 16, "requested_examples": 200 if kind == "run" else 3,
                      "per_example_seconds": 0.5}, metrics=metrics, seconds=2.5,
            rows=[{"position": i, "prompt": f"question {i}", "reference": r, "answer": a, **s}
                  for i, (r, a, s) in enumerate(zip(refs, said, rows, strict=False))])
    return info.id, run.id


def _int8_table(run_id: int) -> None:
    """The measurement of the issue: int8 slower in batches, macro F1 moving, on 400 of 1,387 rows."""
    from core.config import get_settings

    rows = [{"model": "PyTorch fp32", "latency_ms": 9.0, "examples_per_s": 87.2, "size_mb": 90.9,
             "accuracy": 0.6375, "macro_f1": 0.494},
            {"model": "ONNX fp32", "latency_ms": 7.0, "examples_per_s": 90.0, "size_mb": 90.9,
             "accuracy": 0.6375, "macro_f1": 0.494},
            {"model": "ONNX int8", "latency_ms": 4.3, "examples_per_s": 65.7, "size_mb": 23.0,
             "accuracy": 0.6375, "macro_f1": 0.565}]
    path = get_settings().runs_dir / str(run_id) / "onnx-benchmark.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run_id": run_id, "examples": 400, "test_rows": 1387, "latency_examples": 32,
                                "threads": 2, "cpu": "test cpu", "measured_at": "2026-12-06T16:00:00",
                                "rows": rows}))


def _label_baseline(dataset_id: int) -> None:
    """SmolLM2 prompted on 8 of the test rows (its own N), as the Evaluation page's button stores it."""
    from core.models.catalog import SMOLLM2_KEY
    from core.store import answers

    truth = [NAMES[0]] * 8
    said = [NAMES[0]] * 4 + [NAMES[1]] * 4
    metrics = {"accuracy": 0.5, "macro_f1": 0.33, "headline": "accuracy",
               "metrics": {"accuracy": {"mean": 0.5, "low": 0.125, "high": 0.875, "n": 8}}}
    answers.save_answer_evaluation(
        dataset_id=dataset_id, run_id=None, model_ref=SMOLLM2_KEY, split="test", kind="label_few_shot",
        shots=3, seed=42, settings={"labels": NAMES, "requested_examples": 8}, metrics=metrics, seconds=4.0,
        rows=[{"position": i, "prompt": f"review {i}", "reference": t, "answer": a, "correct": float(t == a)}
              for i, (t, a) in enumerate(zip(truth, said, strict=True))])


def _chinese_dataset() -> int:
    from core.data import datasets

    texts = ["这部电影非常好看，我很喜欢。", "剧情很无聊，浪费时间。", "演员的表演很出色。",
             "画面很美，音乐也很好。", "故事太长了，没意思。", "我推荐这部电影给朋友。"]
    frame = pd.DataFrame({"text": [f"{t}{i}" for i, t in enumerate(texts * 10)],
                          "label": ["好", "差", "好", "好", "差", "好"] * 10})
    return datasets.save_dataset(datasets.frame_to_parsed(frame, "zh.csv"),
                                 {"text": "text", "label": "label"}, name="zh-reviews", task="classification",
                                 split=datasets.SplitConfig(0.2, 0.2, 1)).id


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, dict[str, int]]]:
    from core.store import db
    from tests.pages.seed import save_reviews

    home = tmp_path_factory.mktemp("demo") / "uclab"
    saved = {k: os.environ.get(k) for k in ("UCLAB_HOME", "UCLAB_DATABASE_URL")}
    os.environ["UCLAB_HOME"] = str(home)
    os.environ.pop("UCLAB_DATABASE_URL", None)
    db.reset_engines()
    try:
        zh = _chinese_dataset()
        reviews = save_reviews().id
        weak = _classifier(reviews, 53)     # below always guessing 'fresh' (58 %)
        good = _classifier(reviews, 90)
        _label_baseline(reviews)
        _int8_table(good)
        pairs, chat = _chat_run()
        ids = {"zh": zh, "reviews": reviews, "weak": weak, "good": good, "pairs": pairs, "chat": chat}
        with serve_app(home) as app:
            yield app, ids
    finally:
        db.reset_engines()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def tab(browser: Any, demo: tuple[App, dict[str, int]]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    page.screenshot(path=str(demo[0].home.parent / "last-page.png"), full_page=True)
    context.close()


def _alert_text(page: Any, key: str) -> str:
    box = page.locator(f"{_key(key)} [data-testid='stAlert'] [data-testid='stMarkdownContainer']").first
    box.wait_for(timeout=120_000)
    return " ".join(box.inner_text().split())


_SHOWN = ("e => e ? e.innerText + ' ' + [...e.querySelectorAll('input')].map(i => i.value).join(' ') : ''")


def _shown(page: Any, key: str, text: str) -> str:
    """What a widget shows (a select box's value included) once it shows `text`, or after 60 s."""
    selector = _key(key)
    try:
        page.wait_for_function(f"() => ({_SHOWN})(document.querySelector('{selector}')).includes({text!r})",
                               timeout=60_000)
    except Exception:  # noqa: BLE001 - the assertion below says what was shown instead
        pass
    return page.locator(selector).first.evaluate(_SHOWN)


def test_1_the_form_keeps_its_settings_across_pages_and_the_run_stores_them(tab, demo) -> None:
    from core.run_config import TrainConfig
    from core.store import runs
    from core.training import service as training

    app, ids = demo
    tab.goto(f"{app.url}/finetune?dataset={ids['reviews']}")
    tab.locator(f"{_key('finetune_start')} button").wait_for()
    _idle(tab)
    tab.get_by_text("Advanced settings").click()
    batch = tab.locator(f"{_key('finetune_field_batch_size')} input")
    batch.fill("8")
    batch.press("Enter")
    _idle(tab)
    for name in ("Evaluation", "Fine-tuning"):  # leave the page and come back, in the same session
        tab.get_by_role("link", name=name).first.click()
        _idle(tab)
    tab.locator(f"{_key('finetune_start')} button").wait_for()
    _idle(tab)
    before = {r.id for r in runs.list_runs()}
    tab.locator(f"{_key('finetune_start')} button").click()
    wait_until(lambda: {r.id for r in runs.list_runs()} - before, 60, "the run the form started")
    started = runs.list_runs(limit=1)[0]
    if runs.get_run(started.id).is_live:
        training.cancel_run(started.id)  # only its stored settings matter here
    preset = TrainConfig.from_preset("quick", task="classification")
    config = started.config
    assert config["batch_size"] == 8  # the value typed before leaving the page
    assert config["epochs"] == preset.epochs and config["learning_rate"] == preset.learning_rate
    assert config["max_train_rows"] == preset.max_train_rows and config["warmup_ratio"] == preset.warmup_ratio


def test_2_a_prompt_baseline_of_fewer_examples_than_the_split_is_kept(tab, demo) -> None:
    app, ids = demo
    tab.goto(f"{app.url}/evaluation?run={ids['chat']}")
    tab.get_by_text("Did fine-tuning beat prompting?").wait_for(timeout=120_000)
    tab.get_by_text(re.compile(r"About .* for 5 examples")).first.wait_for(timeout=120_000)
    _idle(tab)
    body = tab.locator("body").inner_text()
    assert "No prompt baseline yet" not in body
    assert "few-shot (3 examples in the prompt)" in body  # the N=3 baseline, beside the run's 5
    assert re.search(r"About .* for 5 examples", body), "the estimate is for the split's 5 rows, not 200"


def test_3_the_int8_headline_is_computed_from_its_table(tab, demo) -> None:
    app, ids = demo
    tab.goto(f"{app.url}/evaluation?run={ids['good']}")
    tab.get_by_text("Smaller and faster for production").wait_for(timeout=120_000)
    _idle(tab)
    body = " ".join(tab.locator("body").inner_text().split())
    assert "in batches 1.3x slower (87.2 → 65.7 examples/s)" in body
    assert "one at a time 2.1x faster (9.0 → 4.3 ms)" in body and "macro F1 0.494 → 0.565" in body
    assert "the first 400 of the 1,387 test rows" in body
    assert "int8: 2.1x faster" not in body


def test_6_the_quality_report_flags_what_flatters_scores(tab, demo) -> None:
    app, ids = demo
    lines = ["review,verdict"]
    phrases = ["Great value and a friendly team here", "Terrible quality and it broke today"]
    spellings = ["positive", " positive ", "POSITIVE", "negative"]
    for i in range(64):
        lines.append(f"\"{phrases[i % 2]} order {i}\",{spellings[i % 4] if i % 2 == 0 else 'negative'}")
    tab.goto(f"{app.url}/datasets")
    tab.locator(f"{_key('datasets_upload')} input[type=file]").set_input_files(
        files=[{"name": "messy.csv", "mimeType": "text/csv", "buffer": ("\n".join(lines) + "\n").encode()}])
    tab.get_by_text("Quality report").first.wait_for()
    tab.get_by_text("differ only in case or spaces").first.wait_for(timeout=120_000)
    _idle(tab)
    body = " ".join(tab.locator("body").inner_text().split())
    assert "near-cop" in body and "The test split has only" in body
    assert "No blocking problem: this dataset can be saved." not in body  # never green above these
    tab.goto(f"{app.url}/finetune?dataset={ids['zh']}")
    # the caption is drawn only while the suggested model is the one selected; the box itself may
    # fill in a moment after it
    tab.get_by_text("SmolLM2-135M-Instruct is chosen because").first.wait_for(timeout=120_000)
    assert "SmolLM2" in _shown(tab, "finetune_model", "SmolLM2")


def test_7_every_evaluation_and_the_compare_page_open_with_a_verdict(tab, demo) -> None:
    app, ids = demo
    tab.goto(f"{app.url}/evaluation?run={ids['good']}")
    text = _alert_text(tab, "evaluation_verdict")
    assert text.startswith("The fine-tuned model gets the answer right 90 % of the time on 100 test rows "
                           "(95 % interval 83–94 %) — 10 points better than a keyword model")
    assert "prompting smollm2-135m-instruct 3-shot on the same 8 examples" in text
    tab.goto(f"{app.url}/evaluation?run={ids['chat']}")
    text = _alert_text(tab, "evaluation_verdict")
    assert re.match(r"Fine-tuning (beat|did not beat|did not clearly beat) prompting: the fine-tuned model's "
                    r"answers score .* on 5 test examples \(95 % interval", text), text
    assert "on the same 3 examples" in text
    tab.goto(f"{app.url}/compare?runs={ids['weak']},{ids['good']}")
    text = _alert_text(tab, "compare_verdict")
    assert text.startswith(f"Run {ids['good']}") and "is the best of these 2 runs by " in text


def test_8_a_run_worse_than_always_guessing_says_so_in_words(tab, demo) -> None:
    app, ids = demo
    tab.goto(f"{app.url}/evaluation?run={ids['weak']}")
    text = _alert_text(tab, "evaluation_verdict")
    assert text.startswith("This model is worse than always guessing 'fresh' (58.0 %)"), text


def test_9_the_playground_opens_on_what_was_fine_tuned_and_flags_a_near_chance_classifier(tab, demo) -> None:
    app, ids = demo
    tab.goto(f"{app.url}/playground?run={ids['weak']}")
    tab.get_by_text("treat its answers here as guesses").first.wait_for(timeout=120_000)
    tab.get_by_role("tab", name="Generate text").click()
    tab.locator(_key("playground_gen_model_a")).wait_for()
    _idle(tab)
    assert f"Run {ids['chat']}" in _shown(tab, "playground_gen_model_a", f"Run {ids['chat']}")
    tab.get_by_text("Side by side").click()
    tab.locator(_key("playground_gen_model_b")).wait_for()
    _idle(tab)
    second = _shown(tab, "playground_gen_model_b", "SmolLM2")
    assert "SmolLM2" in second and f"Run {ids['chat']}" not in second


def test_15_home_is_served_at_slash_home(tab, demo) -> None:
    """Without its own page, /home fell back to the main page at "/" (after "Page not found")."""
    app, _ = demo
    tab.goto(f"{app.url}/home")
    tab.get_by_text("Recent runs").wait_for(timeout=120_000)
    _idle(tab)
    tab.wait_for_timeout(1000)
    assert tab.url.rstrip("/").endswith("/home") and "Page not found" not in tab.locator("body").inner_text()
