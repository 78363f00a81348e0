"""Curation commands: `review serve|push|pull` (Argilla), `dedup`, `decontaminate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trajkit.cli.helpformat import App
from trajkit.cli.output import console, print_summary

ApiUrl = Annotated[
    str | None,
    typer.Option("--api-url", envvar="ARGILLA_API_URL", help="an Argilla 2.x server (default: the local `review serve`)"),
]
ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", envvar="ARGILLA_API_KEY", help="its API key (default: the local server's)", show_default=False),
]
Home = Annotated[
    Path | None,
    typer.Option("--home", help="the local server's folder (default: $TRAJKIT_ARGILLA_HOME or ~/.local/share/trajkit/argilla)"),
]
Name = Annotated[str | None, typer.Option("--name", help="Argilla dataset name (default: the dataset's name)")]
Workspace = Annotated[str | None, typer.Option("--workspace", help="Argilla workspace (default: your first one)")]


def register(app: typer.Typer) -> None:
    review = App(
        help="Human review in Argilla: serve a local server, push trajectories, pull the reviews back.",
        no_args_is_help=True,
    )
    review.command("serve")(serve_command)
    review.command("push")(push_command)
    review.command("pull")(pull_command)
    app.add_typer(review, name="review")
    app.command("dedup")(dedup_command)
    app.command("decontaminate")(decontaminate_command)


# --------------------------------------------------------------------------- review


def serve_command(home: Home = None, port: Annotated[int | None, typer.Option(help="default: a free port")] = None) -> None:
    """Run a local Argilla server (API + web UI, SQLite, no Elasticsearch) until Ctrl-C."""
    import signal
    import time

    from trajkit.curate.server import LocalArgilla

    server = LocalArgilla(home=home, port=port)
    out = console()
    out.print("starting Argilla (server, worker, redis) …", style="dim")

    def stop_on_term(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop_on_term)
    try:
        info = server.start()
        out.print(f"[bold]Argilla[/] is running at [link={info.url}]{info.url}[/link]", markup=True, soft_wrap=True)
        out.print(f"  log in:  username [bold]{info.username}[/]  password [bold]{info.password}[/]", markup=True, soft_wrap=True)
        out.print(f"  API key: [bold]{info.api_key}[/]", markup=True, soft_wrap=True)
        out.print(f"  data:    {info.home}", soft_wrap=True)
        out.print("  push trajectories with: trajkit review push DATASET   ·   stop with Ctrl-C", style="dim")
        while True:
            time.sleep(1)
            server.check()
    except KeyboardInterrupt:
        out.print("stopping …", style="dim")
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
    print_summary("review serve", {"stopped": "server, worker, redis", "data kept in": str(server.home)})


def push_command(
    dataset: Annotated[Path, typer.Argument(help="trajkit dataset")],
    where: Annotated[str | None, typer.Option("--where", "-w", help="SQL predicate over the trajectories view")] = None,
    name: Name = None,
    workspace: Workspace = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    home: Home = None,
    batch_size: Annotated[int, typer.Option(help="records per request (max 500)")] = 250,
    vectors: Annotated[bool, typer.Option(help="add question embeddings for similarity search")] = True,
) -> None:
    """Send trajectories to Argilla for review (pushing again updates, never duplicates)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from trajkit.curate.client import resolve_target
    from trajkit.curate.push import push

    target = resolve_target(api_url, api_key, home)
    with Progress(
        TextColumn("pushing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(), console=console(stderr=True), transient=True,
    ) as progress:
        task = progress.add_task("push", total=None, rate="")

        def on_batch(count: int) -> None:
            progress.advance(task, count)
            elapsed = progress.tasks[0].elapsed or 0
            if elapsed:
                progress.update(task, rate=f"{progress.tasks[0].completed / elapsed:,.0f} rec/s")

        result = push(
            dataset, target, where=where, name=name, workspace=workspace, batch_size=batch_size,
            vectors=vectors, on_batch=on_batch, on_total=lambda n: progress.update(task, total=n),
        )
    console().print(f"review at: {result.dataset_url}", soft_wrap=True, highlight=False)
    print_summary(
        "review push",
        {
            "records": result.pushed,
            "dataset": f"{result.workspace}/{result.name}",
            "created" if result.created else "updated": "yes",
        },
    )


def pull_command(
    dataset: Annotated[Path, typer.Argument(help="the trajkit dataset that was pushed")],
    out: Annotated[Path, typer.Argument(help="the new dataset version to write")],
    name: Name = None,
    workspace: Workspace = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    home: Home = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace OUT if it exists")] = False,
) -> None:
    """Write a new dataset version with the `review` columns filled from Argilla's responses."""
    from trajkit.curate.client import resolve_target
    from trajkit.curate.pull import pull

    target = resolve_target(api_url, api_key, home)
    result = pull(dataset, out, target, name=name, workspace=workspace, overwrite=overwrite)
    summary = {"rows": result.rows, "records": result.records}
    summary.update({f"{k}": v for k, v in sorted(result.status_counts.items())})
    if result.labels:
        summary["labels"] = ", ".join(f"{k} {v}" for k, v in sorted(result.labels.items()))
    if result.annotators:
        summary["annotators"] = ", ".join(result.annotators)
    if result.not_pushed:
        summary["not pushed"] = result.not_pushed
    if result.unknown_records:
        summary["records not in the dataset"] = result.unknown_records
    summary["written"] = str(out)
    print_summary("review pull", summary)


# ------------------------------------------------------------------ dedup & decontam


def dedup_command(
    dataset: Annotated[Path, typer.Argument(help="dataset to deduplicate (left unchanged)")],
    out: Annotated[Path, typer.Argument(help="new dataset directory to write")],
    threshold: Annotated[float, typer.Option(help="cosine similarity of near-duplicate questions")] = 0.95,
    keep: Annotated[str, typer.Option(help="which trajectory of a cluster stays: best, first or shortest")] = "best",
    exact_only: Annotated[bool, typer.Option("--exact-only", help="skip the embedding pass")] = False,
    report: Annotated[Path | None, typer.Option(help="write the clusters removed as JSON")] = None,
    show: Annotated[int, typer.Option(help="clusters shown")] = 10,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace OUT if it exists")] = False,
) -> None:
    """Remove exact duplicates (question + answer) and near-duplicate questions (embeddings)."""
    from trajkit.cli.render import table
    from trajkit.curate.dedup import dedup

    result = dedup(dataset, out, keep=keep, threshold=None if exact_only else threshold, report_path=report, overwrite=overwrite)
    if result.clusters and show:
        rows = [
            {
                "kind": c.kind,
                "kept": c.kept_question[:70],
                "removed": len(c.removed),
                "similar question removed": (c.removed_questions[0][:70] if c.removed_questions else "(same question and answer)"),
                "similarity": c.similarity,
            }
            for c in result.clusters[:show]
        ]
        console().print(table(f"Clusters removed ({len(result.clusters)}, first {len(rows)})", rows))
    summary = {"kept": result.kept, "of": result.total, "exact duplicates": result.removed_exact,
               "near duplicates": result.removed_near, "written": str(out)}
    if report:
        summary["report"] = str(report)
    print_summary("dedup", summary)


def decontaminate_command(
    train: Annotated[Path, typer.Argument(help="training dataset")],
    out: Annotated[Path, typer.Argument(help="the decontaminated dataset to write")],
    against: Annotated[
        list[str], typer.Option("--against", "-a", help="evaluation set: a dataset or a task source (seed:qa/test/*, file); repeatable")
    ],
    ngram: Annotated[int, typer.Option(help="words per n-gram")] = 8,
    ngram_threshold: Annotated[float, typer.Option(help="share of a question's n-grams found in one eval question")] = 0.5,
    embedding_threshold: Annotated[float, typer.Option(help="cosine similarity of question embeddings")] = 0.9,
    embeddings: Annotated[bool, typer.Option(help="also compare question embeddings (paraphrases)")] = True,
    report: Annotated[Path | None, typer.Option(help="write every match as JSON")] = None,
    show: Annotated[int, typer.Option(help="matches shown")] = 10,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace OUT if it exists")] = False,
) -> None:
    """Remove training trajectories whose question overlaps an evaluation set."""
    from trajkit.cli.render import table
    from trajkit.curate.decontaminate import decontaminate

    result = decontaminate(
        train, against, out, ngram_n=ngram, ngram_threshold=ngram_threshold,
        embedding_threshold=embedding_threshold if embeddings else None, report_path=report, overwrite=overwrite,
    )
    if result.matches and show:
        rows = [
            {"method": m.method, "train question": m.question[:60], "eval": m.eval_source,
             "eval question": m.eval_question[:60], "n-gram": m.ngram_overlap, "cosine": m.similarity}
            for m in result.matches[:show]
        ]
        console().print(table(f"Contaminated ({len(result.matches)}, first {len(rows)})", rows))
    summary = {"kept": result.kept, "of": result.total, "removed": result.removed,
               "eval questions": result.eval_questions, "written": str(out)}
    summary.update({f"by {k}": v for k, v in sorted(result.by_method.items())})
    if report:
        summary["report"] = str(report)
    print_summary("decontaminate", summary)
