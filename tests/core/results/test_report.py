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
