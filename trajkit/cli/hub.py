"""Publishing commands: push, pull, export (Hugging Face Hub layout and dataset card)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trajkit.cli.output import console, print_summary

CONFIG_HELP = ("config to publish: trajectories, sft (what trajkit train trains on) and/or sft_tool_calls "
               "(OpenAI-style; repeat the option; default trajectories and sft)")
LICENSE_HELP = "license id for the card's YAML header (e.g. apache-2.0, cc-by-sa-4.0, mit)"
TEMPLATE_HELP = "a Jinja template to render the card with instead of trajkit's (same context)"


def register(app: typer.Typer) -> None:
    app.command("push")(push_command)
    app.command("pull")(pull_command)
    app.command("export")(export_command)


def _stage(message: str) -> None:
    console(stderr=True).print(f"[dim]{message}[/]", markup=True)


def push_command(
    dataset: Annotated[Path, typer.Argument(help="dataset directory")],
    repo_id: Annotated[str, typer.Argument(help="Hub dataset repo: NAMESPACE/NAME (or NAME in your namespace)")],
    private: Annotated[bool, typer.Option("--private", help="create the repo as private (when it does not exist)")] = False,
    revision: Annotated[str | None, typer.Option("--revision", help="branch to push to (created from main when missing)")] = None,
    config: Annotated[list[str] | None, typer.Option("--config", help=CONFIG_HELP)] = None,
    license: Annotated[str, typer.Option("--license", help=LICENSE_HELP)] = "other",
    pretty_name: Annotated[str | None, typer.Option("--pretty-name", help="title of the card")] = None,
    message: Annotated[str | None, typer.Option("--message", "-m", help="commit message")] = None,
    card_template: Annotated[Path | None, typer.Option("--card-template", help=TEMPLATE_HELP)] = None,
) -> None:
    """Publish a dataset to the Hugging Face Hub: Parquet configs, dataset card and charts.

    The token comes from HF_TOKEN or `hf auth login`; HF_ENDPOINT selects another Hub.

    Pushing again uploads only what changed and removes stale shards, in one commit.
    """
    from trajkit.hub.push import push_dataset

    result = push_dataset(
        dataset,
        repo_id,
        private=private,
        revision=revision,
        configs=config,
        license=license,
        pretty_name=pretty_name,
        message=message,
        template=card_template,
        progress=_stage,
    )
    if private and not result.created and result.private is False:
        _stage("note: the repository already existed and is public; --private only applies when creating it")
    summary = {
        "repo": result.repo_id,
        "revision": result.revision,
        "rows": result.rows,
        "splits": ", ".join(f"{k} ({v})" for k, v in result.splits.items()),
        "uploaded": len(result.uploaded),
        "deleted": len(result.deleted),
        "unchanged": len(result.unchanged),
        "commit": result.commit[:12],
        "url": result.url,
    }
    if not result.committed:
        summary["status"] = "up to date"
    print_summary("push", summary)


def pull_command(
    repo_id: Annotated[str, typer.Argument(help="Hub dataset repo pushed with trajkit push")],
    directory: Annotated[Path, typer.Argument(help="new dataset directory")],
    revision: Annotated[str | None, typer.Option("--revision", help="branch, tag or commit (default main)")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace DIRECTORY if it exists")] = False,
) -> None:
    """Download a pushed dataset (its trajectories config) into a trajkit dataset directory."""
    from trajkit.hub.pull import pull_dataset

    result = pull_dataset(repo_id, directory, revision=revision, overwrite=overwrite, progress=_stage)
    print_summary(
        "pull",
        {
            "trajectories": len(result.dataset),
            "files": len(result.files),
            "commit": result.commit[:12],
            "written": str(directory),
        },
    )


FORMAT_HELP = ("hub (default: the Hub repository layout), dpo (TRL preference pairs), verl (RL prompts; "
               "DATASET may be a task set), llamafactory (ShareGPT + dataset_info.json), axolotl "
               "(messages with train flags + config), adp (Agent Data Protocol), tokens (captured token ids)")


def export_command(
    dataset: Annotated[Path, typer.Argument(help="dataset directory (for --format verl also a task set)")],
    directory: Annotated[Path, typer.Argument(help="the folder to write")],
    format: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "hub",
    pairs: Annotated[str, typer.Option("--pairs", help="dpo: task (correct vs incorrect trajectory), step (SAG candidates) or both")] = "both",
    config: Annotated[list[str] | None, typer.Option("--config", help=CONFIG_HELP)] = None,
    repo_id: Annotated[str | None, typer.Option("--repo-id", help="repo id used in the card's snippets")] = None,
    license: Annotated[str, typer.Option("--license", help=LICENSE_HELP)] = "other",
    pretty_name: Annotated[str | None, typer.Option("--pretty-name", help="title of the card")] = None,
    card_template: Annotated[Path | None, typer.Option("--card-template", help=TEMPLATE_HELP)] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace DIRECTORY if it exists")] = False,
    allow_drift: Annotated[bool, typer.Option("--allow-drift", help="dpo, verl, tokens: export even when captured steps drift (a warning says how many)")] = False,
    tokenizer: Annotated[str | None, typer.Option("--tokenizer", help="token drift: the producing model's tokenizer (default: the build recipe's teacher model)")] = None,
) -> None:
    """Export a dataset for a trainer or the Hub: hub (default), dpo, verl, llamafactory, axolotl, adp, tokens.

    hub: the Hub repository layout (card, charts, Parquet configs) in a local folder; `datasets.load_dataset(DIRECTORY, "sft")` loads it, and it can be uploaded as it is.

    The other formats write the files their trainer reads (see --format); every path in a config file they write is relative to DIRECTORY, so the folder can be moved or uploaded.

    dpo, verl and tokens train on the tokens as the model produced them: where tokens were captured (capture_tokens: true) and some steps drift from their training rendering, the export fails (exit 2) unless --allow-drift; `trajkit filter SRC DST --preset token-exact` keeps the exact trajectories.
    """
    if format != "hub":
        from trajkit.exports import export

        summary = export(format, str(dataset), str(directory), overwrite=overwrite, pairs=pairs,
                         allow_drift=allow_drift, tokenizer=tokenizer)
        summary["files"] = ", ".join(summary["files"])
        print_summary(f"export {format}", {**summary, "written": str(directory)})
        return
    from trajkit.hub.client import check_repo_id
    from trajkit.hub.repo_folder import export_dataset

    if repo_id is not None:
        repo_id = check_repo_id(repo_id)
    layout = export_dataset(
        dataset,
        directory,
        overwrite=overwrite,
        configs=config,
        repo_id=repo_id,
        license=license,
        pretty_name=pretty_name,
        template=card_template,
    )
    print_summary(
        "export",
        {
            "configs": ", ".join(layout.configs),
            "splits": ", ".join(f"{k} ({v})" for k, v in layout.splits.items()),
            "files": len(layout.files()),
            "charts": len(layout.charts),
            "written": str(directory),
        },
    )
