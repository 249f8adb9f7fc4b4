"""The two tabular catalogue models through the service with default settings, as a person starts them."""

from __future__ import annotations

import pytest

from core.data.gallery import import_gallery
from core.inference import tabular_predict
from core.results.evaluation import get_evaluation
from core.run_config import TrainConfig
from core.training import service as training
from core.training.worker import InlineLauncher


def _train(dataset_id: int, model_key: str) -> int:
    config = TrainConfig.from_preset("full", task="tabular")
    run = training.start_run(training.TrainRequest(dataset_id, model_key, config),
                             launcher=InlineLauncher())
    assert run.status == "succeeded", run.status_reason
    return run.id


def test_the_default_mlp_matches_logistic_regression_on_iris(home):
    # Before the defaults judged the validation loss each epoch (and stopped early), 30 fixed epochs
    # left this run at 0.733 test accuracy against 0.933 for logistic regression.
    run_id = _train(import_gallery("iris").id, "mlp")
    evaluation = get_evaluation(run_id, "test")
    linear = {b.name: b.metrics for b in evaluation.baselines}["logistic_regression"]
    assert evaluation.metrics["accuracy"] >= linear["accuracy"]
    assert training.get_run(run_id).step < TrainConfig.from_preset("full", task="tabular").epochs * 4


def test_gradient_boosting_trains_evaluates_and_predicts_as_a_model_of_its_own(home):
    tabular_predict.clear_models()
    run_id = _train(import_gallery("wine").id, "hist-gradient-boosting")
    info = training.get_run(run_id)
    assert info.step == info.total_steps == 1
    folder = home / info.output_dir / "model"
    assert (folder / "model.skops").is_file() and not list(folder.glob("*.safetensors"))
    assert not [p for p in folder.rglob("*") if p.suffix in (".pkl", ".pickle", ".joblib", ".bin")]

    evaluation = get_evaluation(run_id, "test")
    baseline = {b.name: b.metrics for b in evaluation.baselines}["hist_gradient_boosting"]
    # The same estimator on the same rows as the baseline: the same score, now a model you can ship.
    assert evaluation.metrics["accuracy"] == pytest.approx(baseline["accuracy"])
    assert evaluation.metrics["confusion_matrix"] and evaluation.metrics["feature_importance"]["features"]

    fields = tabular_predict.feature_fields(run_id)
    out = tabular_predict.predict_one(run_id, {f.name: f.default for f in fields})
    assert out["predicted"] in out["probabilities"] and sum(out["probabilities"].values()) == pytest.approx(1)


def test_a_skops_file_with_unexpected_types_is_refused(home, tmp_path):
    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from core.errors import ModelError
    from core.tasks.tabular_gbm import GBM_CONFIG_FILE, GBM_FILE, GradientBoostingModel

    sio.dump(Pipeline([("f", FunctionTransformer(print))]), tmp_path / GBM_FILE)
    (tmp_path / GBM_CONFIG_FILE).write_text('{"kind": "regression"}')
    with pytest.raises(ModelError, match="types this app does not load"):
        GradientBoostingModel.from_pretrained(tmp_path)


def test_the_estimate_of_a_tabular_run_is_seconds_not_an_encoder_s_minutes(home):
    iris = import_gallery("iris").id
    config = TrainConfig.from_preset("full", task="tabular")
    mlp = training.estimate_run(iris, "mlp", config)
    gbm = training.estimate_run(iris, "hist-gradient-boosting", config)
    assert mlp.steps == 200 * 4 and mlp.seconds < 60 and "early stopping" in mlp.speed_source
    assert gbm.steps == 1 and gbm.seconds < mlp.seconds
