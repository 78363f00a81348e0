"""Training commands: `trajkit train RECIPE.yaml` and `trajkit sft export DATASET OUT`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trajkit.cli.helpformat import App
from trajkit.cli.output import print_summary

TRAIN_HELP = """Fine-tune a student on trajectories with TRL's SFTTrainer, as a YAML recipe says.

Converts every trajectory into the student's conversation with exact loss masks (assistant turns only), trains, and writes OUTPUT_DIR/model (plus adapter/ for LoRA) and a training card (README.md).

Recipes: recipes/sft-demo.yaml (CPU, embedded model, a few minutes); recipes/sft-qwen2.5-*.yaml (the paper's settings, GPU).

Multi-GPU: accelerate launch -m trajkit.sft.train RECIPE.yaml
"""


def register(app: typer.Typer) -> None:
    app.command("train", help=TRAIN_HELP)(train_command)
    sft_app = App(help="Training examples made from trajectories.", no_args_is_help=True)
    sft_app.command("export")(export_command)
    app.add_typer(sft_app, name="sft")


def train_command(
    recipe: Annotated[Path, typer.Argument(help="the recipe YAML file")],
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="override a recipe value: training.max_steps=5")
    ] = None,
    output_dir: Annotated[Path | None, typer.Option("--output-dir", "-o", help="instead of the recipe's")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace an existing output directory")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="convert and check the data, do not train")] = False,
    report_to: Annotated[str, typer.Option("--report-to", help="log the loss curve and metrics: trackio (local folder, $TRACKIO_DIR), wandb or none")] = "none",
) -> None:
    from trajkit.sft.train import train
    from trajkit.tracking import check

    check(report_to)  # a bad name or a missing library fails before training

    result = train(recipe, overrides=overrides or [], output_dir=output_dir, overwrite=overwrite, dry_run=dry_run)
    report = result.report
    summary = {
        "examples": report.examples,
        "tokens": report.tokens,
        "loss tokens": report.loss_tokens,
        "truncated": report.truncated,
        "too long": report.too_long,
        "failed dropped": report.failed_dropped,
    }
    if dry_run:
        print_summary("train (dry run)", summary)
        return
    curve = result.loss_curve
    summary = {
        "steps": curve[-1]["step"] if curve else 0,
        "loss": f"{curve[0]['loss']:.3f} -> {curve[-1]['loss']:.3f}" if curve else "-",
        "tokens/s": f"{result.metrics['tokens'] / result.metrics['train_runtime']:.0f}"
        if result.metrics.get("train_runtime") else "-",
        **summary,
        "saved": str(result.output_dir),
    }
    print_summary("train", summary)
    if report_to != "none":
        from trajkit.tracking import report_train

        report_train(report_to, result, recipe.stem)


def export_command(
    dataset: Annotated[list[str], typer.Argument(metavar="DATASET... OUT", help="one or more datasets, then the file to write (.jsonl or .parquet)", show_default=False)],
    format: Annotated[str, typer.Option("--format", "-f", help="tokens (input_ids + assistant_masks) or messages")] = "tokens",
    recipe: Annotated[Path | None, typer.Option("--recipe", help="take model, examples, filter and max_length from a recipe")] = None,
    model: Annotated[str | None, typer.Option("--model", help="tokenizer: 'embedded', a folder or an HF id")] = None,
    where: Annotated[str | None, typer.Option("--where", "-w", help="SQL predicate over the trajectories view")] = None,
    preset: Annotated[list[str] | None, typer.Option("--preset", "-p", help="named filter")] = None,
    max_length: Annotated[int | None, typer.Option("--max-length", help="tokens; longer examples are cut after the first steps that fit (examples.truncation)")] = None,
    failed: Annotated[str | None, typer.Option("--failed", help="drop, keep or weight")] = None,
    exclude_prefix: Annotated[bool | None, typer.Option("--exclude-prefix/--train-prefix", help="loss on the first-thought prefix (default: trained)")] = None,
    exclude_error_steps: Annotated[bool | None, typer.Option("--exclude-error-steps/--train-error-steps", help="loss on steps that raised an error (default: excluded)")] = None,
) -> None:
    """Write training examples of DATASET(s) to OUT: pre-tokenized for TRL, or chat messages."""
    from trajkit.errors import InputError
    from trajkit.sft.export import write_examples
    from trajkit.sft.prepare import prepare
    from trajkit.sft.recipe import FilterSpec, load_recipe, validate_recipe

    if format not in ("tokens", "messages"):
        raise InputError(f"unknown format {format!r}", where="--format", fix="use tokens or messages")
    if len(dataset) < 2:
        raise InputError("give at least one dataset and the output file", fix="trajkit sft export DATASET OUT.parquet")
    *sources, out = dataset
    if Path(out).suffix.lower() not in (".jsonl", ".parquet"):
        raise InputError("the output file must end in .jsonl or .parquet", where=out)
    base = load_recipe(recipe) if recipe else None
    raw = base.model_dump() if base else {"output_dir": "unused", "dataset": sources}
    raw["dataset"] = sources
    if model:
        raw["model"] = {**raw.get("model", {}), "name": model}
    if where or preset:
        raw["filter"] = FilterSpec(where=where, presets=preset or []).model_dump()
    examples = raw.setdefault("examples", {})
    for key, value in (("failed", failed), ("exclude_prefix", exclude_prefix),
                       ("exclude_error_steps", exclude_error_steps)):
        if value is not None:
            examples[key] = value
    training = raw.setdefault("training", {})
    if max_length is not None:
        training["max_length"] = max_length
    elif base is None:
        training["max_length"] = 10**9  # no truncation unless asked for
    prepared = prepare(validate_recipe(raw, where="options"))
    written = write_examples(prepared.examples, out, format)  # type: ignore[arg-type]
    report = prepared.report
    print_summary(
        "sft export",
        {
            "examples": written,
            "of trajectories": report.trajectories,
            "failed dropped": report.failed_dropped,
            "truncated": report.truncated,
            "too long": report.too_long,
            "tokens": report.tokens,
            "written": out,
        },
    )
