"""Shared fixtures: the task files shipped with trajkit, and running the CLI as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def seed_tasks_dir() -> Path:
    from trajkit.tasks.seed import PACKAGED_SEED_TASKS

    return PACKAGED_SEED_TASKS


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


def wait_for_rows(path, at_least: int = 1, timeout_s: float = 120.0) -> None:
    """Until a committed shard holds rows (the manifest is rewritten after each commit)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        manifest = path / "trajkit.json"
        if manifest.exists():
            try:
                if json.loads(manifest.read_text()).get("rows", 0) >= at_least:
                    return
            except ValueError:
                pass
        time.sleep(0.05)
    raise AssertionError(f"no {at_least} committed rows in {path} after {timeout_s}s")


# ------------------------------------------------------------------ no silent skips in CI
# A skip hides a missing service, browser, namespace or module: on a machine where it should
# all be there (CI, or anyone who sets CI=1) a skipped test fails with its reason instead. The
# one test allowed to skip is marked `gpu` (the vLLM engine, which needs a GPU).


def _strict() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _skip_reason(report) -> str:
    if isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    return str(report.longrepr)


def _fail_instead_of_skip(report, keywords) -> None:
    if not (_strict() and report.skipped) or hasattr(report, "wasxfail") or "gpu" in keywords:
        return
    report.outcome = "failed"
    report.longrepr = (
        f"skipped where CI is set, which counts as a failure: {_skip_reason(report)} "
        "(install what it needs: make setup-services; or mark it `gpu` if it needs a GPU)"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_instead_of_skip(outcome.get_result(), item.keywords)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_instead_of_skip(outcome.get_result(), getattr(collector, "keywords", {}))
