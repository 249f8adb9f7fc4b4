"""The export's README.md, built with ``huggingface_hub.ModelCard``: base model, task, metrics, licence.

The YAML header is ``ModelCardData`` (``base_model``, ``license``, ``pipeline_tag``, ``tags`` and a
``model-index`` of the run's test/validation metrics), so the Hub and any tool that reads model
cards see the same facts as the text below it. Nothing here touches the network.
"""

from __future__ import annotations

import json
from typing import Any

from core.errors import UserError
from core.results.report_snippets import code_snippet, task_sentence
from core.task_specs import SPECS

# Catalogue keys of bundled models -> their Hub ids (the base_model a card names).
BASE_MODEL_IDS = {"minilm-l6": "sentence-transformers/all-MiniLM-L6-v2",
                  "smollm2-135m-instruct": "HuggingFaceTB/SmolLM2-135M-Instruct"}
PIPELINE_TAGS = {spec.task: spec.pipeline_tag for spec in SPECS}  # from core.task_specs
LICENCES = {"apache-2.0": "apache-2.0", "mit": "mit", "bsd-3-clause": "bsd-3-clause"}
SCALARS_PER_SPLIT = 8


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)
            and k != "n"}


def base_model_id(model_key: str) -> str | None:
    """The Hub id of the model a run started from (None for tabular models and local folders)."""
    if model_key.startswith("hub:"):
        return model_key.removeprefix("hub:")
    return BASE_MODEL_IDS.get(model_key)


def _licence(model_key: str) -> str | None:
    from core.models import catalog

    try:
        text = catalog.get_model(model_key).licence
    except UserError:
        return None
    return LICENCES.get(text.strip().lower())


def _pipeline_tag(facts: dict[str, Any], labels: dict[str, Any]) -> str:
    if facts["task"] == "tabular" and not labels["id2label"]:
        return "tabular-regression"
    return PIPELINE_TAGS.get(facts["task"], "other")


def card_data(facts: dict[str, Any], labels: dict[str, Any]) -> Any:
    """The card's YAML header as ``huggingface_hub.ModelCardData``."""
    from huggingface_hub import EvalResult, ModelCardData

    name = facts["name"] or f"run {facts['id']}"
    ds = facts["dataset"]
    dataset_name = f"{ds['name']} v{ds['version']}" if ds else "the team's data"
    tag = _pipeline_tag(facts, labels)
    results = [EvalResult(task_type=tag, dataset_type="use-case-lab", dataset_name=dataset_name,
                          dataset_split=split, metric_type=key, metric_value=float(value))
               for split, model, metrics in sorted(facts["evals"]) if model == "run"
               for key, value in list(_scalars(metrics).items())[:SCALARS_PER_SPLIT]]
    tabular = facts["task"] == "tabular"
    return ModelCardData(
        base_model=base_model_id(facts["model_key"]), license=_licence(facts["model_key"]),
        library_name=None if tabular else "transformers", pipeline_tag=tag,
        tags=["use-case-lab", facts["task"]] + (["skops"] if facts["model_key"] == "hist-gradient-boosting"
                                                 else ["safetensors"]),
        model_name=name, eval_results=results or None)


def build_model_card(facts: dict[str, Any], labels: dict[str, Any], usage: str | None = None) -> str:
    """README.md: a ModelCardData header, then data, metrics, intended use, limits and how to load it."""
    from huggingface_hub import ModelCard

    data = card_data(facts, labels)
    ds = facts["dataset"]
    data_name = ds["name"] if ds else "the team's data"
    base = base_model_id(facts["model_key"])
    origin = (f"Fine-tuned from `{base}` (catalogue key `{facts['model_key']}`)" if base
              else f"Trained from `{facts['model_key']}`")
    lines = [f"# {facts['name'] or 'run ' + str(facts['id'])}", "",
             f"{origin} with Use Case Lab (run {facts['id']}).", "",
             "## Intended use", "", task_sentence(facts["task"], data_name), ""]
    if labels["id2label"]:
        lines += [f"Labels: {', '.join(str(v) for v in labels['id2label'].values())}.", ""]
    lines += ["## Data", ""]
    if ds:
        splits = ", ".join(f"{k} {v}" for k, v in ds["splits"].items())
        lines += [f"Dataset '{ds['name']}' version {ds['version']} (from `{ds['source']}`): "
                  f"{ds['rows']} rows ({splits}).", ""]
    if facts["config"].get("max_train_rows"):
        lines += [f"Training used at most {facts['config']['max_train_rows']} training rows.", ""]
    lines += ["## Metrics", ""]
    for split, model, metrics in sorted(facts["evals"], key=lambda e: (e[0], e[1] != "run", e[1])):
        values = ", ".join(f"{k} {v:.4g}" for k, v in list(_scalars(metrics).items())[:SCALARS_PER_SPLIT])
        who = "this model" if model == "run" else f"baseline {model}"
        lines.append(f"- {split}, {who}: {values or 'no numbers'}")
    settings = {k: facts["config"].get(k) for k in ("epochs", "max_steps", "learning_rate", "batch_size",
                                                     "max_length", "lora", "seed")}
    licence = (f"Licence: {data.license}, as the base model's." if data.license else
               "Licence: not set; the base model's licence and the data's terms apply.")
    lines += ["", f"Training settings: {json.dumps(settings)}; {facts['elapsed'] / 60:.1f} min on "
              f"{facts['device'] or 'cpu'}.", "", licence, "",
              "## Limits", "",
              "- It has only seen the examples above; inputs unlike them (other topics, languages, "
              "styles, ranges of values) will be handled worse than the metrics suggest.",
              "- The metrics come from a held-out part of the same data, not from real use: "
              "check it on fresh examples before relying on it.",
              "- It inherits the biases of its base model and of the training data; do not use it "
              "for decisions about people without human review.", "",
              "## How to use", "", "```python", (usage or code_snippet(facts["task"], ".")).rstrip(), "```",
              ""]
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines))
    return str(card)
