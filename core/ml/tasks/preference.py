"""Preference training (DPO) of a causal LM: TRL's ``DPOTrainer`` with its own config and loss.

A preference run trains LoRA adapters on top of its parent (a finished causal-LM run's final weights,
or a catalogue model); the reference model of DPO is the same weights with the adapters off (TRL
does that when it is given a ``peft_config`` and no reference model), so no second copy is held in
memory while training. The engine (``core.ml.trainer``) runs the trainer like any other: the same
progress, checkpoints, cancel, resume and NaN guard; the adapters are merged into the saved model,
so a finished preference run is a causal-LM run like any other (playground, server, GGUF, exports).

Rows of a preference dataset (``core.data.preferences``): ``prompt`` (a JSON list of chat messages,
the last one the user's), ``chosen`` and ``rejected`` (the two assistant answers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from transformers import TrainerCallback

from core.errors import ConfigError
from core.ml.models import load_causal_lm, load_tokenizer
from core.ml.tasks.base import TaskAdapter, TaskBundle, TaskInputs, read_meta, register
from core.ml.tasks.causal_lm import CausalCollator, save_lora_adapter
from core.ml.trainer import StepGuard, lora_targets
from core.run_config import PREFERENCE, TrainConfig
from core.tasks.chat_template import render_chat
from core.tasks.preference_metrics import pair_scores, preference_metrics

PAIR_COLUMNS = ("prompt", "chosen", "rejected")
# TRL's logged names -> the names the run's curves show (the rest of TRL's diagnostics are left out).
CURVE_NAMES = {"rewards/margins": "reward_margin", "rewards/accuracies": "reward_accuracy",
               "rewards/chosen": "reward_chosen", "rewards/rejected": "reward_rejected"}
LEFT_OUT = ("logits/chosen", "logits/rejected", "logps/chosen", "logps/rejected", "entropy", "num_tokens",
            "mean_token_accuracy")


def prompt_messages(value: Any) -> list[dict[str, str]]:
    """The conversation before the answer: a JSON message list (the stored form) or a plain prompt."""
    if isinstance(value, list):
        return [{"role": str(m["role"]), "content": str(m["content"])} for m in value]
    text = str(value)
    if text.lstrip().startswith("["):
        try:
            return prompt_messages(json.loads(text))
        except (ValueError, KeyError, TypeError):
            pass
    return [{"role": "user", "content": text}]


def shown_prompt(messages: list[dict[str, str]]) -> str:
    """The last user turn: what a person reads as the prompt."""
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def conversational_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """TRL's conversational preference rows: prompt messages, chosen and rejected assistant turns."""
    return [{"prompt": prompt_messages(r["prompt"]),
             "chosen": [{"role": "assistant", "content": str(r["chosen"])}],
             "rejected": [{"role": "assistant", "content": str(r["rejected"])}]}
            for r in frame.to_dict("records")]


class RewardCurves(TrainerCallback):
    """Renames TRL's reward metrics for the run's curves (reward margin, reward accuracy) and leaves
    its other diagnostics out; runs before the engine's progress callback, which records them."""

    @staticmethod
    def _rename(values: dict[str, Any] | None, prefix: str = "") -> None:
        if not values:
            return
        for old, new in CURVE_NAMES.items():
            if prefix + old in values:
                values[prefix + new] = values.pop(prefix + old)
        for name in LEFT_OUT:
            values.pop(prefix + name, None)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        self._rename(logs)

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None,
                    **kwargs: Any) -> None:
        self._rename(metrics, "eval_")


def _trainer_class() -> Any:
    from trl import DPOTrainer

    class GuardedDPOTrainer(StepGuard, DPOTrainer):
        """TRL's DPO trainer with the engine's NaN guard and fault hooks."""

    return GuardedDPOTrainer


@register(PREFERENCE)
class PreferenceAdapter(TaskAdapter):
    """DPO with LoRA on a causal LM; its saved model is a plain causal LM (adapters merged)."""

    lora_task_type = "CAUSAL_LM"

    def __init__(self) -> None:
        self.reference_dir: Path | None = None  # the parent's weights: the reference of the evaluation

    def check(self, inputs: TaskInputs) -> None:
        missing = [c for c in PAIR_COLUMNS if c not in inputs.train.columns]
        if missing:
            raise ConfigError(f"The dataset has no {', '.join(missing)} column; preference training needs "
                              "a preference dataset (prompt, chosen, rejected).")
        if inputs.train.empty:
            raise ConfigError("The preference dataset has no training pairs. Add pairs or change its split.")

    def build(self, inputs: TaskInputs) -> TaskBundle:
        import datasets
        from peft import LoraConfig
        from trl import DPOConfig

        cfg = inputs.config
        self.reference_dir = inputs.model_dir
        tokenizer = load_tokenizer(inputs.model_dir)
        model = load_causal_lm(inputs.model_dir)
        model.config.use_cache = False
        held_out = inputs.validation if not inputs.validation.empty else inputs.train
        train = datasets.Dataset.from_list(conversational_rows(inputs.train))
        validation = datasets.Dataset.from_list(conversational_rows(held_out))
        lora = LoraConfig(task_type="CAUSAL_LM", r=cfg.lora_rank, lora_alpha=cfg.lora_alpha,
                          lora_dropout=0.05, target_modules=lora_targets(model, cfg.lora_target))
        meta = {"format": "messages", "columns": {"messages": "messages"}, "max_length": cfg.max_length,
                "completion_only": True, "training_kind": PREFERENCE, "beta": cfg.beta,
                "parent_run_id": cfg.parent_run_id}
        return TaskBundle(
            model=model, processing_class=tokenizer, train_dataset=train, eval_dataset=validation,
            data_collator=None,  # TRL's own collator pads prompt, chosen and rejected
            compute_metrics=None, metric_for_best_model="loss", greater_is_better=False, meta=meta,
            callbacks=[RewardCurves()], trainer_class=_trainer_class(), arguments_class=DPOConfig,
            # length grouping reads `input_ids`, which DPO rows do not have; TRL tokenises in one process
            arguments={"beta": cfg.beta, "max_length": cfg.max_length, "train_sampling_strategy": "random",
                       "dataset_num_proc": None},
            trainer_kwargs={"peft_config": lora})

    def evaluate(self, model: Any, processing_class: Any, frame: pd.DataFrame,
                 meta: dict[str, Any], config: TrainConfig) -> tuple[dict[str, Any], pd.DataFrame]:
        """Log-probabilities of both answers of each held-out pair under the run and under its parent."""
        tok, length, beta = processing_class, int(meta.get("max_length") or config.max_length), \
            float(meta.get("beta") or config.beta)
        rows = conversational_rows(frame)
        batch = min(config.eval_batch_size, 8)
        mine = pair_logps(model, tok, rows, length, batch)
        parent: list[tuple[float | None, float | None]] = [(None, None)] * len(rows)
        if self.reference_dir is not None and Path(self.reference_dir).is_dir():
            reference = load_causal_lm(self.reference_dir)
            parent = pair_logps(reference, tok, rows, length, batch)
            del reference
        records = [{"prompt": shown_prompt(r["prompt"]), "chosen": r["chosen"][0]["content"],
                    "rejected": r["rejected"][0]["content"], "logp_chosen": c, "logp_rejected": rj,
                    "parent_logp_chosen": pc, "parent_logp_rejected": pr}
                   for r, (c, rj), (pc, pr) in zip(rows, mine, parent, strict=True)]
        scored = pair_scores(records, beta)
        return preference_metrics(scored, beta, seed=config.seed), pd.DataFrame(scored)

    def save(self, model: Any, processing_class: Any, output_dir: Path, meta: dict[str, Any]) -> None:
        output_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(output_dir)
        processing_class.save_pretrained(output_dir)
        # a causal LM like any other (playground, server, exports), which remembers how it was trained
        (output_dir / "task.json").write_text(json.dumps({"task": "causal-lm", **meta}, indent=2))
        save_lora_adapter(output_dir.parent)

    def load(self, output_dir: Path) -> tuple[Any, Any, dict[str, Any]]:
        return load_causal_lm(output_dir), load_tokenizer(output_dir), read_meta(output_dir)


def encode_pair_side(tokenizer: Any, prompt: list[dict[str, str]], answer: str,
                     max_length: int) -> dict[str, list[int]] | None:
    """input_ids and labels of prompt + answer (as the chat template renders the answer turn, its end
    token included), cut to max_length from the end like TRL keeps the start; None when no answer
    token is left."""
    head = render_chat(tokenizer, prompt, add_generation_prompt=True).text
    full = render_chat(tokenizer, [*prompt, {"role": "assistant", "content": answer}]).text
    tail = full[len(head):] if full.startswith(head) else answer + (tokenizer.eos_token or "")
    prompt_ids = tokenizer(head, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(tail, add_special_tokens=False)["input_ids"]
    ids = (list(prompt_ids) + list(answer_ids))[:max_length]
    labels = ([-100] * len(prompt_ids) + list(answer_ids))[:max_length]
    if all(label == -100 for label in labels):
        return None
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}


@torch.no_grad()
def pair_logps(model: Any, tokenizer: Any, rows: list[dict[str, Any]], max_length: int,
               batch_size: int = 8) -> list[tuple[float | None, float | None]]:
    """(log p(chosen | prompt), log p(rejected | prompt)) of each pair: the sum over the answer's tokens."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    sides = [encode_pair_side(tokenizer, r["prompt"], r[side][0]["content"], max_length)
             for r in rows for side in ("chosen", "rejected")]
    values: list[float | None] = [None] * len(sides)
    usable = [i for i, s in enumerate(sides) if s is not None]
    collate = CausalCollator(tokenizer.pad_token_id)
    try:
        for b in range(0, len(usable), batch_size):
            idx = usable[b:b + batch_size]
            batch = {k: v.to(device) for k, v in collate([sides[i] for i in idx]).items()}
            out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            logits = out.logits.float()
            labels = batch["labels"][:, 1:]
            logp = torch.log_softmax(logits[:, :-1], dim=-1)
            picked = logp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            picked = picked.masked_fill(labels == -100, 0.0).sum(dim=1)
            for j, i in enumerate(idx):
                values[i] = float(picked[j])
    finally:
        model.train(was_training)
    return [(values[2 * k], values[2 * k + 1]) for k in range(len(rows))]
