"""The `trajkit` command line: a thin typer app.

Each command group lives in its own module (`trajkit/cli/<group>.py`, listed in GROUPS)
exposing `register(app)`. Beside them are the helpers only the commands use: `output` (errors
and summaries), `render` (trajectories and tables in the terminal), `tabular` (query results to
csv/json/parquet), `schemafiles` (the published JSON Schema files) and `report` (the evaluation
report). Command modules import only typer, rich and `output` at top level; the library, the
other helpers and any heavy dependency are imported inside the command functions so
`trajkit --help` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from trajkit.errors import TrajkitError

GROUPS = ["data", "tools", "tasks", "build", "curate", "hub", "train", "evaluate", "models", "view"]

app = typer.Typer(
    name="trajkit",
    help="Build, curate, publish and train on agent-distillation datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="show tracebacks for errors"),
) -> None:
    _state["debug"] = debug


def _register_groups() -> None:
    for name in GROUPS:
        importlib.import_module(f"trajkit.cli.{name}").register(app)


_register_groups()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; user errors print one line and exit 2."""
    args = sys.argv[1:] if argv is None else argv
    _state["debug"] = "--debug" in args
    try:
        app(args=args, standalone_mode=False)
    except TrajkitError as exc:
        if _state["debug"]:
            raise
        from trajkit.cli.output import print_error

        print_error(exc.one_line())
        sys.exit(2)
    except KeyboardInterrupt:
        print_interrupted()
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(2)
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        raise


def print_interrupted() -> None:
    print("interrupted", file=sys.stderr)
