"""Shared fixtures: where the shared task files are, and running the CLI as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("TRAJKIT_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def seed_tasks_dir() -> Path:
    path = shared_dir() / "data" / "seed-tasks"
    if not path.is_dir():
        pytest.skip(f"seed task files not found at {path} (set TRAJKIT_SHARED)")
    return path


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 300):
    """Run `trajkit ARGS` in a subprocess; returns CompletedProcess with text output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "trajkit", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli
