"""The token-classification adapter: features, 2 training steps of a tiny BERT through the engine,
save/load, evaluation, baseline and playground; one slow real run of the bundled MiniLM."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from core.errors import ConfigError
from core.inference.ner_predict import clear_models, predict_entities
from core.ml.tasks.base import TaskInputs
from core.ml.tasks.registry import get_adapter
from core.ml.tasks.token_classification import TokenClassificationAdapter, predict_text, predict_words
from core.run_config import TrainConfig
from core.store import orm
from core.store.db import session_scope
from core.tasks.ner_align import IGNORED

WORDS = ["anna", "bob", "lee", "paid", "dell", "in", "oslo", "ship", "##ping", "to", "."]
SENTENCES = [
    (["Anna", "paid", "Dell", "."], ["B-PER", "O", "B-ORG", "O"]),
    (["Bob", "Lee", "shipping", "to", "Oslo"], ["B-PER", "I-PER", "O", "O", "B-LOC"]),
    (["Dell", "in", "Oslo"], ["B-ORG", "O", "B-LOC"]),
]


def frame(split: str, times: int = 1) -> pd.DataFrame:
    rows = [(t, g, split) for t, g in SENTENCES] * times
    return pd.DataFrame(rows, columns=["tokens", "tags", "split"])


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer BERT with a 16-word vocabulary, saved as safetensors like a real model folder."""
    from transformers import BertConfig, BertModel, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = {word: i for i, word in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS])}
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=True)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(WORDS) + 5,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(folder)
    return folder


def inputs_for(model_dir: Path, **config: object) -> TaskInputs:
    settings = {"max_steps": 2, "batch_size": 2, "eval_batch_size": 4, "max_length": 16, **config}
    return TaskInputs(
        task="token-classification",
        train=frame("train", 2),
        validation=frame("validation"),
        test=frame("test"),
        model_dir=model_dir,
        config=TrainConfig(**settings),
    )


def test_registry_returns_the_adapter_and_check_refuses_data_without_entities(tiny_bert):
    adapter = get_adapter("token-classification")
    assert isinstance(adapter, TokenClassificationAdapter) and adapter.lora_task_type == "TOKEN_CLS"
    no_entities = frame("train").assign(tags=lambda f: f["tags"].map(lambda t: ["O"] * len(t)))
    bad = TaskInputs(
        "token-classification", no_entities, frame("validation"), frame("test"), tiny_bert, TrainConfig()
    )
    with pytest.raises(ConfigError, match="no entity tags"):
        adapter.check(bad)


def test_build_aligns_labels_to_first_subwords_and_keeps_evaluation_per_word(tiny_bert):
    adapter = get_adapter("token-classification")
    bundle = adapter.build(inputs_for(tiny_bert, task_options={"label_all_subwords": True}))
    labels = bundle.meta["labels"]
    assert labels == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert bundle.model.config.id2label[5] == "B-PER" and bundle.metric_for_best_model == "entity_f1"
    # "Bob Lee shipping to Oslo": [CLS] bob lee ship ##ping to oslo [SEP]
    train_labels = bundle.train_dataset[1]["labels"]
    eval_labels = bundle.eval_dataset[1]["labels"]
    assert train_labels == [IGNORED, 5, 6, 0, 0, 0, 1, IGNORED]  # ##ping labelled too (option on)
    assert eval_labels == [IGNORED, 5, 6, 0, IGNORED, 0, 1, IGNORED]
    assert len(bundle.train_dataset) == 6 and len(bundle.eval_dataset) == 3


def test_tiny_bert_trains_two_steps_through_the_engine_then_saves_loads_and_evaluates(
    home, tiny_bert, tmp_path, capsys
):
    from core.store import runs
    from core.training.engine import train

    with session_scope(write=True) as s:
        dataset = orm.Dataset(
            name="ner",
            task="token-classification",
            source_filename="x.conll",
            content_hash="0" * 64,
            path="x.parquet",
            mapping={},
            split_sizes={},
            quality={},
            row_count=12,
        )
        s.add(dataset)
        s.flush()
        dataset_id = dataset.id
    run = runs.create_run(
        dataset_id=dataset_id, model_key="tiny", task="token-classification", config={}, seed=1
    )
    assert runs.claim_run(run.id, pid=1)
    adapter = get_adapter("token-classification")
    run_dir = home / "runs" / str(run.id)  # checkpoints are stored relative to UCLAB_HOME
    outcome = train(run.id, inputs_for(tiny_bert), adapter, run_dir, log=lambda _: None)
    assert outcome.status == "succeeded" and outcome.global_step == 2
    validation = runs.metrics_frame(run.id)
    assert {"entity_f1", "token_accuracy"} <= set(validation["name"])

    adapter.save(outcome.model, outcome.bundle.processing_class, run_dir / "model", outcome.bundle.meta)
    model, tokenizer, meta = adapter.load(run_dir / "model")
    metrics, predictions = adapter.evaluate(model, tokenizer, frame("test"), meta, TrainConfig())
    json.dumps(metrics)  # stored as JSON on the evaluations row
    assert 0 <= metrics["entity_f1"] <= 1 and [r["type"] for r in metrics["report"]][-3:] == [
        "micro avg",
        "macro avg",
        "weighted avg",
    ]
    assert metrics["error_counts"]["correct"] == round(metrics["entity_recall"] * 6)  # 6 gold entities
    assert list(predictions.columns) == ["text", "tokens", "tags", "predicted", "correct", "confidence"]
    assert [len(p) for p in predictions["predicted"]] == [4, 5, 3]
    predictions.to_parquet(tmp_path / "predictions.parquet")

    name, base_metrics, base_predictions = adapter.baselines(frame("train"), frame("test"))[0]
    assert name == "word_lookup" and base_metrics["entity_f1"] == 1.0  # the test repeats the train set
    assert base_predictions["correct"].all()

    # The playground service loads the succeeded run's model and returns plain values.
    runs.transition(run.id, "succeeded", reason="", output_dir=f"runs/{run.id}")
    found = predict_entities(run.id, "Anna  paid Dell.")
    assert [(w["word"], w["start"], w["end"]) for w in found["words"]] == [
        ("Anna", 0, 4),
        ("paid", 6, 10),
        ("Dell", 11, 15),
        (".", 15, 16),
    ]
    tags = [w["tag"] for w in found["words"]]
    assert [e["type"] for e in found["entities"]] == [t[2:] for t in tags if t.startswith("B-")]
    json.dumps(found)
    with pytest.raises(ConfigError, match="Type a text"):
        predict_entities(run.id, "  ")
    from core.cli import main
    from core.inference import predict

    assert predict.predict_entities(run.id, "Anna  paid Dell.") == found["entities"]  # the playground's call
    assert main(["predict", str(run.id), "--text", "Anna  paid Dell.", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed[0]["text"] == "Anna  paid Dell." and printed[0]["entities"] == found["entities"]
    assert main(["predict", str(run.id), "--text", "Bob in Oslo"]) == 0  # the readable rendering
    assert capsys.readouterr().out.startswith("Bob in Oslo")
    clear_models()


def test_playground_returns_entities_with_character_offsets(tiny_bert):
    adapter = get_adapter("token-classification")
    bundle = adapter.build(inputs_for(tiny_bert))
    model, labels = bundle.model.eval(), bundle.meta["labels"]
    with torch.no_grad():  # make the head say B-PER for every word, so the spans are known
        model.classifier.bias.fill_(0.0)
        model.classifier.bias[labels.index("B-PER")] = 50.0
    text = "Anna  paid Dell."
    entities = predict_text(model, bundle.processing_class, bundle.meta, text)
    assert [(e["type"], e["text"], e["start"], e["end"]) for e in entities] == [
        ("PER", "Anna", 0, 4),
        ("PER", "paid", 6, 10),
        ("PER", "Dell", 11, 15),
        ("PER", ".", 15, 16),
    ]
    assert all(e["confidence"] > 0.99 for e in entities)
    assert predict_text(model, bundle.processing_class, bundle.meta, "   ") == []
    # Words past the max length are tagged O with probability 0, never dropped.
    tags, scores = predict_words(
        model, bundle.processing_class, [["anna"] * 30], {**bundle.meta, "max_length": 8}
    )
    assert tags[0][:6] == ["B-PER"] * 6 and tags[0][6:] == ["O"] * 24 and scores[0][-1] == 0.0


def test_lora_wraps_the_tagger_and_keeps_the_new_head_trainable(tiny_bert):
    from core.ml.trainer import apply_lora

    adapter = get_adapter("token-classification")
    bundle = adapter.build(inputs_for(tiny_bert))
    model = apply_lora(bundle.model, TrainConfig(lora=True, lora_rank=4), adapter.lora_task_type)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert any("lora_" in name for name in trainable) and any("classifier" in name for name in trainable)
    batch = bundle.data_collator([bundle.train_dataset[i] for i in range(3)])
    out = model(**batch)
    assert out.logits.shape[-1] == len(bundle.meta["labels"]) and torch.isfinite(out.loss)


# ---------------------------------------------------------------- slow: the bundled MiniLM

FIRST = ["Anna", "Bob", "Maria", "Chen", "Omar", "Lucy", "Ivan", "Sara", "Tom", "Priya"]
LAST = ["Smith", "Garcia", "Khan", "Novak", "Lee", "Brown"]
PRODUCTS = [
    ["Galaxy", "S21"],
    ["iPhone", "13"],
    ["ThinkPad", "X1"],
    ["Kindle"],
    ["Pixel", "7"],
    ["Surface", "Pro"],
]
CITIES = ["Berlin", "Lyon", "Austin", "Madrid", "Oslo", "Dublin", "Toronto", "Denver"]
TEMPLATES = [
    "{PER} says the {PROD} she ordered never arrived in {LOC} .",
    "My {PROD} stopped charging , please call me , {PER} .",
    "Can {PER} send a new {PROD} to our office in {LOC} ?",
    "The {PROD} was delivered to {LOC} but {PER} was not home .",
    "Hello , this is {PER} from {LOC} , my {PROD} screen is cracked .",
    "Refund the {PROD} for {PER} please .",
]


def synthetic_tickets(n: int, seed: int) -> pd.DataFrame:
    """Support-ticket sentences with PER, PROD and LOC entities (written for this test)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        tokens: list[str] = []
        tags: list[str] = []
        for piece in rng.choice(TEMPLATES).split():
            slot = {"{PER}": "PER", "{PROD}": "PROD", "{LOC}": "LOC"}.get(piece)
            if slot is None:
                tokens.append(piece)
                tags.append("O")
                continue
            words = {
                "PER": lambda: [rng.choice(FIRST)] + ([rng.choice(LAST)] if rng.random() < 0.5 else []),
                "PROD": lambda: rng.choice(PRODUCTS),
                "LOC": lambda: [rng.choice(CITIES)],
            }[slot]()
            tokens += words
            tags += [f"B-{slot}"] + [f"I-{slot}"] * (len(words) - 1)
        rows.append((tokens, tags))
    return pd.DataFrame(rows, columns=["tokens", "tags"])


def sample_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The gallery's NER sample when it exists (its own split), else the synthetic tickets."""
    from core.tasks.ner import read_token_file

    sample = Path(__file__).resolve().parents[3] / "core" / "data" / "samples" / "support_tickets_ner.jsonl"
    if sample.exists():
        data = read_token_file(sample.read_bytes(), sample.name).sample(frac=1.0, random_state=0)
        cut = int(len(data) * 0.8)
        return data.iloc[:cut].head(300), data.iloc[cut:].head(80)
    return synthetic_tickets(240, seed=1), synthetic_tickets(80, seed=2)


@pytest.mark.slow
def test_a_short_minilm_run_improves_entity_f1_over_the_untrained_model(tmp_path):
    from transformers import Trainer, TrainingArguments

    from core.models.assets import minilm_dir

    train, test = sample_frames()
    adapter = get_adapter("token-classification")
    config = TrainConfig(epochs=2, batch_size=16, learning_rate=2e-4, max_length=48, warmup_ratio=0.1)
    inputs = TaskInputs("token-classification", train, test, test, minilm_dir(), config)
    bundle = adapter.build(inputs)
    before, _ = adapter.evaluate(bundle.model, bundle.processing_class, test, bundle.meta, config)
    started = time.perf_counter()
    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=16,
        learning_rate=2e-4,
        num_train_epochs=2,
        warmup_steps=0.1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        seed=42,
        train_sampling_strategy="group_by_length",
    )
    Trainer(
        model=bundle.model, args=args, train_dataset=bundle.train_dataset, data_collator=bundle.data_collator
    ).train()
    after, predictions = adapter.evaluate(bundle.model, bundle.processing_class, test, bundle.meta, config)
    print(
        f"entity F1 {before['entity_f1']:.3f} -> {after['entity_f1']:.3f} "
        f"in {time.perf_counter() - started:.0f}s on {len(train)} sentences"
    )
    assert before["entity_f1"] < 0.2
    assert after["entity_f1"] > before["entity_f1"] + 0.4
    assert after["entity_f1"] > 0.6 and predictions["correct"].mean() > 0.3
