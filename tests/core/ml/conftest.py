"""Fixtures for ML tests: SmolLM2 converted once per test session.

`converted_smollm2` converts the bundled GGUF (about 20-30 s) through `catalog.model_path`, into
``$UCLAB_TEST_MODELS_CACHE/models/smollm2-135m-instruct`` when that variable is set (reused by later
sessions) or else into a session temporary folder, then sets ``UCLAB_SMOLLM2_DIR`` for the rest of
the session so every test's fresh UCLAB_HOME uses that folder instead of converting again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def converted_smollm2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The converted SmolLM2 folder; UCLAB_SMOLLM2_DIR points at it while the session lasts."""
    from core.models import catalog
    from core.store import db

    cache = os.environ.get("UCLAB_TEST_MODELS_CACHE")
    cache_home = Path(cache).expanduser() if cache else tmp_path_factory.mktemp("models-cache")
    patch = pytest.MonkeyPatch()
    try:
        with pytest.MonkeyPatch.context() as during:
            during.setenv("UCLAB_HOME", str(cache_home))
            during.delenv("UCLAB_SMOLLM2_DIR", raising=False)
            path = catalog.model_path(catalog.SMOLLM2_KEY)
        db.reset_engines()
        patch.setenv("UCLAB_SMOLLM2_DIR", str(path))
        yield path
    finally:
        patch.undo()
