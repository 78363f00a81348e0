"""`trajkit eval RECIPE --model M` and `trajkit eval report RUN...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trajkit.cli.output import console, print_summary

HELP = """Evaluate a model as an agent on a recipe's benchmarks, or compare runs in a report.

--candidates N samples N candidate actions per step and runs the one most of them agree on (self-consistent action generation, SAG).

\b
  trajkit eval RECIPE.yaml --model MODEL [--candidates 8] [--output RUN_DIR]
  trajkit eval report RUN [RUN...] [--output REPORT_DIR]
"""

MODEL_HELP = "the model to evaluate: @{model_specs}"


def model_specs_help() -> str:
    """The `--model` forms, from the model registry and the teacher backends."""
    from trajkit.models.registry import EMBEDDED_REGISTRY_NAME, names
    from trajkit.teachers.config import BACKENDS

    return (
        f"'embedded' ({EMBEDDED_REGISTRY_NAME}, transformers on CPU); a registry name "
        f"({', '.join(n for n in names() if n != EMBEDDED_REGISTRY_NAME)}: llama.cpp; "
        "see trajkit models list); a local .gguf file (llama.cpp) or model folder (transformers); "
        "an OpenAI-compatible server URL#MODEL (openai); vllm:HF_ID (vllm); or a Hugging Face id "
        f"run on the recipe's backend (one of: {', '.join(BACKENDS)})"
    )


def register(app: typer.Typer) -> None:
    app.command("eval", help=HELP)(eval_command)


def eval_command(
    args: Annotated[list[str], typer.Argument(metavar="RECIPE.yaml | report RUN...", help="an eval recipe, or `report` and the run directories to compare", show_default=False)],
    model: Annotated[str | None, typer.Option("--model", "-m", help=MODEL_HELP)] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", "--out", help="eval: the run directory (default: the recipe's output); eval report: the report folder (default: eval-report)")] = None,
    candidates: Annotated[int | None, typer.Option(help="candidates per step (SAG); 1 = greedy")] = None,
    limit: Annotated[int | None, typer.Option(help="only the first N tasks of each benchmark")] = None,
    report_to: Annotated[str, typer.Option("--report-to", help="log the eval metrics: trackio (local folder, $TRACKIO_DIR), wandb or none")] = "none",
    executor: Annotated[str | None, typer.Option(help="local or ray (overrides the recipe's executor block)")] = None,
    address: Annotated[str | None, typer.Option(help="Ray cluster: auto, ray://HOST:10001 or HOST:PORT (implies --executor ray)")] = None,
    actors: Annotated[int | None, typer.Option(help="Ray actors (default: as many as the cluster's resources allow)")] = None,
) -> None:
    if args and args[0] == "report":
        return _report(args[1:], Path(output or "eval-report"))
    from trajkit.errors import InputError

    if len(args) != 1:
        raise InputError("give one eval recipe", fix="trajkit eval RECIPE.yaml --model PATH")
    from trajkit.evaluate import evaluate, metrics
    from trajkit.tracking import check

    check(report_to)
    dataset, stats = evaluate(args[0], model=model, output=output, candidates=candidates, limit=limit,
                              executor=executor, address=address, actors=actors)
    result = metrics([dataset.path])
    _print_metrics(result)
    if report_to != "none":
        from trajkit.tracking import report_eval

        report_eval(report_to, dataset, result)
    print_summary("eval", {**stats.summary(), "run": str(dataset.path)})


def _report(runs: list[str], out: Path) -> None:
    from trajkit.cli.report import write_report
    from trajkit.evaluate import check_runs, metrics

    check_runs(runs)
    result = metrics(runs)
    _print_metrics(result)
    paths = write_report(result, out, runs=runs)
    print_summary("report", {
        "runs": len(runs), "markdown": str(paths["markdown"]), "html": str(paths["html"]), "viewer": str(paths["viewer"]),
    })
    print(f"open {paths['html'].resolve().as_uri()}", flush=True)


def _print_metrics(result: dict) -> None:
    from trajkit.cli.render import table
    from trajkit.cli.report import TABLE_COLUMNS

    rows = [{c: row.get(c) for c in TABLE_COLUMNS} for row in result["per_benchmark"]]
    console().print(table("Per benchmark", rows))
    console().print(table("Overall", result["overall"]))
