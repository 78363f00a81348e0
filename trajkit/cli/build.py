"""`trajkit build` and `trajkit merge`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trajkit.cli.output import print_summary


def register(app: typer.Typer) -> None:
    app.command("build")(build_command)
    app.command("merge")(merge_command)


def build_command(
    recipe: Annotated[Path, typer.Argument(help="build recipe (YAML), e.g. recipes/demo.yaml")],
    output: Annotated[str | None, typer.Option("--output", "-o", help="override the recipe's output directory")] = None,
    limit: Annotated[int | None, typer.Option(help="only the first N tasks")] = None,
    shard: Annotated[str | None, typer.Option(help="build part i of N (i/N), for scale-out")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="redo rollouts stored as teacher_error")] = False,
    stats: Annotated[bool, typer.Option("--stats/--no-stats", help="print dataset stats at the end")] = False,
    report_to: Annotated[str, typer.Option("--report-to", help="log the build's metrics: trackio (local folder, $TRACKIO_DIR), wandb or none")] = "none",
    executor: Annotated[str | None, typer.Option(help="local or ray (overrides the recipe's executor block)")] = None,
    address: Annotated[str | None, typer.Option(help="Ray cluster: auto, ray://HOST:10001 or HOST:PORT (implies --executor ray)")] = None,
    actors: Annotated[int | None, typer.Option(help="Ray actors (default: as many as the cluster's resources allow)")] = None,
) -> None:
    """Run the teacher agent over the recipe's tasks and write (or resume) a dataset."""
    from trajkit.build import build
    from trajkit.tracking import check

    check(report_to)
    dataset, run = build(recipe, output=output, limit=limit, shard=shard, retry_failed=retry_failed,
                         executor=executor, address=address, actors=actors)
    print_summary("build", {**run.summary(), "dataset": str(dataset.path), "rows": len(dataset)})
    if report_to != "none":
        from trajkit.tracking import report_build

        report_build(report_to, dataset, run.summary())
    if stats:
        from trajkit.cli.data import stats_command

        stats_command([dataset.path])


def merge_command(
    sources: Annotated[list[Path], typer.Argument(help="datasets to merge (e.g. shards of one build)")],
    destination: Annotated[Path, typer.Option("--output", "-o", help="new dataset directory")],
) -> None:
    """Merge datasets into a new one; a trajectory id present twice is an error."""
    from trajkit.store import Dataset, merge

    merged = merge([Dataset.open(s) for s in sources], destination)
    print_summary("merge", {"datasets": len(sources), "rows": len(merged), "written": str(destination)})
