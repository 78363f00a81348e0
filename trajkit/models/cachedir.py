"""The models cache folder (`cache_root()/models`): where it is, its lock, durable renames.

Assembled GGUFs, hash stamps and converted transformers folders (`hf/`) live here. One
process at a time assembles or converts (`FolderLock`, an advisory lock on the folder itself);
files appear by rename only.
"""

from __future__ import annotations

import os
from pathlib import Path

from trajkit.cache import cache_root


def models_dir() -> Path:
    """Where prepared GGUFs and their stamps go."""
    return cache_root() / "models"


def hf_dir() -> Path:
    """Where GGUFs converted into transformers folders go."""
    return models_dir() / "hf"


def unlink(path: Path) -> None:
    """Remove `path` if it is there."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def fsync_dir(folder: Path) -> None:
    """Make a rename inside `folder` durable; best effort."""
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


class FolderLock:
    """An exclusive advisory lock on a cache folder: one assembler or converter at a time, no
    lock file."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.fd: int | None = None

    def __enter__(self) -> FolderLock:
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
