"""A Chinese classification run beaten by its character n-gram baseline: the verdict says so, and
`uclab serve --run ID --baseline` (a real uvicorn process) answers /v1/classify with the baseline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from chinese_topics import beaten_run as _beaten_run
from local import free_port, wait_until

from core.results import verdict
from core.results.evaluation import get_evaluation
from tests.core.serve.clients import http_call

ROOT = Path(__file__).resolve().parents[3]


def test_the_verdict_names_the_character_ngram_model_when_it_wins(home) -> None:
    run_id = _beaten_run()
    result = get_evaluation(run_id, "test")
    char = next(b for b in result.baselines if b.name == "tfidf_char_logreg")
    assert char.metrics["accuracy"] > 0.8  # the topics are in the characters
    win = verdict.baseline_winner("classification", result.metrics,
                                  {b.name: b.metrics for b in result.baselines})
    assert win is not None and win.name == "tfidf_char_logreg" and win.servable
    sentence = win.sentence(run_id)
    assert sentence.startswith("The best model here is not a neural one: the character n-gram model")
    assert f"uclab serve --run {run_id} --baseline" in sentence
    # a run level with (or better than) every baseline gets no such line; the majority never "wins"
    assert verdict.baseline_winner("classification", {"accuracy": 1.0},
                                   {b.name: b.metrics for b in result.baselines}) is None
    assert verdict.baseline_winner("classification", {"accuracy": 0.1},
                                   {"majority": {"accuracy": 0.4}}) is None


def test_the_report_and_the_cli_say_the_baseline_wins(home, tmp_path, capsys) -> None:
    from core.cli import main
    from core.results.report import write_report

    run_id = _beaten_run()
    html = write_report(run_id, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "The best model here is not a neural one: the character n-gram model" in html
    assert main(["evaluate", str(run_id), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["baseline_wins"]["name"] == "tfidf_char_logreg"


def test_the_saved_baseline_is_served_by_uclab_serve(home, tmp_path) -> None:
    from core.cli import main
    from core.tasks.baselines import TextBaseline

    run_id = _beaten_run()
    out = tmp_path / "export"
    assert main(["baselines", "save", str(run_id), "--out", str(out), "--json"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["baseline.json", "model.skops"]
    exported = TextBaseline.load(out)  # skops, only scikit-learn's own types trusted
    assert exported.name == "tfidf_char_logreg" and exported.labels == ("money", "sports", "weather")

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "UCLAB_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "core", "serve", "--run", str(run_id), "--baseline",
                             "--port", str(port), "--json"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        facts = json.loads(proc.stdout.readline())
        assert facts["endpoints"] == ["/v1/classify"] and facts["model"] == f"run:{run_id}:tfidf_char_logreg"
        url = f"http://127.0.0.1:{port}/v1"

        def up() -> bool:
            try:
                return http_call(url, "GET", "/v1/models")[0] == 200
            except OSError:
                return False

        wait_until(up, 60, "uclab serve to listen")
        texts = ["我们的球队在比赛中进球了", "银行的贷款利息很高", "今天下雨刮风气温很低"]
        status, body = http_call(url, "POST", "/v1/classify", {"model": f"run:{run_id}", "input": texts})
        assert status == 200, body
        assert [d["label"] for d in body["data"]] == ["sports", "money", "weather"]
        expected = exported.predict_proba(texts)
        for row, want in zip(body["data"], expected, strict=True):
            assert row["scores"]["sports"] == pytest.approx(want[1])
        status, body = http_call(url, "POST", "/v1/chat/completions",
                                 {"messages": [{"role": "user", "content": "你好"}]})
        assert status in (400, 404) and "/v1/classify" in body["error"]["message"]
    finally:
        proc.terminate()
        proc.wait(20)


def test_an_unsavable_baseline_or_one_without_a_run_is_refused(home) -> None:
    from core.errors import ConfigError
    from core.serve.backend import resolve_served
    from core.training.baseline_models import save_baseline

    run_id = _beaten_run()
    with pytest.raises(ConfigError, match="cannot be saved"):
        save_baseline(run_id, "majority")
    with pytest.raises(ConfigError, match="add --run"):
        resolve_served(model_key="minilm-l6", baseline="")
