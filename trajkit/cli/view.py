"""`trajkit view DATASET... [--out DIR] [--serve]`: a static web page over datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trajkit.cli.output import console, print_summary

HELP = """A web page over datasets: filter and sort trajectories, read them step by step, compare runs.

Put two runs of the same task side by side (the first divergent step marked), and see where runs leave each other across tasks. Several datasets (a teacher run and eval runs) are joined on task.

The page is one folder (HTML, JS, CSS and its data) that opens from disk and works offline.

\b
  trajkit view demo-out/teacher              # writes ./trajkit-view/
  trajkit view teacher eval-base eval-student -o view
  trajkit view teacher eval-student --serve  # until Ctrl-C
"""


def register(app: typer.Typer) -> None:
    app.command("view", help=HELP)(view_command)


def view_command(
    datasets: Annotated[list[Path], typer.Argument(help="dataset directories (runs of the same tasks are joined)")],
    out: Annotated[Path | None, typer.Option("--output", "-o", "--out", help="folder to write (default ./trajkit-view; an earlier view there is replaced)")] = None,
    serve: Annotated[bool, typer.Option("--serve", help="serve the page on 127.0.0.1 and print its URL")] = False,
    port: Annotated[int, typer.Option(help="port for --serve (0: a free one)")] = 0,
) -> None:
    import tempfile

    from trajkit.view.site import write_view

    temporary = None
    if out is None:
        if serve:
            temporary = tempfile.TemporaryDirectory(prefix="trajkit-view-")
            out = Path(temporary.name) / "view"
        else:
            out = Path("trajkit-view")
    try:
        result = write_view([str(d) for d in datasets], out)
        for problem in result.problems:
            if problem["level"] in ("error", "warning"):
                where = f"{problem['dataset']}: " if problem["dataset"] else ""
                console(stderr=True).print(f"[yellow]{problem['level']}:[/] {where}{problem['message']}", markup=True, highlight=False)
        summary = {
            "datasets": result.datasets,
            "trajectories": result.trajectories,
            "tasks": result.tasks,
        }
        if not serve:
            print_summary("view", {**summary, "written": str(out)})
            print(f"open {result.url()}", flush=True)
            return
        _serve(result, summary, port)
    finally:
        if temporary is not None:
            temporary.cleanup()


def _serve(result, summary: dict, port: int) -> None:
    import signal

    from trajkit.view.serve import make_server, url_of

    def stop(signum, frame):
        raise KeyboardInterrupt

    server = make_server(result.path, port=port)
    print_summary("view", summary)
    print(f"serving {url_of(server)} (Ctrl-C to stop)", flush=True)
    previous = signal.signal(signal.SIGTERM, stop)  # stop cleanly (temporary folder removed) on kill too
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
    print_summary("view", {"stopped": url_of(server)})
