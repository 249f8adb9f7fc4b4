"""One walk through the real app in headless Chromium, as a person would use it.

Upload a CSV, save it, fine-tune the bundled MiniLM with the Quick look preset, find the
confusion matrix on the evaluation page, get a prediction in the playground, stream an answer
from the bundled SmolLM2, see entities highlighted by a tagger, compare two runs and download
the report.
"""

from __future__ import annotations

import json
import random
import re

import pytest

from tests.e2e.conftest import idle as _idle
from tests.e2e.conftest import st_key as _key

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

GOOD = ["I love this product, it works great", "Fantastic service and a friendly team",
        "Really happy with the quality", "Great value, would buy again", "Excellent, fast delivery"]
BAD = ["Terrible, it broke after one day", "Awful support and a rude reply",
       "Very disappointed, poor quality", "Waste of money, do not buy", "The worst purchase I have made"]


def _csv(rows: int = 160) -> bytes:
    rng = random.Random(7)
    lines = ["review,verdict"]
    for i in range(rows):
        good = i % 2 == 0
        text = f"{rng.choice(GOOD if good else BAD)} (order {i})"
        lines.append(f"\"{text}\",{'positive' if good else 'negative'}")
    return ("\n".join(lines) + "\n").encode()


def test_a_person_goes_from_a_spreadsheet_to_a_shared_report(app, page) -> None:
    # 1. Upload a spreadsheet and save it after reading the quality report.
    page.goto(f"{app.url}/datasets")
    page.locator(f"{_key('datasets_upload')} input[type=file]").set_input_files(
        files=[{"name": "reviews.csv", "mimeType": "text/csv", "buffer": _csv()}])
    page.get_by_text("Quality report").first.wait_for()
    save = page.locator(f"{_key('datasets_save')} button")
    save.wait_for()
    _idle(page)
    save.click()
    page.get_by_text(re.compile(r"Saved .* v1")).wait_for(timeout=120_000)

    # 2. Fine-tune the bundled MiniLM with the Quick look preset and wait for it to succeed.
    page.goto(f"{app.url}/finetune")
    page.locator(f"{_key('finetune_start')} button").wait_for()
    _idle(page)
    page.locator(f"{_key('finetune_start')} button").click()
    # The status badge reads "Finished" (or "Finished · not learned" for a model that guesses one class).
    page.get_by_text(re.compile(r"^Finished")).filter(visible=True).first.wait_for(timeout=600_000)

    # 3. The evaluation page shows the confusion matrix.
    page.goto(f"{app.url}/evaluation")
    matrix = page.locator(f"{_key('evaluation_confusion')} .js-plotly-plot")
    matrix.wait_for(timeout=120_000)
    assert matrix.count() == 1

    # 4. The playground classifies a new text.
    page.goto(f"{app.url}/playground")
    page.locator(f"{_key('playground_text')} textarea").fill("Great value and a friendly team")
    _idle(page)
    page.locator(f"{_key('playground_predict')} button").click()
    label = page.locator("[data-testid='stMetricValue']").first
    label.wait_for(timeout=120_000)
    assert label.inner_text().strip() in ("positive", "negative")
    page.locator(f"{_key('playground_probabilities')} .js-plotly-plot").wait_for()

    # 5. Generation: a streamed answer from the bundled causal LM.
    page.get_by_role("tab", name="Generate text").click()
    prompt = page.locator(f"{_key('playground_gen_prompt')} textarea")
    prompt.wait_for(timeout=120_000)
    prompt.fill("What is the capital of France?")
    page.get_by_text("Sampling settings").click()
    for name, value in (("max_new", "16"), ("temperature", "0")):  # greedy: the same answer every time
        field = page.locator(f"{_key('playground_gen_' + name)} input")
        field.fill(value)
        field.press("Enter")
        _idle(page)
    _idle(page)
    page.locator(f"{_key('playground_gen_go')} button").click()
    page.get_by_text(re.compile("tokens/s")).first.wait_for(timeout=600_000)
    assert page.get_by_text(re.compile("Paris")).count() > 0

    # 6. Entity extraction: train a tagger on the gallery sample from the CLI, then see it highlight.
    ner = json.loads(app.cli("datasets", "import", "support-ticket-entities", "--json"))
    app.cli("train", "--dataset", str(ner["id"]), "--model", "minilm-l6", "--max-steps", "60",
            "--learning-rate", "2e-4", "--max-length", "48", "--name", "tagger", "--wait", "--json")
    page.goto(f"{app.url}/playground")
    page.get_by_role("tab", name="Find entities").click()
    text = page.locator(f"{_key('playground_ner_text')} textarea")
    text.wait_for(timeout=120_000)
    text.fill("Maria Garcia from Contoso was charged $120 on 3 March for CloudSync Business.")
    _idle(page)
    page.locator(f"{_key('playground_ner_go')} button").click()
    page.get_by_text(re.compile(r"\d+ entities · ")).wait_for(timeout=120_000)
    marked = page.locator("mark", has_text="Maria Garcia")
    marked.first.wait_for()
    assert "PERSON" in marked.first.inner_text()

    # 7. Compare two classifiers and download the stakeholder report.
    runs = json.loads(app.cli("runs", "list", "--json"))
    first = min(r["id"] for r in runs if r["task"] == "classification")
    second = json.loads(app.cli("train", "--dataset", "1", "--model", "minilm-l6", "--max-steps", "4",
                                "--name", "short", "--wait", "--json"))["id"]
    page.goto(f"{app.url}/compare?runs={first},{second}")
    page.locator(_key("compare_curves")).wait_for(timeout=120_000)
    page.get_by_role("button", name="Build the report").click()
    with page.expect_download(timeout=120_000) as download:
        page.get_by_role("button", name="Download the report").click()
    html = open(download.value.path(), encoding="utf-8").read()
    assert "<html" in html.lower() and "plotly" in html.lower()
    assert not re.search(r"<script[^>]+src=[\"']https?://", html)
