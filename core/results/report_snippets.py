"""Plain sentences and code snippets for the report and the model card, by task."""

from __future__ import annotations

import html

SENTENCES = {
    "classification": "Sort each text from {data} into one of its categories automatically.",
    "regression": "Predict a number for each text from {data}.",
    "token-classification": "Find and label the names, places and other entities in the sentences "
                            "of {data}.",
    "causal-lm": "Write replies in the style of the examples in {data}.",
    "tabular": "Predict the target column of {data} from the other columns.",
}

_HF_TEXT = '''from transformers import AutoModelForSequenceClassification, AutoTokenizer
import torch

folder = {folder!r}  # the run's model folder (or the unzipped export)
tokenizer = AutoTokenizer.from_pretrained(folder)
model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
inputs = tokenizer(["Type a text here"], truncation=True, return_tensors="pt")
with torch.no_grad():
    logits = model(**inputs).logits
'''
SNIPPETS = {
    "classification": _HF_TEXT + '''probabilities = logits.softmax(-1)[0]
print(model.config.id2label[int(probabilities.argmax())], float(probabilities.max()))
''',
    "regression": _HF_TEXT + '''# In the target's own units: the training scaling is folded into the head
# (task.json keeps it under target_scaling; older exports list target_std and target_mean to apply).
print(float(logits[0, 0]))
''',
    "token-classification": '''from transformers import pipeline

folder = {folder!r}  # the run's model folder (or the unzipped export)
tagger = pipeline("token-classification", model=folder, aggregation_strategy="simple")
print(tagger("Ada Lovelace was born in London."))
''',
    "causal-lm": '''from transformers import AutoModelForCausalLM, AutoTokenizer

folder = {folder!r}  # the run's model folder (or the unzipped export)
tokenizer = AutoTokenizer.from_pretrained(folder)
model = AutoModelForCausalLM.from_pretrained(folder).eval()
messages = [{{"role": "user", "content": "Type a question here"}}]
inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                       return_dict=True)
output = model.generate(**inputs, max_new_tokens=80, do_sample=False)
print(tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))
''',
}


def task_sentence(task: str, data_name: str) -> str:
    """One plain sentence saying what the model is for."""
    return SENTENCES.get(task, "Learn from {data}.").format(data=f"'{data_name}'")


def code_snippet(task: str, folder: str) -> str:
    """Python that loads the saved model and calls it (plain text)."""
    snippet = SNIPPETS.get(task)
    return snippet.format(folder=folder or "path/to/model") if snippet else ""


def load_snippet(task: str, folder: str, run_id: int) -> str:
    """HTML: how to call the model from the command line and from Python (escaped)."""
    cli = f"python -m core predict {run_id} --text \"Type a text here\""
    if task == "causal-lm":
        cli = f"python -m core generate --run {run_id} --prompt \"Type a question here\""
    python = code_snippet(task, folder)
    parts = ["<p>From the command line of this app:</p>", f"<pre><code>{html.escape(cli)}</code></pre>"]
    if python:
        parts += ["<p>From Python, with the transformers library:</p>",
                  f"<pre><code>{html.escape(python)}</code></pre>"]
    return "".join(parts)
