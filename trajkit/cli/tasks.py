"""Task commands: `tasks preview|export|synth`, and the top-level `grade`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from trajkit.cli.helpformat import App
from trajkit.cli.output import console, print_summary

SOURCE_HELP = (
    "seed:NAMES (hotpotqa, math_500, qa/*, *), hf:NAME[:CONFIG]:SPLIT, synthetic:DIR, "
    "a .jsonl/.json/.csv/.parquet file or folder, or a YAML file holding a task spec"
)
ColumnOpt = Annotated[
    list[str] | None,
    typer.Option("--column", "-c", help="FIELD=COLUMN, e.g. question=problem (repeatable)"),
]
FilterOpt = Annotated[
    list[str] | None,
    typer.Option("--filter", "-f", help="KEY=VALUE on a task field or metadata key (repeatable)"),
]


def register(app: typer.Typer) -> None:
    tasks_app = App(help="Task sources, synthetic tasks and their export.", no_args_is_help=True)
    tasks_app.command("preview")(preview_command)
    tasks_app.command("export")(export_command)
    tasks_app.command("synth")(synth_command)
    tasks_app.command("rag")(rag_command)
    app.add_typer(tasks_app, name="tasks")
    app.command("grade")(grade_command)


def _spec(source: str, split, limit, column, filter_, domain, name) -> dict:
    from trajkit.errors import ConfigError

    spec: dict = {"source": source}
    if source.endswith((".yaml", ".yml")) and Path(source).is_file():
        import yaml

        try:
            loaded = yaml.safe_load(Path(source).read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"not valid YAML ({exc})", where=source) from None
        if isinstance(loaded, dict) and isinstance(loaded.get("tasks"), dict):
            loaded = loaded["tasks"]
        if not isinstance(loaded, dict) or "source" not in loaded:
            raise ConfigError("a task spec file needs a mapping with a 'source' key", where=source)
        spec = loaded
    columns = dict(spec.get("columns") or {})
    for item in column or []:
        key, value = _pair(item, "--column")
        columns[key] = value
    filters = dict(spec.get("filters") or {})
    for item in filter_ or []:
        key, value = _pair(item, "--filter")
        if key in filters:
            previous = filters[key]
            filters[key] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            filters[key] = value
    if columns:
        spec["columns"] = columns
    if filters:
        spec["filters"] = filters
    for key, value in (("split", split), ("limit", limit), ("domain", domain), ("name", name)):
        if value is not None:
            spec[key] = value
    return spec


def _pair(item: str, option: str) -> tuple[str, str]:
    from trajkit.errors import ConfigError

    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{option} {item!r} is not KEY=VALUE", where=option)
    return key.strip(), value.strip()


def preview_command(
    source: Annotated[str, typer.Argument(help=SOURCE_HELP)],
    split: Annotated[str | None, typer.Option(help="split to take (or to label, for single files)")] = None,
    limit: Annotated[int | None, typer.Option(help="keep at most N tasks")] = None,
    column: ColumnOpt = None,
    filter_: FilterOpt = None,
    domain: Annotated[str | None, typer.Option(help="domain for every task (qa, math, ...)")] = None,
    name: Annotated[str | None, typer.Option(help="source name recorded in the tasks")] = None,
    samples: Annotated[int, typer.Option(help="sample tasks shown")] = 5,
) -> None:
    """Load a task source: counts, sample tasks and the defects report (nothing written)."""
    from trajkit.cli.render import table
    from trajkit.tasks.sources import load_tasks

    task_set = load_tasks(_spec(source, split, limit, column, filter_, domain, name))
    out = console()
    out.print(table("Tasks", [
        {"source": s, "split": sp, "domain": d, "tasks": n} for s, sp, d, n in task_set.breakdown()
    ]))
    step = max(1, len(task_set) // max(samples, 1))
    shown = task_set.tasks[::step][:samples]
    out.print(table("Samples", [
        {
            "task_id": t.task_id,
            "question": _clip(t.question, 110),
            "gold_answer": _clip(t.gold_answer or "—", 40),
            "aliases": len(t.gold_aliases),
        }
        for t in shown
    ]))
    report = task_set.report
    out.print(table("Load report", [{"count": k, "value": v} for k, v in sorted(report.counts.items())]))
    if report.warnings:
        out.print("[bold yellow]Defects[/]", markup=True)
        for warning in report.warnings:
            out.print(f"  - {warning}", markup=False, highlight=False)
    print_summary("tasks", {
        "loaded": len(task_set),
        "skipped": report.counts.get("skipped", 0),
        "repaired": report.counts.get("repaired", 0),
        "warnings": len(report.warnings),
    })


def export_command(
    source: Annotated[str, typer.Argument(help=SOURCE_HELP)],
    output: Annotated[Path, typer.Argument(help="Parquet file to write (columns = Task fields)")],
    split: Annotated[str | None, typer.Option(help="split to take (or to label, for single files)")] = None,
    limit: Annotated[int | None, typer.Option(help="keep at most N tasks")] = None,
    column: ColumnOpt = None,
    filter_: FilterOpt = None,
    domain: Annotated[str | None, typer.Option(help="domain for every task (qa, math, ...)")] = None,
    name: Annotated[str | None, typer.Option(help="source name recorded in the tasks")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace OUTPUT if it exists")] = False,
) -> None:
    """Write a task set to one Parquet file (atomic)."""
    from trajkit.errors import InputError
    from trajkit.tasks.files import write_tasks
    from trajkit.tasks.sources import load_tasks

    if output.exists() and not overwrite:
        raise InputError(f"{output} exists", where="output", fix="pass --overwrite or choose another name")
    task_set = load_tasks(_spec(source, split, limit, column, filter_, domain, name))
    if task_set.report.warnings:
        for warning in task_set.report.warnings:
            console(stderr=True).print(f"warning: {warning}", markup=False, highlight=False)
    write_tasks(task_set.tasks, output)
    print_summary("export", {
        "tasks": len(task_set),
        "skipped": task_set.report.counts.get("skipped", 0),
        "written": str(output),
    })


def rag_command(
    source: Annotated[str, typer.Argument(help=SOURCE_HELP)],
    output: Annotated[Path, typer.Argument(help="Parquet file to write (columns = Task fields)")],
    retriever: Annotated[str, typer.Option(help="corpus file, index folder, 'builtin' or URL: the agent's search")] = "builtin",
    k: Annotated[int, typer.Option(help="passages per question (the agent's search k)")] = 2,
    mode: Annotated[str, typer.Option(help="bm25, dense or hybrid")] = "bm25",
    split: Annotated[str | None, typer.Option(help="split to take (or to label, for single files)")] = None,
    limit: Annotated[int | None, typer.Option(help="keep at most N tasks")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace OUTPUT if it exists")] = False,
) -> None:
    """Put each question's top-k retrieved passages in front of it (input of a CoT + RAG baseline)."""
    from trajkit.errors import InputError
    from trajkit.tasks.files import write_tasks
    from trajkit.tasks.rag import with_passages
    from trajkit.tasks.sources import load_tasks

    if output.exists() and not overwrite:
        raise InputError(f"{output} exists", where="output", fix="pass --overwrite or choose another name")
    task_set = load_tasks(_spec(source, split, limit, None, None, None, None))
    tasks = with_passages(task_set.tasks, retriever, k=k, mode=mode)
    write_tasks(tasks, output)
    print_summary("rag", {"tasks": len(tasks), "k": k, "mode": mode, "written": str(output)})


def synth_command(
    output: Annotated[Path, typer.Argument(help="folder for tasks.parquet, corpus.parquet, synth.json")],
    n: Annotated[int, typer.Option("--n", help="number of tasks")] = 500,
    seed: Annotated[int, typer.Option(help="random seed: same seed, same tasks")] = 0,
    test_fraction: Annotated[float, typer.Option(help="share of tasks in the test split")] = 0.2,
    max_hops: Annotated[int, typer.Option(help="longest retrieval chain (1-3)")] = 2,
    digits: Annotated[int, typer.Option(help="size of the numbers in computation tasks")] = 5,
    knowledge_share: Annotated[float, typer.Option(help="share of retrieval (vs computation) tasks")] = 0.6,
    small_arithmetic_share: Annotated[float, typer.Option(help="share of computation tasks on small numbers (prose can do them)")] = 0.0,
    heldout_templates: Annotated[str, typer.Option(help="templates kept out of train and test, comma list, or 'default'")] = "",
    unseen_fraction: Annotated[float, typer.Option(help="share of the test world in the test_unseen split (held-out templates, paraphrases)")] = 0.0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace tasks already in OUTPUT")] = False,
) -> None:
    """Generate tool-requiring tasks over a fictional world, and the corpus that holds its facts."""
    from trajkit.tasks.synth import SynthConfig, generate, write
    from trajkit.tasks.synth_shapes import parse_heldout

    config = SynthConfig(
        n=n, seed=seed, test_fraction=test_fraction, max_hops=max_hops, digits=digits,
        knowledge_share=knowledge_share, small_arithmetic_share=small_arithmetic_share,
        heldout_templates=parse_heldout(heldout_templates), unseen_fraction=unseen_fraction,
    )
    result = generate(config)
    written = write(result, output, overwrite=overwrite)
    print_summary("synth", {
        "train": len(result.split("train")),
        "test": len(result.split("test")),
        **({"test_unseen": len(result.split("test_unseen"))} if unseen_fraction else {}),
        "documents": len(result.corpus),
        "written": ", ".join(str(p) for p in written.values()),
    })


def grade_command(
    dataset: Annotated[Path, typer.Argument(help="dataset to re-grade (left unchanged)")],
    output: Annotated[Path, typer.Argument(help="new dataset directory")],
    grader: Annotated[str, typer.Option(help="auto, exact_match, f1, math_equiv or llm_judge:MODEL")] = "auto",
    judge_base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible server of the judge (default: OPENAI_BASE_URL or api.openai.com)")] = None,
    judge_api_key_env: Annotated[str, typer.Option(help="environment variable holding the judge's API key")] = "OPENAI_API_KEY",
    judge_cache: Annotated[Path | None, typer.Option(help="judge reply cache (SQLite file)")] = None,
    concurrency: Annotated[int, typer.Option(help="answers graded at once")] = 8,
    math_timeout: Annotated[float | None, typer.Option(help="seconds per math check")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace OUTPUT if it exists")] = False,
) -> None:
    """Grade every trajectory's final answer again into a new dataset version (with lineage)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from trajkit.grading.graders import check_grader_name
    from trajkit.grading.regrade import regrade_dataset
    from trajkit.store import Dataset

    check_grader_name(grader)
    total = len(Dataset.open(dataset))
    judge = None
    if grader.startswith("llm_judge:"):
        from trajkit.grading.llm_judge import judge_from_backend
        from trajkit.teachers import make_backend

        model = grader.removeprefix("llm_judge:")
        config = {"backend": "openai", "model": model, "api_key_env": judge_api_key_env}
        if judge_base_url:
            config["base_url"] = judge_base_url
        elif not os.environ.get("OPENAI_BASE_URL"):
            config["api_key_required"] = True  # api.openai.com: fail now, not after retries
        judge = judge_from_backend(make_backend(config, where="judge"), cache=judge_cache)
    with Progress(
        TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console(stderr=True), transient=True,
    ) as progress:
        bar = progress.add_task("grade", total=total)
        result, counts = regrade_dataset(
            dataset, output, grader=grader, judge=judge, concurrency=concurrency,
            math_timeout_s=math_timeout, overwrite=overwrite,
            on_progress=lambda k: progress.advance(bar, k),
        )
    summary = {
        "graded": counts["graded"],
        "correct": counts["correct"],
        "changed": counts["changed"],
    }
    if counts["timed out"]:
        summary["timed out"] = counts["timed out"]
    if counts["ungraded"]:
        summary["no verdict"] = counts["ungraded"]
    if judge is not None:
        summary["judge calls"] = judge.calls
    summary["written"] = str(result.path)
    print_summary("grade", summary)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
