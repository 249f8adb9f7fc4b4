"""A relabel round through the real pages in headless Chromium.

A finished classifier's Evaluation page: mark two labels wrong with their right class, make v2;
the Datasets page shows the lineage and trains again on v2 with the same settings; the Compare
page names the two versions and scores both runs on the same test rows. The runs use a tiny
1-layer encoder for a few steps, so the whole round stays short on a CPU.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import idle as _idle
from tests.e2e.conftest import serve_app
from tests.e2e.conftest import st_key as _key

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _wait_finished(app, run_id: int, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = json.loads(app.cli("runs", "show", str(run_id), "--json"))["status"]
        if status not in ("queued", "running"):
            assert status == "succeeded", status
            return
        time.sleep(2)
    pytest.fail(f"Run {run_id} did not finish in {timeout} s.")


def _check_wrong(page, suffix: str, number: int) -> None:
    """Say the label of the row the form shows is wrong (the other class), with a reason, and save; the
    form then moves on to the next row."""
    _idle(page)
    page.locator(_key("evaluation_check_verdict" + suffix)).get_by_text("The label is wrong").click()
    _idle(page)
    reason = page.locator(f"{_key('evaluation_check_reason' + suffix)} input")
    reason.fill(f"check number {number}")
    reason.press("Enter")
    _idle(page)
    page.locator(f"{_key('evaluation_check_save')} button").click()
    page.get_by_text(re.compile(r"label is wrong, it should be .*Next: row")).wait_for()
    _idle(page)


def test_a_relabel_round_through_the_pages(home: Path, tmp_path: Path, browser) -> None:
    from tiny_models import build_tiny_encoder

    from core.data import datasets
    from core.training.service import TrainConfig
    from tests.pages.seed import save_labelled_reviews, seed_predicted_run

    # A finished run of a tiny encoder that, like one trained for three steps, answers one class.
    build_tiny_encoder(home / "models" / "tiny-bert")
    v1 = save_labelled_reviews()
    test = datasets.load_dataset_frame(v1.id, "test")
    config = TrainConfig(max_steps=3, batch_size=8, max_length=32)
    first = seed_predicted_run(v1.id, ["rotten"] * len(test), name="first", model_key="local:tiny-bert",
                               config=config).to_dict()
    with serve_app(home) as app:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            # 1. The Evaluation page of the finished run: two labels are wrong.
            page.goto(f"{app.url}/evaluation?run={first['id']}")
            page.get_by_text("Check the labels").first.wait_for(timeout=120_000)
            _idle(page)
            suffix = f"{first['id']}_test"
            _check_wrong(page, suffix, 1)
            _check_wrong(page, suffix, 2)  # the reason's Enter reruns the page: the form shows the next row
            make = page.locator(f"{_key('evaluation_check_make_version')} button")
            assert "Make version 2 with 2 fixed labels" in make.inner_text()
            make.click()
            page.get_by_text(re.compile(r"Saved reviews v2 \(id 2\): 2 labels fixed")).wait_for()

            # 2. The Datasets page: the lineage, the changed rows, and train again on v2.
            page.goto(f"{app.url}/datasets")
            page.get_by_role("tab", name="Saved versions").click()
            page.get_by_text("v1 → v2: 2 labels fixed by 1 person").wait_for()
            _idle(page)
            page.get_by_role("button", name=re.compile("Train again on v2")).click()
            queued = page.get_by_text(re.compile(r"Run \d+ queued on reviews v2"))
            queued.wait_for()
            second = int(re.search(r"Run (\d+) queued", queued.inner_text()).group(1))
            _wait_finished(app, second)
            shown = json.loads(app.cli("runs", "show", str(second), "--json"))
            assert shown["dataset_id"] == 2 and shown["config"]["max_steps"] == 3
            assert shown["model_key"] == "local:tiny-bert"

            # 3. The Compare page names the versions and compares on the same test rows.
            page.goto(f"{app.url}/compare?runs={first['id']},{second}")
            named = f"Run {first['id']} trained on reviews v1, run {second} on v2 (2 labels fixed)."
            page.get_by_text(named).wait_for(timeout=120_000)
            same = "On the same 20 test rows, scored against the labels of reviews v2"
            page.get_by_text(re.compile(same)).wait_for()
        finally:
            page.screenshot(path=str(tmp_path / "last-page.png"), full_page=True)
            context.close()
