"""A small PyTorch MLP for tabular data, trainable by the Hugging Face Trainer or by `train_mlp`.

Saved as ``model.safetensors`` + ``mlp_config.json`` (+ ``preprocessor.json`` for a predictor):
nothing is pickled, so loading a saved model never runs code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from core.errors import ModelError
from core.tasks.tabular import PREPROCESSOR_FILE, Preprocessor
from core.tasks.tabular_gbm import GradientBoostingModel, is_gbm_folder

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "mlp_config.json"


@dataclass(frozen=True)
class MLPConfig:
    """Shape of the network and how its outputs map to targets.

    Regression targets are standardised with ``target_mean`` / ``target_std`` inside the loss,
    and ``logits`` come back in the target's own units, so metrics need no rescaling.
    """

    n_inputs: int
    kind: str = "classification"
    labels: tuple[str, ...] = ()
    hidden_sizes: tuple[int, ...] = (64, 64)
    dropout: float = 0.1
    target_mean: float = 0.0
    target_std: float = 1.0

    @property
    def n_outputs(self) -> int:
        return len(self.labels) if self.kind == "classification" else 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MLPConfig:
        data = dict(data)
        data["labels"] = tuple(data.get("labels") or ())
        data["hidden_sizes"] = tuple(data.get("hidden_sizes") or ())
        return cls(**data)


def make_config(kind: str, n_inputs: int, y_train: Sequence[Any], hidden_sizes: Sequence[int] = (64, 64),
                dropout: float = 0.1) -> MLPConfig:
    """The config for training rows `y_train`: sorted class names, or the target's mean and std."""
    if kind == "classification":
        return MLPConfig(n_inputs, kind, tuple(sorted({str(v) for v in y_train})), tuple(hidden_sizes),
                         dropout)
    y = np.asarray(y_train, float)
    std = float(y.std()) if len(y) > 1 and y.std() > 0 else 1.0
    return MLPConfig(n_inputs, kind, (), tuple(hidden_sizes), dropout, float(y.mean()), std)


class TabularMLP(nn.Module):
    """Linear → ReLU → Dropout blocks, then a linear head (classes, or one value)."""

    main_input_name = "features"

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.mlp_config = config
        layers: list[nn.Module] = []
        width = config.n_inputs
        for size in config.hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(config.dropout)]
            width = size
        layers.append(nn.Linear(width, config.n_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``{"logits": ...}`` plus ``"loss"`` when labels are given (the HF Trainer's contract)."""
        out = self.net(features.float())
        cfg = self.mlp_config
        if cfg.kind == "classification":
            result = {"logits": out}
            if labels is not None:
                result = {"loss": nn.functional.cross_entropy(out, labels.long()), **result}
            return result
        out = out.squeeze(-1)
        result = {"logits": out * cfg.target_std + cfg.target_mean}
        if labels is not None:
            scaled = (labels.float() - cfg.target_mean) / cfg.target_std
            result = {"loss": nn.functional.mse_loss(out, scaled), **result}
        return result

    def save_pretrained(self, output_dir: Path | str, **_: Any) -> None:
        """Write ``model.safetensors`` and ``mlp_config.json``."""
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(output_dir / WEIGHTS_FILE), metadata={"format": "pt"})
        (output_dir / CONFIG_FILE).write_text(json.dumps(self.mlp_config.to_dict(), indent=1))

    @classmethod
    def from_pretrained(cls, model_dir: Path | str) -> TabularMLP:
        """Load a model written by `save_pretrained` (or a Trainer checkpoint with the config)."""
        model_dir = Path(model_dir)
        if not (model_dir / CONFIG_FILE).exists() or not (model_dir / WEIGHTS_FILE).exists():
            raise ModelError(f"The folder {model_dir} holds no saved tabular model; train the run again.")
        model = cls(MLPConfig.from_dict(json.loads((model_dir / CONFIG_FILE).read_text())))
        model.load_state_dict(load_file(str(model_dir / WEIGHTS_FILE)))
        model.eval()
        return model


def encode_targets(config: MLPConfig, y: Sequence[Any]) -> np.ndarray:
    """Class indices (int64; unknown labels -> -100, ignored by the loss) or float32 values."""
    if config.kind == "classification":
        index = {label: i for i, label in enumerate(config.labels)}
        return np.asarray([index.get(str(v), -100) for v in y], dtype=np.int64)
    return np.asarray(y, dtype=np.float32)


@torch.no_grad()
def predict_outputs(model: TabularMLP, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Class probabilities (n, classes) or predicted values (n,) for a preprocessed matrix."""
    model.eval()
    device = next(model.parameters()).device  # the Trainer may have moved it to a GPU
    parts = []
    for start in range(0, len(x), batch_size):
        logits = model(torch.as_tensor(x[start:start + batch_size], device=device))["logits"]
        parts.append(logits.softmax(-1) if model.mlp_config.kind == "classification" else logits)
    if not parts:
        return np.zeros((0, model.mlp_config.n_outputs) if model.mlp_config.kind == "classification" else 0)
    return torch.cat(parts).float().cpu().numpy()


def use_one_thread() -> None:
    """Run torch on one CPU thread: an MLP's tiny matrices gain nothing from more, and on a busy
    machine extra OpenMP threads spin and wait (measured: 30 iris epochs 0.6 s on 1 thread, 16 s on 2)."""
    torch.set_num_threads(1)


@contextmanager
def one_thread() -> Iterator[None]:
    """`use_one_thread` for a block, then the previous thread count again."""
    before = torch.get_num_threads()
    use_one_thread()
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class TrainHistory:
    """Per-epoch mean training loss and validation loss of `train_mlp`."""

    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)


def train_mlp(x_train: np.ndarray, y_train: np.ndarray, config: MLPConfig, *, epochs: int = 100,
              learning_rate: float = 1e-2, batch_size: int = 32, weight_decay: float = 1e-4, seed: int = 42,
              x_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
              on_epoch: Callable[[int, TrainHistory], bool | None] | None = None,
              ) -> tuple[TabularMLP, TrainHistory]:
    """Train with AdamW in a plain loop (no engine); `on_epoch` returning True stops early.

    `y_train` / `y_val` are already encoded with `encode_targets`.
    """
    with one_thread():
        return _train_loop(x_train, y_train, config, epochs, learning_rate, batch_size, weight_decay, seed,
                           x_val, y_val, on_epoch)


def _train_loop(x_train: np.ndarray, y_train: np.ndarray, config: MLPConfig, epochs: int,
                learning_rate: float, batch_size: int, weight_decay: float, seed: int,
                x_val: np.ndarray | None, y_val: np.ndarray | None,
                on_epoch: Callable[[int, TrainHistory], bool | None] | None
                ) -> tuple[TabularMLP, TrainHistory]:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = TabularMLP(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    x, y = torch.as_tensor(x_train), torch.as_tensor(y_train)
    history = TrainHistory()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            loss = model(x[batch], y[batch])["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        history.train_loss.append(total / max(1, len(x)))
        if x_val is not None and y_val is not None and len(x_val):
            model.eval()
            with torch.no_grad():
                val = model(torch.as_tensor(x_val), torch.as_tensor(y_val))["loss"]
            history.validation_loss.append(float(val))
        if on_epoch is not None and on_epoch(epoch + 1, history):
            break
    model.eval()
    return model, history


@dataclass
class TabularPredictor:
    """A preprocessor and a model (the MLP or gradient boosting): raw feature columns in, predictions out."""

    preprocessor: Preprocessor
    model: TabularMLP | GradientBoostingModel

    @property
    def features(self) -> list[str]:
        return list(self.preprocessor.feature_types)

    @property
    def kind(self) -> str:
        model = self.model
        return model.kind if isinstance(model, GradientBoostingModel) else model.mlp_config.kind

    @property
    def labels(self) -> tuple[str, ...]:
        model = self.model
        return model.labels if isinstance(model, GradientBoostingModel) else model.mlp_config.labels

    def outputs(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities (n, classes) or values (n,) for raw feature columns."""
        x = self.preprocessor.transform(frame)
        if isinstance(self.model, GradientBoostingModel):
            return self.model.predict_outputs(x)
        return predict_outputs(self.model, x)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predicted labels (str) or values (float), one per row."""
        out = self.outputs(frame)
        if self.kind == "classification":
            labels = np.asarray(self.labels, dtype=object)
            return labels[out.argmax(-1)] if len(out) else np.asarray([], dtype=object)
        return out.astype(float)

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The input with ``predicted`` (+ ``confidence`` and ``p:<class>`` columns for classification)."""
        result = frame.reset_index(drop=True).copy()
        out = self.outputs(frame)
        if self.kind == "classification":
            labels = self.labels
            result["predicted"] = [labels[i] for i in out.argmax(-1)] if len(out) else []
            result["confidence"] = out.max(-1) if len(out) else []
            for i, label in enumerate(labels):
                result[f"p:{label}"] = out[:, i]
        else:
            result["predicted"] = out.astype(float)
        return result

    def save(self, output_dir: Path) -> None:
        """Write the model (safetensors, or skops for gradient boosting) and the preprocessor (JSON)."""
        self.model.save_pretrained(output_dir)
        self.preprocessor.save(Path(output_dir) / PREPROCESSOR_FILE)

    @classmethod
    def load(cls, output_dir: Path) -> TabularPredictor:
        """Load what `save` wrote."""
        if not (Path(output_dir) / PREPROCESSOR_FILE).exists():
            raise ModelError(f"The folder {output_dir} holds no tabular preprocessor; train the run again.")
        return cls(Preprocessor.load(Path(output_dir) / PREPROCESSOR_FILE), load_tabular_model(output_dir))


def load_tabular_model(output_dir: Path | str) -> TabularMLP | GradientBoostingModel:
    """The saved model of a tabular run: gradient boosting (``model.skops``) or the MLP."""
    if is_gbm_folder(output_dir):
        return GradientBoostingModel.from_pretrained(output_dir)
    return TabularMLP.from_pretrained(output_dir)
