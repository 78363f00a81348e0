"""Dataset commands: schema, sql, stats, show, filter, compact, validate, import, dump."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trajkit.cli.helpformat import App
from trajkit.cli.output import console, print_summary

SQL_HELP = """Run SQL over one or more datasets (DuckDB).

Several datasets are unioned; the `dataset` column says which one a row is from. The views and their columns:

@{sql_views}

\b
Examples:
  trajkit sql run1 run2 "SELECT dataset, count(*) FROM steps GROUP BY 1"
  trajkit sql run1 "DESCRIBE steps"
  trajkit sql run1 "SELECT * FROM steps" -f csv -o steps.csv
"""

VIEW_ROWS = {
    "trajectories": "one row per trajectory",
    "steps": "one row per step",
    "tool_calls": "one row per tool call",
    "candidates": "one row per sampled candidate action of SAG",
    "raw": "the stored rows as they are",
}


def views_help() -> str:
    """Every view of `trajkit sql` with its columns, read from the views themselves."""
    from trajkit.query import view_columns

    return "\n\n".join(
        f"{name} ({VIEW_ROWS.get(name, 'a view')}): {', '.join(columns)}."
        for name, columns in view_columns().items()
    )


def register(app: typer.Typer) -> None:
    schema_app = App(help="The published trajectory schema.", no_args_is_help=True)
    schema_app.command("export")(schema_export)
    schema_app.command("check")(schema_check)
    app.add_typer(schema_app, name="schema")
    app.command("sql", help=SQL_HELP)(sql_command)
    app.command("stats")(stats_command)
    app.command("show")(show_command)
    app.command("filter")(filter_command)
    app.command("compact")(compact_command)
    app.command("validate")(validate_command)
    app.command("import")(import_command)
    app.command("dump")(dump_command)


def schema_export(
    directory: Annotated[Path, typer.Argument(help="where to write the JSON Schema files")] = Path("schemas"),
) -> None:
    """Write the JSON Schema of the current version (trajectory.vN.json) into DIRECTORY."""
    from trajkit.cli.schemafiles import export_schema

    path = export_schema(directory)
    print_summary("schema", {"written": str(path)})


def schema_check(
    directory: Annotated[Path, typer.Argument(help="the folder of the published JSON Schema files")] = Path("schemas"),
) -> None:
    """Fail (exit 2) when DIRECTORY does not hold the current JSON Schema."""
    from trajkit.cli.schemafiles import check_schema

    check_schema(directory)
    print_summary("schema", {"up to date": str(directory)})


def sql_command(
    args: Annotated[list[str], typer.Argument(metavar="DATASET... QUERY", help="one or more dataset directories, then the SQL query", show_default=False)],
    format: Annotated[str, typer.Option("--format", "-f", help="table (on screen), csv, jsonl (one JSON object per line), json (one JSON array) or parquet")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="the file to write (csv, jsonl, json; needed for parquet)")] = None,
    limit: Annotated[int, typer.Option(help="rows shown in table format")] = 50,
) -> None:
    from trajkit.cli.tabular import write_table
    from trajkit.errors import InputError
    from trajkit.query import sql

    if len(args) < 2:
        raise InputError("give at least one dataset and a query", fix='trajkit sql DATASET "SELECT ..."')
    *datasets, query = args
    result = sql(datasets, query)
    if format == "table":
        if output is not None:
            raise InputError("--output needs --format csv, jsonl, json or parquet")
        from trajkit.cli.render import table

        out = console()
        view = table(None, result.slice(0, limit).to_pylist(), wide="records")
        out.print(view)
        shown = min(limit, result.num_rows)
        print_summary("sql", {"rows": result.num_rows, "shown": shown})
        if view.layout(out.width) == "records":
            console(stderr=True).print(
                f"hint: {result.num_columns} columns, so one block per row; -f csv gives a table, "
                "DESCRIBE before the query lists the columns",
                style="dim", soft_wrap=True,
            )
        return
    write_table(result, format=format, output=output)
    if output is not None:
        print_summary("sql", {"rows": result.num_rows, "written": str(output)}, )


def stats_command(
    datasets: Annotated[list[Path], typer.Argument(help="one or more dataset directories")],
    tokenizer: Annotated[str | None, typer.Option("--tokenizer", help="token drift: the producing model's tokenizer (default: the build recipe's teacher model)")] = None,
) -> None:
    """Outcomes, domains, steps, errors, tools and tokens of datasets (and token drift where tokens were captured)."""
    from trajkit.cli.render import table
    from trajkit.stats import dataset_stats, drift_rows

    stats = dataset_stats(datasets)
    out = console()
    titles = {
        "overview": "Overview",
        "status": "Outcome status",
        "domains": "By source and domain",
        "steps_histogram": "Steps per trajectory",
        "errors": "Step errors",
        "tools": "Tool use",
    }
    for key, title in titles.items():
        out.print(table(title, stats[key], wide="vertical" if key == "overview" else "auto"))
    drift = drift_rows(datasets, tokenizer)
    if drift:
        out.print(table("Token drift (captured tokens vs the SFT rendering)", drift))
    total = sum(row["trajectories"] for row in stats["overview"])
    print_summary("stats", {"datasets": len(datasets), "trajectories": total})


def show_command(
    dataset: Annotated[Path, typer.Argument(help="dataset directory")],
    trajectory_id: Annotated[str | None, typer.Argument(help="a trajectory id, or a unique start of one (default: the first trajectory)")] = None,
) -> None:
    """Render one trajectory readably, with syntax-highlighted code."""
    from trajkit.cli.render import trajectory
    from trajkit.errors import DatasetError
    from trajkit.store import Dataset

    ds = Dataset.open(dataset)
    if trajectory_id is None:
        first = next(ds.trajectories(), None)
        if first is None:
            raise DatasetError("the dataset is empty", where=str(dataset))
        traj = first
    else:
        traj = ds.get(_full_id(ds, trajectory_id))
    console().print(trajectory(traj))


def _full_id(ds, prefix: str) -> str:
    """The one id of `ds` that starts with `prefix` (an exact id wins)."""
    from trajkit.errors import DatasetError

    ids = ds.trajectory_ids()
    if prefix in ids:
        return prefix
    matches = sorted(i for i in ids if i.startswith(prefix))
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise DatasetError(
            f"{len(matches)} trajectory ids start with {prefix!r} ({', '.join(matches[:3])}{', ...' if len(matches) > 3 else ''})",
            where=str(ds.path), fix="give more characters of the id",
        )
    return prefix  # not found: Dataset.get says so


def filter_command(
    source: Annotated[Path | None, typer.Argument(help="dataset to read", show_default=False)] = None,
    destination: Annotated[Path | None, typer.Argument(help="new dataset directory to write", show_default=False)] = None,
    where: Annotated[str | None, typer.Option("--where", "-w", help="SQL predicate over the trajectories view")] = None,
    preset: Annotated[list[str] | None, typer.Option("--preset", "-p", help="named filter (see --list-presets); repeatable")] = None,
    list_presets: Annotated[bool, typer.Option("--list-presets", help="show the named filters and exit (no SOURCE needed)")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace DESTINATION if it exists")] = False,
    tokenizer: Annotated[str | None, typer.Option("--tokenizer", help="--preset token-exact: the producing model's tokenizer (default: the build recipe's teacher model)")] = None,
) -> None:
    """Write a new dataset with the trajectories that match (lineage records the predicate).

    --preset token-exact keeps the trajectories whose captured steps (capture_tokens: true) all re-tokenize to the tokens the model produced; it drops the drifting ones and those without captured tokens, and says how many of each.
    """
    from trajkit.errors import InputError
    from trajkit.filters import filter_with_presets, presets_table
    from trajkit.store import Dataset

    if list_presets:
        from trajkit.cli.render import table

        console().print(table("Filter presets", presets_table()))
        return
    if source is None or destination is None:
        raise InputError("give SOURCE and DESTINATION datasets", where="trajkit filter", fix="trajkit filter SOURCE DESTINATION --where 'SQL predicate'")
    before = len(Dataset.open(source))
    result, dropped = filter_with_presets(source, destination, where, preset or [], overwrite=overwrite, tokenizer=tokenizer)
    print_summary("filter", {"kept": len(result), "of": before, **dropped, "written": str(destination)})


def compact_command(
    dataset: Annotated[Path, typer.Argument(help="dataset directory")],
    target_rows: Annotated[int, typer.Option(help="rows per merged shard")] = 100_000,
) -> None:
    """Merge small shards into larger ones (atomic; rows unchanged)."""
    from trajkit.store import Dataset, compact

    ds = Dataset.open(dataset)
    before, after = compact(ds, target_rows=target_rows)
    print_summary("compact", {"shards before": before, "after": after, "rows": len(ds)})


def validate_command(dataset: Annotated[Path, typer.Argument(help="dataset directory")]) -> None:
    """Check every shard and every row of a dataset against the schema."""
    from trajkit.store import Dataset
    from trajkit.validate import validate_dataset

    ds = Dataset.open(dataset)
    rows = validate_dataset(ds)
    print_summary("valid", {"rows": rows, "shards": len(ds.manifest.shards)})


def import_command(
    source: Annotated[Path, typer.Argument(help="JSONL file")],
    destination: Annotated[Path, typer.Argument(help="new dataset directory")],
    format: Annotated[str, typer.Option("--format", "-f", help="trajkit (JSONL of trajectories), reference (the paper's run logs), adp (Agent Data Protocol JSONL) or smolagents (agent.memory.get_full_steps() as JSON)")] = "trajkit",
    source_name: Annotated[str, typer.Option("--source", help="task source name for reference logs")] = "reference",
    domain: Annotated[str, typer.Option(help="task domain for reference logs (qa, math)")] = "qa",
    split: Annotated[str, typer.Option(help="task split for reference logs")] = "train",
) -> None:
    """Import trajectories into a new dataset (validated; nothing written on error)."""
    from trajkit.importers import import_file

    dataset = import_file(source, destination, format=format, source_name=source_name, domain=domain, split=split)
    print_summary("import", {"trajectories": len(dataset), "steps": dataset.manifest.steps, "written": str(destination)})


def dump_command(
    dataset: Annotated[Path, typer.Argument(help="dataset directory")],
    output: Annotated[Path, typer.Argument(help="JSONL file to write")],
    format: Annotated[str, typer.Option("--format", "-f", help="trajkit (full rows) or messages (chat + tool_calls)")] = "trajkit",
) -> None:
    """Write a dataset as JSONL: full trajectories, or OpenAI-style chat messages."""
    from trajkit.errors import InputError
    from trajkit.interchange import write_jsonl, write_messages_jsonl
    from trajkit.store import Dataset

    writers = {"trajkit": write_jsonl, "messages": write_messages_jsonl}
    if format not in writers:
        raise InputError(f"unknown format {format!r}", fix="use trajkit or messages")
    count = writers[format](Dataset.open(dataset).trajectories(), output)
    print_summary("dump", {"trajectories": count, "written": str(output)})
