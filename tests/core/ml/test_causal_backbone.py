"""A causal LM (SmolLM2's architecture, byte-level tokenizer) as the backbone of a text classifier."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.tiny_chat import build_tiny_chat_lm

TEXTS = ["这部电影非常好看", "剧情很无聊，浪费时间", "演员的表演很出色", "我不推荐这部电影"]


def test_a_local_causal_lm_trains_as_a_classifier_on_chinese_text(home: Path, tmp_path: Path) -> None:
    from core.data import datasets
    from core.inference.generation import clear_loaded
    from core.inference.predict import clear_cache, predict_texts
    from core.models import catalog
    from core.run_config import TrainConfig
    from core.training import service as training
    from core.training import worker

    clear_loaded()
    info = catalog.add_local_model(str(build_tiny_chat_lm(tmp_path / "tiny-llama", seed=2)))
    assert info.family == "causal-lm" and "classification" in info.tasks
    assert "classification" in catalog.get_model(catalog.SMOLLM2_KEY).tasks
    frame = pd.DataFrame({"text": [f"{t} {i}" for i in range(10) for t in TEXTS],
                          "label": ["好", "差", "好", "差"] * 10})
    parsed = datasets.frame_to_parsed(frame, "cn.csv")
    saved = datasets.save_dataset(parsed, {"text": "text", "label": "label"}, name="cn",
                                  task="classification", split=datasets.SplitConfig(0.2, 0.2, seed=1),
                                  model_key=info.key, max_length=32)
    # The byte-level tokenizer reads every character: no unknown-token warning for this model.
    assert "unknown_tokens" not in {f["code"] for f in saved.quality["findings"]}
    assert saved.quality["stats"]["vocabulary"]["unknown_share"] == 0.0
    training.set_launcher(worker.InlineLauncher())
    try:
        cfg = TrainConfig.from_preset("full", max_steps=3, batch_size=8, learning_rate=1e-3, eval_every=3,
                                      max_length=32, eval_batch_size=8, warmup_ratio=0.0)
        run = training.start_run(training.TrainRequest(dataset_id=saved.id, model_key=info.key, config=cfg))
        assert run.status == "succeeded", (run.status_reason, training.run_logs(run.id))
        predicted = predict_texts(run.id, ["这部电影非常好看"])
        assert predicted["label"].iloc[0] in ("好", "差")
    finally:
        training.set_launcher(None)
        clear_cache()
        clear_loaded()
