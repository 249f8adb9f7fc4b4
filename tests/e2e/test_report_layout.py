"""The offline report in a real browser: at 1,400 px nothing runs off the right edge."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fake_runs import add_dataset, add_run

from core.results import report
from core.results.evaluation import store_evaluation
from core.tasks import metrics as M

pytestmark = pytest.mark.e2e


def test_report_tables_fit_a_1400_px_window(home, browser) -> None:
    ds = add_dataset()
    run = add_run(ds, name="a fairly long run name for a sentiment model")
    y = np.array([0, 1, 2] * 40)
    names = ["fresh and lovely", "rotten to the core", "somewhere in between"]
    frame = pd.DataFrame({"text": ["a long review text " * 30] * len(y), "label": y, "predicted": y})
    store_evaluation(run, "test", "run", M.classification_metrics(y, y, names, curves=False), frame)
    for baseline in ("majority", "tfidf_logreg", "prompt:smollm2-135m-instruct"):
        store_evaluation(run, "test", baseline,
                         M.classification_metrics(y, np.zeros_like(y), names, curves=False), frame)
    page_html = report.build_report(run)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_content(page_html, wait_until="load")
    widest = page.evaluate("Math.max(...[...document.querySelectorAll('table')]"
                           ".map(t => t.getBoundingClientRect().right))")
    scroll = page.evaluate("document.documentElement.scrollWidth")
    first = page.evaluate("document.querySelector('p.verdict').innerText")
    context.close()
    assert widest <= 1400 and scroll <= 1400
    assert first.startswith("The fine-tuned model gets the answer right 100 % of the time on 120 test rows")
