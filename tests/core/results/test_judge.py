"""The optional judge against a real OpenAI-compatible HTTP endpoint started on 127.0.0.1 in the test."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sklearn.metrics import cohen_kappa_score

from core.errors import ConfigError
from core.results import judge
from core.store import answers as store


class _Judge(BaseHTTPRequestHandler):
    """Grades 5 when the answer repeats the reference, else 1; prefers the longer of two answers."""

    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Judge.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        system, user = body["messages"][0]["content"], body["messages"][1]["content"]
        if system == judge.RUBRIC:
            reference = user.split("Reference answer:\n")[1].split("\n\nAssistant's answer:")[0]
            answer = user.split("Assistant's answer:\n")[1]
            reply = "Grade: 5\nSame content." if reference.lower() in answer.lower() else "Grade: 1\nWrong."
        else:
            first = user.split("Answer A:\n")[1].split("\n\nAnswer B:")[0]
            second = user.split("Answer B:\n")[1]
            reply = "A" if len(first) > len(second) else "B" if len(second) > len(first) else "tie"
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Judge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    monkeypatch.setenv("UCLAB_JUDGE_URL", url)
    monkeypatch.setenv("UCLAB_JUDGE_MODEL", "grader-1")
    monkeypatch.setenv("UCLAB_JUDGE_KEY_ENV", "MY_JUDGE_KEY")
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-test")
    _Judge.seen = []
    yield url
    server.shutdown()
    server.server_close()


def _evaluation() -> int:
    from core.data import datasets
    from tests.pages.seed import save_reviews

    dataset = save_reviews()
    assert datasets.get_dataset(dataset.id)
    pairs = [("Paris", "It is Paris."), ("blue", "Red"), ("42", "the answer is 42")]
    rows = [{"position": i, "prompt": f"q{i}", "reference": ref, "answer": ans}
            for i, (ref, ans) in enumerate(pairs)]
    return store.save_answer_evaluation(dataset_id=dataset.id, run_id=None, model_ref="m", split="test",
                                        kind="zero_shot", shots=0, seed=0, settings={}, seconds=1.0,
                                        metrics={"metrics": {}}, rows=rows)


def test_without_settings_the_judge_is_absent_with_a_sentence(home: Path, monkeypatch) -> None:
    monkeypatch.delenv("UCLAB_JUDGE_URL", raising=False)
    assert "set UCLAB_JUDGE_URL" in (judge.judge_status() or "")
    with pytest.raises(ConfigError, match="No judge is set"):
        judge.judge_evaluation(_evaluation())


def test_the_judge_grades_each_answer_and_the_grades_are_stored(endpoint: str) -> None:
    assert judge.judge_status() is None
    evaluation_id = _evaluation()
    summary = judge.judge_evaluation(evaluation_id)
    assert summary["mean"] == pytest.approx(2 / 3) and summary["n"] == 3 and summary["model"] == "grader-1"
    stored = store.get_answer_evaluation(evaluation_id)
    assert list(stored.examples_frame["judge"]) == [1.0, 0.0, 1.0]
    assert stored.metrics["metrics"]["judge"]["mean"] == pytest.approx(2 / 3)
    request = _Judge.seen[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "grader-1" and request["body"]["temperature"] == 0


def test_an_unreachable_judge_is_one_sentence(home: Path, monkeypatch) -> None:
    monkeypatch.setenv("UCLAB_JUDGE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("UCLAB_JUDGE_MODEL", "grader-1")
    with pytest.raises(judge.JudgeError, match="cannot be reached"):
        judge.grade_answer("q", "a", "b")


def test_kappa_of_the_judge_against_blind_review_votes(endpoint: str) -> None:
    from core.store.db import session_scope
    from core.store.orm import Review, ReviewItem, ReviewVote

    outputs = [("a long answer", "short"), ("x", "a longer one"), ("same", "same"), ("longer one", "no"),
               ("tiny", "much longer")]
    votes = [["a", "a", "b"], ["b"], ["tie", "a"], ["b", "b"], ["b"]]  # majorities: a, b, tie, b, b
    with session_scope(write=True) as s:
        review = Review(name="r", model_a="m1", model_b="m2")
        s.add(review)
        s.flush()
        for (a, b), choices in zip(outputs, votes, strict=True):
            item = ReviewItem(review_id=review.id, prompt="p", output_a=a, output_b=b, a_first=True)
            s.add(item)
            s.flush()
            s.add_all(ReviewVote(item_id=item.id, reviewer=f"r{i}", choice=c) for i, c in enumerate(choices))
        review_id = review.id
    result = judge.review_agreement(review_id)
    judged, people = ["a", "b", "tie", "a", "b"], ["a", "b", "tie", "b", "b"]
    assert result["n"] == 5 and result["agreement"] == pytest.approx(0.8)
    assert result["kappa"] == pytest.approx(cohen_kappa_score(judged, people))
    assert result["low"] <= result["kappa"] <= result["high"]
