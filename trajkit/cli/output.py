"""Terminal output shared by the command modules."""

from __future__ import annotations

import sys


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def print_error(message: str) -> None:
    if sys.stderr.isatty():  # one logical line (the terminal wraps it); the message is not markup
        from rich.markup import escape

        console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    else:
        print(f"error: {message}", file=sys.stderr)


def print_summary(title: str, items: dict[str, object]) -> None:
    """The short closing summary every command prints."""
    body = ", ".join(f"{k}: {v}" for k, v in items.items())
    console().print(f"[bold]{title}[/] {body}", markup=True)
