"""sha256 of model files, and stamps that let a verified file skip hashing next time.

A stamp (JSON: sha256, path, size, mtime, ctime) vouches for a file only while its size and
times are unchanged; a file that changed is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from trajkit.models.cachedir import models_dir

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""progress(bytes_done, bytes_total), called while a model is assembled or hashed."""

BLOCK = 4 * 1024 * 1024  # bytes read (and written) at a time
_STAMP_VERSION = 1


def sha256_file(path: Path, progress: Progress | None = None, total: int | None = None) -> str:
    digest = hashlib.sha256()
    size = path.stat().st_size if total is None else total
    done = 0
    buffer = bytearray(BLOCK)
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


def stamp_ok(stamp: Path, path: Path, sha256: str | None) -> str | None:
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


def write_stamp(stamp: Path, path: Path, sha256: str) -> None:
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


def _local_stamp(path: Path) -> Path:
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    return models_dir() / "hashes" / f"{key}.json"


def local_sha256(path: Path, progress: Progress | None = None) -> str:
    """The sha256 of a local file, cached by path, size and times (hashed once)."""
    stamp = _local_stamp(path)
    sha256 = stamp_ok(stamp, path, None)
    if sha256 is None:
        sha256 = sha256_file(path, progress)
        write_stamp(stamp, path, sha256)
    return sha256
