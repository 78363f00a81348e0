"""Running the installed `trajkit` console script (the entry point a user types), at a set width."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def entry_point() -> list[str]:
    """The console script pip installed beside this interpreter, else `python -m trajkit`."""
    script = Path(sys.executable).with_name("trajkit")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "trajkit"]


def run_trajkit(*args: str, columns: int = 80, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "dumb", "NO_COLOR": "1"}
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        [*entry_point(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def trajkit():
    return run_trajkit
