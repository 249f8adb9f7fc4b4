"""The offline HTML report: valid HTML, charts embedded, no network references, user text escaped."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import pandas as pd
import pytest
from fake_runs import add_dataset, add_predictions, add_run

from core.errors import NotFoundError
from core.results import report
from core.store import orm
from core.store.db import session_scope

EVIL = "<script>alert('x')</script>"


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.h2: list[str] = []
        self.scripts: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in = tag

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "h2":
            self.h2.append(data)
        elif self._in == "script":
            self.scripts.append(data)


def _parse(page: str) -> _Collector:
    parser = _Collector()
    parser.feed(page)
    parser.close()
    return parser


def _charts(parsed: _Collector) -> int:
    return sum(tag == "div" and "plotly-graph-div" in (a.get("class") or "") for tag, a in parsed.tags)


@pytest.fixture
def runs(home) -> tuple[int, int]:
    ds = add_dataset()
    a = add_run(ds, name=EVIL, accuracy=0.7, device="cpu", elapsed=3600.0)
    b = add_run(ds, name="wider", accuracy=0.9, device="cuda:0 (NVIDIA H100)", elapsed=1800.0)
    add_predictions(b, ["good", "bad", "good"], ["good", "good", "good"],
                    texts=["fine film", EVIL, "great"])
    with session_scope(write=True) as s:
        s.add(orm.Evaluation(run_id=b, split="test", model="tfidf_logreg",
                             metrics={"accuracy": 0.75, "macro_f1": 0.7, "loss": 0.5}))
    return a, b


def test_report_is_offline_html_with_charts(runs, monkeypatch) -> None:
    a, b = runs
    monkeypatch.setenv("UCLAB_GPU_USD_PER_HOUR", "4")
    page = report.build_report(b)
    parsed = _parse(page)
    # No script or stylesheet comes from the network.
    for tag, attrs in parsed.tags:
        if tag == "script":
            assert not attrs.get("src"), attrs
        if tag == "link":
            assert not (attrs.get("href") or "").startswith(("http://", "https://")), attrs
    assert "<script src=" not in page and "<link" not in page
    # plotly.js is inlined exactly once, and each chart is a plotly div.
    assert sum("plotly.js v" in s[:300] for s in parsed.scripts) == 1
    assert _charts(parsed) >= 3  # loss curve, accuracy curve, confusion matrix
    headings = " | ".join(parsed.h2)
    for section in ("use case", "data", "What was tried", "baselines", "charts", "Example predictions",
                    "cost", "Appendix: for engineers"):
        assert section.lower() in headings.lower()
    # User text is escaped everywhere: the run name and the example text never become tags.
    assert EVIL not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;repeat&lt;/b&gt;" in page  # the quality finding's text is escaped too
    # Cost: 0.5 h on a GPU at $4/h.
    assert "$2.000" in page
    assert "Keyword model (TF-IDF)" in page and "tfidf_logreg" not in page
    assert "AutoModelForSequenceClassification" in page
    assert page.index("AutoModelForSequenceClassification") > page.index("Appendix: for engineers")


def test_report_of_a_comparison_details_the_best_run(runs) -> None:
    a, b = runs
    page = report.build_report([a, b])
    assert f"<b>Run {b} · wider</b>" in page
    assert f"<title>Use Case Lab comparison: Run {a} · " in page
    assert f"against Run {b} · wider</title>" in page
    assert _charts(_parse(page)) >= 5  # the best run's charts plus the overlaid curves of both runs


def test_write_report_and_errors(runs, tmp_path) -> None:
    a, _ = runs
    path = report.write_report(a, tmp_path / "out" / "report.html")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(NotFoundError):
        report.build_report(999)
    with pytest.raises(report.UserError):
        report.write_report(a, tmp_path)


def test_cli_report_writes_the_file(runs, tmp_path, capsys) -> None:
    from core.cli import main

    a, _ = runs
    out = tmp_path / "r.html"
    assert main(["report", str(a), "--out", str(out), "--json"]) == 0
    assert out.exists() and '"path"' in capsys.readouterr().out
    assert main(["report", "999", "--out", str(out)]) == 2


def _verdict(page: str) -> str:
    start = page.index("<p class='verdict'>") + len("<p class='verdict'>")
    return html.unescape(page[start:page.index("</p>", start)])


def test_report_opens_with_a_verdict_a_manager_can_repeat(home) -> None:
    import numpy as np

    from core.results.evaluation import store_evaluation
    from core.tasks import metrics as M

    ds = add_dataset()
    run = add_run(ds, name="sentiment")
    y = np.array([0] * 500 + [1] * 500)
    pred = y.copy()
    pred[:160] = 1  # 84 % right
    keyword = y.copy()
    keyword[:200] = 1  # 80 % right
    names = ["fresh", "rotten"]
    frame = pd.DataFrame({"text": ["t"] * 1000, "label": y, "predicted": pred})
    store_evaluation(run, "test", "run", M.classification_metrics(y, pred, names, curves=False), frame)
    store_evaluation(run, "test", "tfidf_logreg", M.classification_metrics(y, keyword, names, curves=False),
                     frame)
    always = np.zeros_like(y)  # always 'fresh'
    majority = M.classification_metrics(y, always, names, curves=False)
    majority["accuracy"] = 0.53  # as on a test set where 'fresh' is 53 %
    store_evaluation(run, "test", "majority", majority, frame)
    page = report.build_report(run)
    assert _verdict(page) == ("The fine-tuned model gets the answer right 84 % of the time on 1,000 test "
                              "rows (95 % interval 82–86 %) — 4 points better than a keyword model, "
                              "31 points better than always guessing 'fresh'.")
    assert page.index("class='verdict'") < page.index("<h2>")  # before any section


def test_report_uses_the_gallery_question_and_never_shows_control_characters(home) -> None:
    ds = add_dataset()
    with session_scope(write=True) as s:
        row = s.get(orm.Dataset, ds)
        row.info = {**(row.info or {}), "question": "Is this review positive or negative?"}
    run = add_run(ds, name="caf\x85e")
    page = report.build_report(run)
    assert "<h2>The use case</h2><p>Is this review positive or negative?</p>" in page
    assert "\x85" not in page and "caf e" in page


def test_the_baseline_table_has_a_column_per_model_not_per_metric(runs) -> None:
    _, b = runs
    page = report.build_report(b)
    section = page[page.index("The best run against the baselines"):page.index("Evaluation charts")]
    header = section[section.index("<thead>"):section.index("</thead>")]
    assert header.count("<th>") == 3  # metric, this model, the keyword model
    assert ">Accuracy</td>" in section and "90.0 %" in section


def test_the_report_shows_no_local_paths_and_never_breaks_headers_mid_word(home) -> None:
    ds = add_dataset()
    run = add_run(ds, name="sentiment", output_dir="runs/1/final")
    page = report.build_report(run)
    assert str(home) not in page and "<code>runs/1/final</code> inside the app's data folder" in page
    assert "th{overflow-wrap:normal;word-break:keep-all}" in page


def test_the_report_states_the_runs_stored_settings_not_the_checks_max_length(home) -> None:
    """Issue 20, item 11: the report said "max length 128" (the quality check's) for a run trained at 256."""
    ds = add_dataset()
    with session_scope(write=True) as s:
        s.get(orm.Dataset, ds).info = {"max_length": 128}
    run = add_run(ds, config={"max_length": 256, "epochs": 3.0, "batch_size": 8, "learning_rate": 5e-5,
                              "lora": False})
    page = html.unescape(report.build_report(run))
    assert "this run trained at a max length of 256, its stored setting" in page
    assert "Trained with (its stored settings): Max length (tokens) 256; Epochs 3" in page
    assert "Batch size 8" in page and "LoRA no" in page


def test_the_report_includes_the_int8_table_when_it_was_measured(home) -> None:
    import json

    from core.config import get_settings
    from core.results.onnx_benchmark import BENCH_FILE

    ds = add_dataset()
    run = add_run(ds)
    assert "Smaller and faster" not in report.build_report(run)
    rows = [{"model": "PyTorch fp32", "latency_ms": 9.0, "examples_per_s": 87.2, "size_mb": 90.0,
             "accuracy": 0.6375, "macro_f1": 0.494},
            {"model": "ONNX int8", "latency_ms": 4.3, "examples_per_s": 65.7, "size_mb": 23.0,
             "accuracy": 0.6375, "macro_f1": 0.565}]
    folder = get_settings().runs_dir / str(run)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / BENCH_FILE).write_text(json.dumps({"rows": rows, "examples": 400, "test_rows": 1387}))
    page = html.unescape(report.build_report(run))
    assert "Smaller and faster for production" in page and "65.7" in page
    assert "in batches 1.3x slower (87.2 → 65.7 examples/s)" in page  # the table's own rows, not a claim
    assert "the first 400 of the 1,387 test rows" in page


def test_the_report_compares_a_classifier_with_prompting_on_its_own_examples(home, monkeypatch) -> None:
    from core.results.evaluation import BaselineSummary

    ds = add_dataset()
    run = add_run(ds, accuracy=0.8)
    real = report.get_evaluation

    def with_prompting(run_id: int, split: str = "test"):
        result = real(run_id, split)
        prompted = BaselineSummary(name="smollm2-3shot", title="SmolLM2 prompted, 3-shot (40 examples)",
                                   metrics={"accuracy": 0.55, "metrics": {"accuracy": {"n": 40}}},
                                   gain={"accuracy": 0.2})
        return result.__class__(**{**result.__dict__, "baselines": [*result.baselines, prompted]})

    monkeypatch.setattr(report, "get_evaluation", with_prompting)
    page = html.unescape(report.build_report(run))
    assert "<h2>Against prompting</h2>" in page
    assert "SmolLM2 prompted, 3-shot (40 examples)" in page and "<td dir='auto'>40</td>" in page


def test_each_table_of_greedy_answers_says_which_engine_wrote_it(home) -> None:
    from core.store import generations

    ds = add_dataset(task="causal-lm")
    run = add_run(ds, task="causal-lm")
    generations.add_generation(model_ref=f"run:{run}", run_id=run, mode="chat",
                               prompt={"text": "Hello?"}, settings={"stats": {"engine": "llama.cpp"}},
                               outputs=["Hi there."])
    page = html.unescape(report.build_report(run))
    assert "the engine column says which engine wrote each" in page
    assert "<td dir='auto'>llama.cpp</td>" in page
    add_predictions(run, ["Hi."], ["Hi."])
    folder_preds = report.read_predictions(run, "test")
    folder_preds["prompt"], folder_preds["reference"], folder_preds["generated"] = "Hello?", "Hi.", "Hey."
    section = report._section_examples(report.runs.get_run(run), folder_preds,
                                                report._generations(run, 8), 8)
    assert "transformers (the exact engine)" in section


def test_a_flat_metric_is_not_drawn_as_a_climb() -> None:
    from core.results.report_figures import curve_figure

    curves = pd.DataFrame({"step": [10, 20, 30], "epoch": [1, 2, 3], "split": ["validation"] * 3,
                           "name": ["accuracy"] * 3, "value": [0.588, 0.591, 0.594]})
    assert list(curve_figure(curves, "accuracy").layout.yaxis.range) == [0, 1.02]  # a share: 0–100 %
    loss = curves.assign(name="loss", value=[0.6880, 0.6878, 0.6875])
    low, high = curve_figure(loss, "loss").layout.yaxis.range
    assert high - low >= 0.1 * 0.68  # at least ±10 % of the value, not 0.6875–0.6880
