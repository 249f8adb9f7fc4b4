"""Tabular playground: the form's fields, one prediction, a CSV in and a CSV out, clear refusals."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from core.config import get_settings
from core.errors import DatasetError, RunStateError
from core.inference import tabular_predict
from core.store import runs
from core.store.db import session_scope
from core.store.orm import Dataset
from core.tasks.tabular import Preprocessor


def frame(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    out = pd.DataFrame({"spend": rng.normal(50, 10, n), "plan": rng.choice(["basic", "pro"], n)})
    out["label"] = np.where((out["spend"] > 50) | (out["plan"] == "pro"), "stay", "churn")
    return out


@pytest.fixture
def run_id(home):
    from core.ml.tabular_model import TabularPredictor, encode_targets, make_config, train_mlp

    with session_scope(write=True) as s:
        row = Dataset(name="churn", version=1, task="tabular", source_filename="c.csv", content_hash="x",
                      path="datasets/c.parquet", mapping={}, split_sizes={}, quality={}, info={},
                      row_count=1)
        s.add(row)
        s.flush()
        dataset_id = row.id
    run = runs.create_run(dataset_id=dataset_id, model_key="mlp", task="tabular", config={}, seed=1)
    data = frame()
    pre = Preprocessor.fit(data, {"spend": "numeric", "plan": "categorical"})
    config = make_config("classification", len(pre.output_names), data["label"], (16,))
    model, _ = train_mlp(pre.transform(data), encode_targets(config, data["label"]), config, epochs=40)
    folder = get_settings().runs_dir / str(run.id) / "model"
    TabularPredictor(pre, model).save(folder)
    runs.transition(run.id, "running")
    runs.transition(run.id, "succeeded", output_dir=get_settings().relative(folder.parent))
    tabular_predict.clear_models()
    yield run.id
    tabular_predict.clear_models()


def test_form_fields_come_from_the_training_rows(run_id):
    fields = {f.name: f for f in tabular_predict.feature_fields(run_id)}
    assert fields["spend"].kind == "numeric" and fields["spend"].default == pytest.approx(
        frame()["spend"].median())
    assert fields["plan"].choices == ("basic", "pro") and fields["plan"].default == "basic"


def test_one_prediction_with_probabilities(run_id):
    out = tabular_predict.predict_one(run_id, {"spend": "80", "plan": "basic"})
    assert out["predicted"] == "stay" and set(out["probabilities"]) == {"churn", "stay"}
    assert sum(out["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert tabular_predict.predict_one(run_id, {"spend": 20.0, "plan": "basic"})["predicted"] == "churn"


def test_csv_in_csv_out(run_id):
    data = frame(10).drop(columns="label").to_csv(index=False).encode()
    table, csv = tabular_predict.predict_csv(run_id, data, "rows.csv")
    assert len(table) == 10 and {"predicted", "confidence", "p:churn", "p:stay"} <= set(table.columns)
    back = pd.read_csv(io.BytesIO(csv))
    assert list(back.columns) == list(table.columns) and len(back) == 10


def test_missing_column_and_wrong_runs_are_refused(run_id):
    with pytest.raises(DatasetError, match="'plan'"):
        tabular_predict.predict_rows(run_id, pd.DataFrame({"spend": [1.0]}))
    other = runs.create_run(dataset_id=runs.get_run(run_id).dataset_id, model_key="mlp", task="tabular",
                            config={}, seed=1)
    with pytest.raises(RunStateError, match="no trained model"):
        tabular_predict.feature_fields(other.id)
