"""Tool commands: index build, search, sandbox info/run."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from trajkit.cli.helpformat import App
from trajkit.cli.output import console, print_summary


def register(app: typer.Typer) -> None:
    index_app = App(
        help="Retrieval indexes (BM25 + dense) over a corpus.", no_args_is_help=True
    )
    index_app.command("build")(index_build)
    app.add_typer(index_app, name="index")
    app.command("search")(search_command)
    sandbox_app = App(
        help="The Python sandbox the agent's code runs in.", no_args_is_help=True
    )
    sandbox_app.command("info")(sandbox_info)
    sandbox_app.command("run")(sandbox_run)
    app.add_typer(sandbox_app, name="sandbox")


def index_build(
    corpus: Annotated[
        str, typer.Argument(help="Parquet/JSONL file or folder of Parquet files, or 'builtin'")
    ],
    out: Annotated[
        Path | None, typer.Option("--output", "-o", "--out", help="index folder (default: the cache)")
    ] = None,
    dense: Annotated[
        bool, typer.Option("--dense/--no-dense", help="also build the dense (embedding) index")
    ] = True,
    model: Annotated[
        str | None, typer.Option(help="sentence-transformers folder (default: embedded MiniLM)")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="passages per encoding batch")] = 64,
    force: Annotated[
        bool, typer.Option("--overwrite", "--force", help="replace an existing index in --output")
    ] = False,
) -> None:
    """Build and cache the BM25 and dense indexes of CORPUS (offline)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from trajkit.tools.corpus import load_corpus
    from trajkit.tools.retriever import DEFAULT_MODEL, build_index

    started = time.perf_counter()
    loaded = load_corpus(corpus)
    with Progress(
        TextColumn("[bold]encoding passages"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("encode", total=len(loaded), rate="")
        encode_started = time.perf_counter()

        def report(_stage: str, done: int, total: int) -> None:
            rate = done / max(time.perf_counter() - encode_started, 1e-6)
            progress.update(task, completed=done, total=total, rate=f"{rate:.0f} passages/s")

        path = build_index(
            loaded,
            out,
            dense=dense,
            model=model or DEFAULT_MODEL,
            batch_size=batch_size,
            force=force,
            progress=report,
        )
    manifest = json.loads((path / "index.json").read_text())
    print_summary(
        "index",
        {
            "path": str(path),
            "documents": manifest["corpus"]["documents"],
            "parts": ", ".join(p for p in ("bm25", "dense") if p in manifest["components"]),
            "seconds": f"{time.perf_counter() - started:.1f}",
        },
    )


def search_command(
    index: Annotated[
        str,
        typer.Argument(help="index folder, corpus file, 'builtin', or http(s) URL of a retriever"),
    ],
    query: Annotated[str, typer.Argument(help="what to search for")],
    k: Annotated[int, typer.Option("-k", help="number of passages")] = 3,
    mode: Annotated[str | None, typer.Option(help="hybrid (default), bm25 or dense")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per passage")] = False,
) -> None:
    """Search INDEX and print the top passages."""
    from trajkit.tools.registry import open_retriever

    retriever = open_retriever(index, dense=mode != "bm25")
    started = time.perf_counter()
    hits = retriever.search(query, k=k, mode=mode)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if as_json:
        for rank, hit in enumerate(hits, start=1):
            print(
                json.dumps(
                    {
                        "rank": rank,
                        "doc_id": hit.doc_id,
                        "title": hit.title,
                        "score": hit.score,
                        "text": hit.text,
                    },
                    ensure_ascii=False,
                )
            )
        return
    out = console()
    for rank, hit in enumerate(hits, start=1):
        out.print(
            f"[bold]{rank}. {hit.title or hit.doc_id}[/]  [dim]{hit.doc_id}  score {hit.score:.4g}[/]",
            markup=True,
        )
        text = hit.text if len(hit.text) <= 400 else hit.text[:400] + "..."
        out.print(text, markup=False, highlight=False)
        out.print()
    print_summary(
        "search",
        {
            "results": len(hits),
            "mode": mode or getattr(retriever, "default_mode", "?"),
            "ms": f"{elapsed_ms:.1f}",
        },
    )


def sandbox_info() -> None:
    """Start the sandbox and say which protections are in force on this machine."""
    from trajkit.tools.sandbox import SandboxPool

    started = time.perf_counter()
    with SandboxPool() as pool:
        out = console()
        for name, text in pool.protections.items():
            out.print(f"[bold]{name}[/]: {text}", markup=True, highlight=False)
        if pool.missing_modules:
            out.print(
                f"[yellow]allowed but not installed[/]: {', '.join(pool.missing_modules)}",
                markup=True,
            )
        result = pool.new_interpreter().run("import numpy, sympy\nprint('ok')")
    print_summary(
        "sandbox",
        {
            "launcher": pool.launcher,
            "isolated": pool.isolated,
            "smoke test": "ok" if result.ok and result.stdout == "ok\n" else result.error,
            "seconds": f"{time.perf_counter() - started:.1f}",
        },
    )


def sandbox_run(
    code: Annotated[str, typer.Argument(help="Python code, or @FILE to read it from a file")],
    timeout: Annotated[float | None, typer.Option(help="wall-time limit in seconds")] = None,
) -> None:
    """Run CODE once in a fresh sandboxed interpreter and print the structured result."""
    from trajkit.errors import InputError
    from trajkit.tools.sandbox import SandboxPool

    if code.startswith("@"):
        path = Path(code[1:])
        if not path.is_file():
            raise InputError(f"{path} does not exist", where=str(path))
        code = path.read_text()
    with SandboxPool() as pool:
        result = pool.new_interpreter().run(code, timeout=timeout)
    body = {
        "stdout": result.stdout,
        "value": result.value,
        "answered": result.answered,
        "final_answer": result.final_answer,
        "error": result.error.model_dump() if result.error else None,
        "duration_ms": round(result.duration_ms, 2),
    }
    print(json.dumps(body, indent=1, ensure_ascii=False))
    if result.error is not None:
        sys.exit(1)  # the code failed (its typed error is printed above); not a usage error
