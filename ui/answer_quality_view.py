"""Evaluation page blocks: answer quality of causal-LM runs and prompt baselines (instruct LLM prompted).

Scoring and baselines run as background jobs (``core.results.answer_jobs``); the page shows their
progress with a polling fragment and reads the stored result when they end.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core.data import datasets
from core.errors import NotFoundError
from core.results import answer_jobs, judge, verdict
from core.results import answer_quality as aq
from core.results.answer_metrics import METRIC_TITLES
from ui import charts, preference_data_view, state
from ui.widgets import md_escape


@st.fragment(run_every=2)
def _job_progress(key: str) -> None:
    job = answer_jobs.get_job(key)
    if job is None:
        return
    if not job.finished:
        done = f"{job.done}/{job.total} examples" if job.total else "loading the model"
        st.progress(job.fraction, text=f"Working in the background: {done}.")
        return
    answer_jobs.forget_job(key)
    if job.error:
        st.error(job.error, icon=":material/error:")
    else:
        st.rerun()


def _running(key: str) -> bool:
    job = answer_jobs.get_job(key)
    if job is not None:
        _job_progress(key)
    return job is not None and not job.finished


def _fmt(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.3f}"


def _split_rows(dataset_id: int, split: str) -> int:
    """How many rows the split has (an evaluation never scores more), MAX_EXAMPLES when unknown."""
    try:
        sizes = datasets.get_dataset(dataset_id).split_sizes or {}
    except NotFoundError:
        return aq.MAX_EXAMPLES
    return max(1, min(aq.MAX_EXAMPLES, int(sizes.get(split) or aq.MAX_EXAMPLES)))


def _baseline_controls(model_ref: str, task: str, key: str, start: Any, default_examples: int,
                       available: int = aq.MAX_EXAMPLES) -> None:
    """k, N (at most the split's rows), the time it will take, and the button that starts the baselines."""
    left, right = st.columns(2)
    shots = left.number_input("Examples in the few-shot prompt (k)", 0, 16, aq.DEFAULT_SHOTS,
                              key=state.EVALUATION_BASELINE_SHOTS)
    if int(st.session_state.get(state.EVALUATION_BASELINE_EXAMPLES) or 0) > available:
        st.session_state[state.EVALUATION_BASELINE_EXAMPLES] = available
    examples = right.number_input(f"Held-out examples to score (N, the split has {available:,})", 1,
                                  available, min(default_examples, available),
                                  key=state.EVALUATION_BASELINE_EXAMPLES)
    estimate = aq.describe_estimate(model_ref, task, int(examples), int(shots), available)
    st.caption(f"{estimate} Results are cached per dataset version and model: running again with the same "
               "settings reuses them, and a baseline of any N is shown beside the run, compared on the "
               "examples both answered.")
    if st.button(f"Run {model_ref} zero-shot and {int(shots)}-shot", key=state.EVALUATION_BASELINE_RUN,
                 disabled=_running(key)):
        answer_jobs.start_job(key, lambda progress: start(int(shots), int(examples), progress))
        st.rerun()


def answer_quality_section(run: Any, split: str) -> None:
    """A causal-LM run: headline with interval, every metric beside the prompt baselines, worst answers."""
    st.subheader("Answer quality")
    score_key = f"answers:{run.id}:{split}"
    try:
        quality = aq.get_answer_quality(run.id, split)
    except NotFoundError as exc:
        st.info(str(exc))
        quality = None
        n = st.number_input("Held-out examples to score (N)", 1, aq.MAX_EXAMPLES, aq.DEFAULT_EXAMPLES,
                            key=state.EVALUATION_ANSWER_EXAMPLES)
        if st.button("Score the answers", key=state.EVALUATION_ANSWER_SCORE, disabled=_running(score_key)):
            answer_jobs.start_job(score_key, lambda progress: aq.evaluate_answers(
                f"run:{run.id}", run.dataset_id, split, kind="run", run_id=run.id, examples=int(n),
                progress=progress))
            st.rerun()
        return
    _quality_body(quality)
    _judge_block(quality)
    st.subheader("Did fine-tuning beat prompting?")
    st.markdown(f"**{md_escape(verdict.judge_answers(quality, {}, split).sentence)}**")
    requested = int(quality.evaluation.settings.get("requested_examples", quality.evaluation.examples))
    available = _split_rows(run.dataset_id, split)
    if not quality.baselines:
        st.caption(f"No prompt baseline yet: {run.model_key} before fine-tuning, prompted with the same "
                   "examples.")
    _baseline_controls(run.model_key, "causal-lm", f"baselines:{run.dataset_id}:{split}:{run.model_key}",
                       lambda k, n, progress: aq.ensure_prompt_baselines(
                           run.dataset_id, split, model_ref=run.model_key, shots=k, examples=n,
                           progress=progress), min(requested, available), available)


def _judge_block(quality: aq.AnswerQuality) -> None:
    """Grade the stored answers with the judge set in the settings, or say how to set one."""
    note = judge.judge_status()
    if note:
        st.caption(note)
        return
    key = f"judge:{quality.evaluation.id}"
    if st.button("Grade the answers with the judge", key=state.EVALUATION_JUDGE, disabled=_running(key)):
        answer_jobs.start_job(key, lambda progress: judge.judge_evaluation(quality.evaluation.id, progress))
        st.rerun()


def _quality_body(quality: aq.AnswerQuality) -> None:
    head = quality.headline
    stats = quality.metrics.get(head, {})
    best = max(quality.baselines, key=lambda b: (b.evaluation.metrics.get("metrics") or {}).get(head, {})
               .get("mean") or 0.0, default=None)
    delta = None
    if best is not None and (gain := best.gains.get(head, {})).get("mean") is not None:
        delta = f"{gain['mean']:+.3f} vs {best.title} (95 %: {gain['low']:+.3f} to {gain['high']:+.3f})"
    st.metric(METRIC_TITLES.get(head, head), _fmt(stats.get("mean")), delta=delta,
              help="The mean score over the examples; the interval is a 95 % bootstrap interval.")
    st.caption(f"95 % interval {_fmt(stats.get('low'))} – {_fmt(stats.get('high'))} over "
               f"{quality.evaluation.examples} examples, greedy answers of at most "
               f"{quality.evaluation.settings.get('max_new_tokens', '?')} new tokens. {quality.scoring_note}")
    st.dataframe(quality.display_frame(), hide_index=True, key=state.EVALUATION_ANSWER_METRICS)
    scores = pd.concat([quality.rows.assign(model=quality.title)]
                       + [b.evaluation.examples_frame.assign(model=b.title) for b in quality.baselines])
    metric_names = [m for m in quality.metrics if m in scores]
    index = metric_names.index(head) if head in metric_names else 0
    metric = st.selectbox("Score", metric_names, index=index, format_func=lambda m: METRIC_TITLES.get(m, m),
                          key=state.EVALUATION_ANSWER_METRIC)
    title = f"{METRIC_TITLES.get(metric, metric)} per example"
    st.plotly_chart(charts.score_histogram(scores, metric, title), key=state.EVALUATION_ANSWER_HISTOGRAM)
    _worst_table(quality, metric)


def _worst_table(quality: aq.AnswerQuality, metric: str) -> None:
    st.markdown("**Lowest-scoring answers**")
    left, right = st.columns(2)
    search = left.text_input("Search prompts, references and answers", key=state.EVALUATION_ANSWER_SEARCH)
    steps: list[float | str] = [round(0.05 * k, 2) for k in range(1, 21)]
    below = right.select_slider("Only scores below", [*steps, "any score"], value="any score",
                                key=state.EVALUATION_ANSWER_BELOW)
    worst = quality.worst(metric, search=search, below=below if isinstance(below, float) else None)
    columns = [c for c in ("position", "prompt", "reference", "answer", metric) if c in worst]
    st.caption(f"{len(worst):,} examples shown, lowest {METRIC_TITLES.get(metric, metric)} first.")
    st.dataframe(worst[columns], hide_index=True, key=state.EVALUATION_ANSWER_WORST)  # text, never markup
    preference_data_view.worst_answer_corrections(worst, quality.evaluation.run_id)


def headline_sentence(result: Any, run: Any) -> str | None:
    """Each prompted baseline against the fine-tuned model on the very same rows, with its N and interval:
    'On the same 40 test rows, smollm2 3-shot is right 45 % of the time (95 % interval 31–60 %);
    the fine-tuned model is 12 points better there.'"""
    parts = []
    for b in result.baselines:
        if b.name not in aq.LABEL_KINDS:
            continue
        stats = (b.metrics.get("metrics") or {}).get("accuracy") or {}
        n, acc = stats.get("n"), b.metrics.get("accuracy")
        if not n or acc is None:
            continue
        low, high = stats.get("low"), stats.get("high")
        span = "" if low is None or high is None else f" (95 % interval {low * 100:.0f}–{high * 100:.0f} %)"
        gain = b.gain.get("accuracy")
        than = ""
        if gain is not None:
            points = abs(gain) * 100
            than = (f"; the fine-tuned model is {points:.0f} points {'better' if gain > 0 else 'worse'} there"
                    if points >= 1 else "; the fine-tuned model is level with it there")
        parts.append(f"On the same {int(n):,} {result.split} rows, {b.title.split(' (')[0]} is right "
                     f"{acc * 100:.0f} % of the time{span}{than}.")
    return " ".join(parts) or None


def llm_baseline_section(result: Any, run: Any, split: str) -> None:
    """A classification run: an instruct LLM choosing the most likely label, beside majority and TF-IDF."""
    st.subheader("Against prompting an instruct model")
    sentence = headline_sentence(result, run)
    if sentence:
        st.markdown(f"**{md_escape(sentence)}**")
    model = aq.baseline_model("classification")
    if not any(b.name in aq.LABEL_KINDS for b in result.baselines):
        st.caption(f"{model} can classify without training: it reads each text with the label names and "
                   "scores how likely each label is as its answer (no free text to parse).")
    _baseline_controls(model, "classification", f"labels:{run.dataset_id}:{split}",
                       lambda k, n, progress: aq.ensure_prompt_baselines(
                           run.dataset_id, split, model_ref=model, shots=k, examples=n, progress=progress),
                       aq.DEFAULT_EXAMPLES, _split_rows(run.dataset_id, split))


def compare_table(run_ids: list[int]) -> None:
    """Answer quality of the picked causal-LM runs side by side (same metrics, same held-out split)."""
    frame = aq.compare_answer_quality(run_ids)
    st.subheader("Answer quality")
    if frame.empty:
        st.caption("None of these runs has scored answers yet; score them on the Evaluation page.")
        return
    st.caption("Greedy answers to the same held-out examples, scored against the references (0–1).")
    st.dataframe(frame, hide_index=True, key=state.COMPARE_ANSWER_QUALITY)
