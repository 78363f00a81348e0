"""GGUF -> transformers: a registry model or a local .gguf converted once into a cached
safetensors folder (model + tokenizer + chat template), for `from_pretrained` and trainers.

transformers loads a GGUF dequantized (~30 s for the 135M model) but leaves a quantizer marker
that blocks `save_pretrained` and trainers; the converted folder has none and reloads in about
half a second.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
from pathlib import Path

from trajkit.errors import ConfigError, MissingExtraError
from trajkit.models.cachedir import FolderLock, fsync_dir, hf_dir, models_dir
from trajkit.models.errors import ModelDiskFullError, ModelError
from trajkit.models.registry import EMBEDDED_REGISTRY_NAME, EmbeddedModel

log = logging.getLogger(__name__)


def hf_target(model: EmbeddedModel) -> Path:
    """The cached safetensors folder of a registry model (its hash in the name: a new file in
    the registry gets a new folder; the embedded model keeps its historical folder name)."""
    if model.name == EMBEDDED_REGISTRY_NAME:
        return models_dir() / "smollm2-135m-instruct"
    return hf_dir() / f"{model.name}-{model.sha256[:12]}"


def is_converted(target: Path) -> bool:
    """A finished conversion (folders appear by rename, so config + weights mean complete)."""
    return (target / "config.json").is_file() and any(target.glob("*.safetensors"))


def convert_gguf(
    source: Path, target: Path, *, dtype: str = "float32", where: str | None = None
) -> Path:
    """Convert a GGUF into a safetensors folder (model + tokenizer + chat template) at `target`.

    transformers loads the GGUF dequantized; the quantizer marker it leaves (which blocks
    `save_pretrained` and trainers) is removed. The folder is written under a temporary name
    next to `target` and renamed: a killed conversion never leaves a half folder. One process
    converts at a time (a lock on the parent folder); one that waited finds the folder done.
    """
    source, target = Path(source), Path(target)
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise MissingExtraError("transformers", "embedded", "using a GGUF model") from exc
    from trajkit.progress import quiet_model_loading

    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _convert_os_error(source, folder, exc) from exc
    with FolderLock(folder):
        if is_converted(target):
            return target
        for stale in folder.glob(f".{target.name}.*.converting"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed conversion
        log.info("converting %s into a transformers folder %s (once)", source, target)
        try:
            with quiet_model_loading():
                tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
                model = AutoModelForCausalLM.from_pretrained(
                    str(source.parent), gguf_file=source.name, dtype=getattr(torch, dtype)
                )
        except (OSError, ValueError, KeyError, RuntimeError, NotImplementedError) as exc:
            raise ConfigError(
                f"transformers cannot load {source} ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''})",
                where=where,
                fix="use a GGUF of an architecture and quantization transformers reads, or a "
                "Hugging Face model folder or id",
            ) from exc
        if getattr(model, "hf_quantizer", None) is not None:
            model.hf_quantizer.remove_quantization_config(model)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        staging = folder / f".{target.name}.{os.getpid()}.converting"
        try:
            try:
                staging.mkdir()
                model.save_pretrained(staging, safe_serialization=True)
                tokenizer.save_pretrained(staging)
                (staging / "trajkit-source.json").write_text(
                    json.dumps({"source": str(source.resolve()), "dtype": dtype}) + "\n"
                )
                if target.exists():  # an unfinished folder from an older trajkit
                    shutil.rmtree(target)
                staging.rename(target)
                fsync_dir(folder)
            except OSError as exc:
                raise _convert_os_error(source, folder, exc) from exc
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return target


def _convert_os_error(source: Path, folder: Path, exc: OSError) -> ModelError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ModelDiskFullError(
            f"not enough disk space in {folder} to convert {source.name} into a transformers "
            "folder; nothing was kept",
            fix="free some space, or set TRAJKIT_CACHE to a folder on a disk with room",
        )
    return ModelError(
        f"cannot write the converted model of {source.name} into {folder}: {exc.strerror or exc}",
        fix="check the folder's permissions, or set TRAJKIT_CACHE to a writable folder",
    )
