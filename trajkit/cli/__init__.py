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

from trajkit.cli.helpformat import App
from trajkit.errors import TrajkitError

GROUPS = ["data", "tools", "tasks", "build", "curate", "hub", "train", "evaluate", "models", "view"]

app = App(
    name="trajkit",
    help="Build, curate, publish and train on agent-distillation datasets.",
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="show tracebacks for errors (also after the verb)"),
) -> None:
    _state["debug"] = _state["debug"] or debug


def _register_groups() -> None:
    for name in GROUPS:
        importlib.import_module(f"trajkit.cli.{name}").register(app)


_register_groups()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; user errors and usage mistakes print one line and exit 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    args, _state["debug"] = _take_debug(args)
    try:
        app(args=args, standalone_mode=False, prog_name="trajkit")
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
    except Exception as exc:  # click's usage errors, from typer's own copy of click or click itself
        from trajkit.cli import usage

        if usage.is_exit(exc):
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        if usage.is_abort(exc):
            print_interrupted()
            sys.exit(1)
        if usage.is_help_request(exc):  # a group without its sub-command: its help, as --help
            print(exc.format_message())  # type: ignore[attr-defined]
            sys.exit(0)
        if usage.is_usage_error(exc) and not _state["debug"]:
            from trajkit.cli.output import print_error

            print_error(usage.one_line(exc))
            sys.exit(2)
        raise


def _take_debug(args: list[str]) -> tuple[list[str], bool]:
    """`--debug` anywhere before `--` (after the verb too) turns on tracebacks. `--no-overwrite`,
    the old spelling of the default of some verbs (`--overwrite` is a plain flag now), is dropped."""
    end = args.index("--") if "--" in args else len(args)
    head = [a for a in args[:end] if a != "--debug"]
    debug = len(head) != end
    head = [a for a in head if a != "--no-overwrite"]
    return head + args[end:], debug


def print_interrupted() -> None:
    print("interrupted", file=sys.stderr)
