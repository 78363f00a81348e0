"""A folder written all at once: built in a hidden sibling folder, swapped in when complete.

Readers of the destination see the old folder or the new one, never a half-written one. A failure
while writing removes the staging folder and leaves the destination as it was; an existing
destination is moved aside (not deleted) until the new folder is in its place, so a crash during the
swap cannot lose both.

    with staged_folder(destination) as staging:
        write_everything_into(staging)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path


def _new_staging(destination: Path) -> Path:
    """An empty hidden folder beside `destination` (same file system, so the rename is atomic)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{destination.name}.tmp-", dir=destination.parent))


def _swap_in(staging: Path, destination: Path) -> None:
    """Put the complete `staging` folder at `destination`, replacing what is there."""
    if not destination.exists():
        os.replace(staging, destination)
        return
    old = destination.with_name(f".{destination.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(destination, old)
    try:
        os.replace(staging, destination)
    except BaseException:
        os.replace(old, destination)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_folder(destination: str | os.PathLike) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces `destination`, on failure it is removed."""
    destination = Path(destination)
    staging = _new_staging(destination)
    try:
        yield staging
        _swap_in(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
