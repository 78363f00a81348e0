"""Command-line usage mistakes (unknown verb or option, missing or bad argument) as one line.

typer has raised the exceptions of click itself (typer < 0.20) and of its own vendored copy of
click (`typer._click`, typer >= 0.20); the classes are told apart by the modules that define them,
whichever of the two is loaded, so a new typer release cannot turn a one-line mistake into a
traceback again. Nothing here imports click: an exception of a module not loaded cannot occur.
"""

from __future__ import annotations

import sys

CLICK_MODULES = ("typer._click.exceptions", "click.exceptions")


def _classes(name: str) -> tuple[type, ...]:
    """The exception class `name` of every click implementation that is loaded."""
    found = []
    for module_name in CLICK_MODULES:
        module = sys.modules.get(module_name)
        cls = getattr(module, name, None) if module is not None else None
        if isinstance(cls, type):
            found.append(cls)
    return tuple(found)


def is_exit(exc: BaseException) -> bool:
    """click's `Exit` (e.g. after --help): leave with its exit code, print nothing."""
    return isinstance(exc, _classes("Exit"))


def is_abort(exc: BaseException) -> bool:
    return isinstance(exc, _classes("Abort"))


def is_help_request(exc: BaseException) -> bool:
    """A group called without a sub-command: click's error carries the group's help."""
    return isinstance(exc, _classes("NoArgsIsHelpError"))


def is_usage_error(exc: BaseException) -> bool:
    return isinstance(exc, _classes("ClickException"))


def one_line(exc: BaseException) -> str:
    """`trajkit sql: No such option: --formt. Did you mean --format? — see trajkit sql --help`."""
    message = _message(exc)
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", None) or "trajkit"
    text = " ".join(message.split())
    return f"{command}: {text} — see {command} --help"


def _message(exc: BaseException) -> str:
    if isinstance(exc, _classes("NoSuchOption")):
        possibilities = sorted(getattr(exc, "possibilities", None) or [])
        base = getattr(exc, "message", None) or str(exc)
        if possibilities:
            return f"{base.rstrip('.')}. Did you mean {' or '.join(possibilities)}?"
        return base
    format_message = getattr(exc, "format_message", None)
    return format_message() if callable(format_message) else str(exc)
