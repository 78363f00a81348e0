"""Live progress bars for long work (rich), with the rates a build operator watches."""

from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def quiet_model_loading():
    """No transformers "Loading weights" bar while a model loads (trajkit draws its own bars)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


class BuildProgress:
    """tasks done / total, trajectories/s, tokens/s, success rate and errors, live."""

    def __init__(self, description: str):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rates]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not sys.stderr.isatty(),
            transient=False,
        )
        self._description = description
        self._task = None

    def __enter__(self) -> BuildProgress:
        self._progress.__enter__()
        self._task = self._progress.add_task(self._description, total=None, rates="")
        return self

    def __exit__(self, *exc_info) -> None:
        self._progress.__exit__(*exc_info)

    def update(self, stats) -> None:
        self._progress.update(
            self._task, total=stats.total, completed=stats.done + stats.skipped, rates=self.rates(stats)
        )

    def rates(self, stats) -> str:
        elapsed = stats.elapsed
        success = stats.correct / stats.done if stats.done else 0.0
        return (
            f"{stats.done / elapsed:.2f} traj/s  {stats.completion_tokens / elapsed:.0f} tok/s  "
            f"correct {success:.0%}  step errors {stats.step_errors}  failed {stats.failed}"
        )
