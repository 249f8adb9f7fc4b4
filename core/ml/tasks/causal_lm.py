"""Causal-LM fine-tuning: chat template applied, loss on the answer tokens, sample answers at each evaluation.

Rows become token ids as the model will see them when chatting: prompt + completion pairs turn
into a user and an assistant turn, ``messages`` are used as they are, both rendered with the
tokenizer's chat template; plain text is trained on as raw text followed by the end token. By
default only the assistant's tokens (its text and its end token) count in the loss (labels -100
elsewhere); ``task_options={"train_on_all_tokens": True}`` counts every token. The validation loss
selects the best checkpoint; perplexity is exp(loss). At the start and at every evaluation the
model answers a few fixed validation prompts greedily; the answers go to ``samples.jsonl`` in the
run folder (read by ``core.inference.generation.sample_generations``) and to the run log.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from transformers import TrainerCallback

from core.errors import ConfigError
from core.ml.callbacks import RecorderAware
from core.ml.models import load_causal_lm, load_tokenizer
from core.ml.tasks.base import FeatureDataset, TaskAdapter, TaskBundle, TaskInputs, read_meta, register
from core.run_config import TrainConfig
from core.run_folder import SAMPLES_FILE, RunFolder
from core.tasks import chat
from core.tasks.chat_template import render_chat

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def _spans(tokenizer: Any, messages: list[dict[str, str]], text: str) -> list[tuple[int, int]] | None:
    """Character spans of the assistant turns (text + end token) in the rendered conversation."""
    spans, cursor, eos = [], 0, tokenizer.eos_token or ""
    for message in messages:
        start = text.find(message["content"], cursor)
        if start < 0:
            return None  # the template rewrote the text: fall back to training on every token
        end = start + len(message["content"])
        if chat.is_target(message):  # tool calls and tool results are context only
            stop = end + len(eos) if eos and text.startswith(eos, end) else end
            spans.append((start, stop))
        cursor = end
    return spans


def _for_template(tokenizer: Any, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The turns as the chat template accepts them: tool results become user turns where the
    template refuses a 'tool' role (they stay context either way)."""
    if not any(m["role"] == "tool" for m in messages):
        return messages
    try:
        render_chat(tokenizer, messages)
        return messages
    except Exception:  # noqa: BLE001 - jinja raises its own errors for roles it does not know
        return [{**m, "role": "user", "content": f"[tool result]\n{m['content']}"}
                if m["role"] == "tool" else m for m in messages]


def encode_row(tokenizer: Any, record: dict[str, Any], fmt: str, columns: dict[str, str], max_length: int,
               completion_only: bool = True, row_number: int = 0) -> dict[str, list[int]] | None:
    """input_ids, attention_mask and labels of one row (None when nothing is left to learn)."""
    messages = chat.row_to_messages(record, fmt, columns, row_number)
    if messages is None:
        text = str(record[columns["text"]]) + (tokenizer.eos_token or "")
        spans = None
    else:
        messages = _for_template(tokenizer, messages)
        text = render_chat(tokenizer, messages).text  # a runaway template falls back to ChatML
        spans = _spans(tokenizer, messages, text) if completion_only else None
    enc = tokenizer(text, add_special_tokens=False, truncation=True, max_length=max_length,
                    return_offsets_mapping=spans is not None)
    ids = list(enc["input_ids"])
    if spans is None:
        labels = list(ids)
    else:
        labels = [t if any(s <= start < e for s, e in spans) else -100
                  for t, (start, _) in zip(ids, enc["offset_mapping"], strict=True)]
    if not ids or all(label == -100 for label in labels):
        return None
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}


def encode_frame(tokenizer: Any, frame: pd.DataFrame, fmt: str, columns: dict[str, str], max_length: int,
                 completion_only: bool = True) -> tuple[list[dict[str, list[int]]], list[int]]:
    """Features of every usable row, and the positions of rows left out (empty after truncation)."""
    features, dropped = [], []
    for i, record in enumerate(frame.to_dict("records")):
        row = encode_row(tokenizer, record, fmt, columns, max_length, completion_only, i + 1)
        if row is None:
            dropped.append(i)
        else:
            features.append(row)
    return features, dropped


class CausalCollator:
    """Pads each batch to its longest row: pad id for inputs, 0 for the mask, -100 for labels."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad = pad_token_id

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in features)
        out: dict[str, list[list[int]]] = {"input_ids": [], "attention_mask": [], "labels": []}
        for f in features:
            gap = width - len(f["input_ids"])
            out["input_ids"].append(list(f["input_ids"]) + [self.pad] * gap)
            out["attention_mask"].append(list(f["attention_mask"]) + [0] * gap)
            out["labels"].append(list(f["labels"]) + [-100] * gap)
        return {k: torch.tensor(v, dtype=torch.long) for k, v in out.items()}


def prompt_of(tokenizer: Any, record: dict[str, Any], fmt: str,
              columns: dict[str, str]) -> tuple[str, str, str]:
    """(text shown, model input, reference answer) of one row: the conversation up to its last answer."""
    messages = chat.row_to_messages(record, fmt, columns)
    if messages is None:
        words = str(record[columns["text"]]).split()
        head = " ".join(words[:max(1, min(12, len(words) // 2))])
        return head, head, " ".join(words[len(head.split()):])
    messages = _for_template(tokenizer, messages)
    last = chat.last_target(messages)
    shown = next((m["content"] for m in reversed(messages[:last]) if m["role"] == "user"), "")
    rendered = render_chat(tokenizer, messages[:last] if last else [], add_generation_prompt=True).text
    return shown, rendered, messages[last]["content"]


@torch.no_grad()
def greedy_answers(model: Any, tokenizer: Any, inputs: list[str], max_new_tokens: int = 32) -> list[str]:
    """Greedy answers to rendered prompts (the model is put back in its training mode afterwards)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    answers = []
    try:
        for text in inputs:
            enc = tokenizer(text, add_special_tokens=False, return_tensors="pt").to(device)
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            new = out[0, enc["input_ids"].shape[1]:]
            answers.append(tokenizer.decode(new, skip_special_tokens=True).strip())
    finally:
        model.train(was_training)
    return answers


class SampleAnswersCallback(RecorderAware, TrainerCallback):
    """Adds perplexity to each evaluation and records the model's answers to fixed prompts."""

    def __init__(self, tokenizer: Any, prompts: list[tuple[str, str, str]], max_new_tokens: int) -> None:
        self.tokenizer, self.prompts, self.max_new_tokens = tokenizer, prompts, max_new_tokens

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if state.global_step == 0 and state.is_world_process_zero:
            self._record(args, 0, model)  # the answers before training, to compare against

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None,
                    model: Any = None, **kwargs: Any) -> None:
        if metrics is not None and "eval_loss" in metrics:
            metrics["eval_perplexity"] = perplexity(metrics["eval_loss"])
        if state.is_world_process_zero:
            self._record(args, state.global_step, model)

    def _record(self, args: Any, step: int, model: Any) -> None:
        if model is None or not self.prompts:
            return
        answers = greedy_answers(model, self.tokenizer, [p[1] for p in self.prompts], self.max_new_tokens)
        run_dir = Path(args.output_dir).parent
        now = time.strftime("%Y-%m-%dT%H:%M:%S")
        with (run_dir / SAMPLES_FILE).open("a", encoding="utf-8") as fh:
            for (shown, _, reference), answer in zip(self.prompts, answers, strict=True):
                fh.write(json.dumps({"step": step, "prompt": shown, "output": answer, "reference": reference,
                                     "at": now}, ensure_ascii=False) + "\n")
        self.recorder.log(f"Sample answer at step {step}: {self.prompts[0][0][:60]!r} -> "
                          f"{answers[0][:100]!r}")


def perplexity(loss: float) -> float:
    """exp(loss), capped so a diverged model reports a huge number rather than overflowing."""
    return math.exp(min(float(loss), 50.0)) if math.isfinite(loss) else float("inf")


def _format(inputs: TaskInputs) -> tuple[str, dict[str, str]]:
    mapping = dict(inputs.dataset_info.get("mapping") or {})
    return chat.detect_format(inputs.train.columns, {"format": mapping.get("format")})


@register("causal-lm")
class CausalLMAdapter(TaskAdapter):
    """Full fine-tune or LoRA of a causal language model on text, pairs or conversations."""

    lora_task_type = "CAUSAL_LM"

    def check(self, inputs: TaskInputs) -> None:
        if inputs.train.empty:
            raise ConfigError("The dataset has no training rows. Add rows or change its split.")
        _format(inputs)

    def build(self, inputs: TaskInputs) -> TaskBundle:
        cfg, opts = inputs.config, inputs.config.task_options
        fmt, columns = _format(inputs)
        completion_only = not opts.get("train_on_all_tokens", False)
        tokenizer = load_tokenizer(inputs.model_dir)
        model = load_causal_lm(inputs.model_dir)
        model.config.use_cache = False  # no KV cache while training (generation turns it on itself)
        train, dropped = encode_frame(tokenizer, inputs.train, fmt, columns, cfg.max_length, completion_only)
        if not train:
            raise ConfigError(f"No training row has answer tokens within the max length of {cfg.max_length}; "
                              "raise the max length or shorten the prompts.")
        held_out = inputs.validation if not inputs.validation.empty else inputs.train
        validation, _ = encode_frame(tokenizer, held_out, fmt, columns, cfg.max_length, completion_only)
        n_samples = int(opts.get("sample_prompts", 3))
        prompts = [prompt_of(tokenizer, r, fmt, columns) for r in held_out.head(n_samples).to_dict("records")]
        meta = {"format": fmt, "columns": columns, "max_length": cfg.max_length,
                "completion_only": completion_only, "rows_left_out": len(dropped),
                "sample_prompts": [p[0] for p in prompts]}
        return TaskBundle(
            model=model, processing_class=tokenizer, train_dataset=FeatureDataset(train),
            eval_dataset=FeatureDataset(validation or train),
            data_collator=CausalCollator(tokenizer.pad_token_id),
            compute_metrics=None,  # eval loss only: gathering logits would cost batch × length × vocab floats
            metric_for_best_model="loss", greater_is_better=False, meta=meta,
            callbacks=[SampleAnswersCallback(tokenizer, prompts, int(opts.get("sample_tokens", 32)))])

    def evaluate(self, model: Any, processing_class: Any, frame: pd.DataFrame,
                 meta: dict[str, Any], config: TrainConfig) -> tuple[dict[str, Any], pd.DataFrame]:
        fmt, columns = meta["format"], meta["columns"]
        tok = processing_class
        records = frame.to_dict("records")
        rows = [encode_row(tok, r, fmt, columns, meta["max_length"], meta["completion_only"], i + 1)
                for i, r in enumerate(records)]
        losses = example_losses(model, tok, rows, batch_size=min(config.eval_batch_size, 8))
        n_generate = int(config.task_options.get("eval_generations", 5))
        prompts = [prompt_of(tok, r, fmt, columns) for r in records]
        answers = greedy_answers(model, tok, [p[1] for p in prompts[:n_generate]], 48)
        scored = [(n, s) for n, s in losses if n]
        tokens = sum(n for n, _ in scored)
        loss = sum(s for _, s in scored) / tokens if tokens else float("nan")
        metrics = {"loss": loss, "perplexity": perplexity(loss), "tokens": tokens, "examples": len(scored)}
        preds = pd.DataFrame({"prompt": [p[0] for p in prompts], "reference": [p[2] for p in prompts],
                              "generated": answers + [""] * (len(prompts) - len(answers)),
                              "loss": [s / n if n else None for n, s in losses]})
        preds["perplexity"] = [perplexity(v) if v is not None else None for v in preds["loss"]]
        return metrics, preds

    def save(self, model: Any, processing_class: Any, output_dir: Path, meta: dict[str, Any]) -> None:
        super().save(model, processing_class, output_dir, meta)
        save_lora_adapter(output_dir.parent)

    def load(self, output_dir: Path) -> tuple[Any, Any, dict[str, Any]]:
        return load_causal_lm(output_dir), load_tokenizer(output_dir), read_meta(output_dir)


@torch.no_grad()
def example_losses(model: Any, tokenizer: Any, rows: list[dict[str, list[int]] | None],
                   batch_size: int = 8) -> list[tuple[int, float]]:
    """(answer tokens, summed loss) of each row; (0, 0.0) for a row with nothing to score."""
    model.eval()
    device = next(model.parameters()).device
    collate = CausalCollator(tokenizer.pad_token_id)
    out: list[tuple[int, float]] = [(0, 0.0)] * len(rows)
    usable = [i for i, r in enumerate(rows) if r is not None]
    for b in range(0, len(usable), batch_size):
        idx = usable[b:b + batch_size]
        batch = {k: v.to(device) for k, v in collate([rows[i] for i in idx]).items()}
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
        labels = batch["labels"][:, 1:]
        nll = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), labels, ignore_index=-100,
                                                reduction="none")
        for j, i in enumerate(idx):
            out[i] = (int((labels[j] != -100).sum()), float(nll[j].sum()))
    return out


def save_lora_adapter(run_dir: Path) -> Path | None:
    """Copy the best checkpoint's LoRA adapter (if the run used LoRA) to ``run_dir/lora``."""
    folder = RunFolder(run_dir)
    checkpoints = sorted(folder.checkpoints.glob("checkpoint-*"),
                         key=lambda p: int(p.name.split("-")[-1]))
    if not checkpoints:
        return None
    state = checkpoints[-1] / "trainer_state.json"
    best = json.loads(state.read_text()).get("best_model_checkpoint") if state.is_file() else None
    source = Path(best) if best and Path(best).is_dir() else checkpoints[-1]
    if not (source / ADAPTER_FILES[0]).is_file():
        return None
    target = folder.lora
    target.mkdir(parents=True, exist_ok=True)
    for name in ADAPTER_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, target / name)
    return target


def merge_adapter(base_dir: Path, adapter_dir: Path, out_dir: Path) -> Path:
    """Merge a LoRA adapter into its base model and save a plain model folder (safetensors + tokenizer)."""
    from peft import PeftModel

    model = PeftModel.from_pretrained(load_causal_lm(base_dir), str(adapter_dir)).merge_and_unload()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    load_tokenizer(base_dir).save_pretrained(out_dir)
    return out_dir
