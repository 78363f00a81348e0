"""One resolver for every place that takes a model: `spec_kind`, `hf_folder`, `resolve_gguf`,
`describe`.

Every place that takes a model (`teacher.model`, the SFT recipe's `model.name`, `--model`)
accepts the same specs, sorted by `spec_kind` and turned into a transformers folder by
`hf_folder`:

    spec                              spec_kind    hf_folder
    None / "embedded"                 embedded     the embedded SmolLM2 folder (converted once)
    "smollm2-135m", "qwen2.5-..."     registry     that GGUF converted once into the cache
    "path/to/model.gguf" (existing)   gguf         converted once; cache key: the file's sha256
    "path/to/folder" (existing)       folder       the folder itself
    "./missing", "/x/y", "m.gguf"     (error)      ConfigError: the path does not exist
    anything else                     hf           unchanged: a Hugging Face id

`resolve_gguf` gives a GGUF file for llama.cpp (a registry name, prepared, or an existing
.gguf); `describe` gives a spec's provenance {name, file, sha256, licence}.
"""

from __future__ import annotations

import os
from pathlib import Path

from trajkit.errors import ConfigError
from trajkit.models.assembly import prepare
from trajkit.models.cachedir import hf_dir
from trajkit.models.conversion import convert_gguf, hf_target, is_converted
from trajkit.models.hashing import Progress, local_sha256
from trajkit.models.registry import EMBEDDED_REGISTRY_NAME, REGISTRY, by_sha256, names


def resolve_gguf(spec: str | os.PathLike, progress: Progress | None = None) -> Path:
    """A registry name -> its prepared file; a path to an existing .gguf -> that path."""
    text = os.fspath(spec)
    if text in REGISTRY:
        return prepare(text, progress)
    path = Path(text).expanduser()
    if path.suffix.lower() == ".gguf" and path.is_file():
        return path
    if path.suffix.lower() == ".gguf":
        what = f"GGUF file {path} does not exist"
    else:
        what = f"'{text}' is neither an embedded model name nor a .gguf file"
    raise ConfigError(
        what, fix=f"give one of: {', '.join(names())}, or the path of an existing .gguf file"
    )


def describe(spec: str | os.PathLike, progress: Progress | None = None) -> dict[str, str]:
    """Provenance of a model spec: {name, file, sha256, licence}.

    A registry name is prepared (and so verified). A local .gguf is hashed (the result is
    cached by path, size and times); if its hash is a registry model's, that model's name and
    licence are reported, otherwise its file name and licence 'unknown'.
    """
    text = os.fspath(spec)
    if text in REGISTRY:
        model = REGISTRY[text]
        path = prepare(model, progress)
        return {
            "name": model.name,
            "file": str(path),
            "sha256": model.sha256,
            "licence": model.licence,
        }
    path = resolve_gguf(text, progress)
    sha256 = local_sha256(path, progress)
    model = by_sha256(sha256)
    if model is not None:
        return {"name": model.name, "file": str(path), "sha256": sha256, "licence": model.licence}
    return {"name": path.stem, "file": str(path), "sha256": sha256, "licence": "unknown"}


EMBEDDED = "embedded"


_SPEC_FIX = (
    f"give 'embedded', a registry name ({', '.join(names())}; see `trajkit models list`), "
    "the path of an existing .gguf file or model folder, or a Hugging Face model id"
)


def _looks_like_path(text: str) -> bool:
    return (
        ("/" in text and text.startswith((".", "/", "~")))
        or text.lower().endswith(".gguf")
        or text in (".", "..", "~")
    )


def spec_kind(spec: str | os.PathLike | None, *, where: str | None = None) -> str:
    """What a model spec names: 'embedded' (None or "embedded"), 'registry' (a name in
    REGISTRY), 'gguf' (an existing .gguf file), 'folder' (an existing folder) or 'hf' (anything
    else: a Hugging Face id). Cheap: looks at the file system only.

    A spec that looks like a path (starts with '.', '/' or '~' and contains '/', or ends in
    .gguf) but names nothing usable raises ConfigError (`where` goes into the error).
    """
    if spec is None:
        return "embedded"
    text = os.fspath(spec)
    if text == EMBEDDED:
        return "embedded"
    if text in REGISTRY:
        return "registry"
    if not text.strip():
        raise ConfigError("the model is empty", where=where, fix=_SPEC_FIX)
    path = Path(text).expanduser()
    if path.is_dir():
        return "folder"
    if path.is_file():
        if path.suffix.lower() == ".gguf":
            return "gguf"
        raise ConfigError(
            f"{path} is a file, but neither a .gguf model nor a model folder",
            where=where,
            fix="give the .gguf file or the folder that holds config.json and the weights",
        )
    if _looks_like_path(text):
        kind = "GGUF file" if path.suffix.lower() == ".gguf" else "model path"
        shown = f"'{text}'" + (f" ({path.resolve()})" if str(path.resolve()) != text else "")
        raise ConfigError(f"{kind} {shown} does not exist", where=where, fix=_SPEC_FIX)
    return "hf"


def hf_folder(
    spec: str | os.PathLike | None,
    progress: Progress | None = None,
    *,
    where: str | None = None,
) -> str:
    """Something transformers' `from_pretrained` loads, for any model spec (see `spec_kind`).

    None, "embedded" and "smollm2-135m" -> the embedded SmolLM2's cached safetensors folder;
    another registry name -> its verified GGUF, converted once into a cached safetensors folder;
    an existing .gguf -> converted the same way (cache key: its sha256; a file whose hash is a
    registry model's shares that model's folder); an existing folder -> itself (absolute);
    anything else -> unchanged, as a Hugging Face id. Converting needs torch and transformers
    and takes ~30 s for the 135M model (minutes for the 1.5B); later calls are instant.
    """
    kind = spec_kind(spec, where=where)
    if kind == "hf":
        return os.fspath(spec)
    if kind == "folder":
        return str(Path(os.fspath(spec)).expanduser().resolve())
    if kind == "embedded":
        spec = EMBEDDED_REGISTRY_NAME
    if kind in ("embedded", "registry"):
        model = REGISTRY[os.fspath(spec)]
        target = hf_target(model)
        if not is_converted(target):
            convert_gguf(prepare(model, progress), target, where=where)
        return str(target)
    path = Path(os.fspath(spec)).expanduser().resolve()
    sha256 = local_sha256(path, progress)
    model = by_sha256(sha256)
    target = hf_target(model) if model is not None else hf_dir() / f"gguf-{sha256[:16]}"
    if not is_converted(target):
        convert_gguf(path, target, where=where)
    return str(target)
