"""How `--help` reads: plain text that wraps to the terminal, whole option names, classic usage.

Every typer app of the command line is an `App`. It turns off typer's rich help panels: in
those, long option names were cut (`--exclude-error-s…`) and hard-wrapped help re-wrapped
raggedly at 80 columns, while click's plain layout wraps paragraphs, keeps `\\b` blocks
(examples) as written and puts an option's help under a long name. Its commands and groups
show the usage line the classic way (`trajkit sql [OPTIONS] DATASET... QUERY`, not typer's
`{args}...`) and their whole first sentence in a group's command list (wrapped, not cut to
"...").

Help texts are written as short paragraphs, one line each in the source; an example block
starts with a `\\b` line. A help text (of a command or of one of its options) may hold a
generated part, `@{name}` (see GENERATED), filled in only when the help is shown, so that it
follows the code (the views' columns, the model registry) and `trajkit --help` stays fast.
"""

from __future__ import annotations

import importlib
import re

import typer
from typer.core import TyperCommand, TyperGroup


def _argument_usage(param) -> str:
    metavar = getattr(param, "metavar", None)
    name = metavar or (param.name or "").upper()
    if not metavar and param.nargs != 1:
        name += "..."
    return name if param.required else f"[{name}]"


GENERATED = {
    "sql_views": "trajkit.cli.data:views_help",
    "model_specs": "trajkit.cli.evaluate:model_specs_help",
}
_PLACEHOLDER = re.compile(r"@\{(\w+)\}")


def _generated(match: re.Match) -> str:
    module, _, function = GENERATED[match.group(1)].partition(":")
    return getattr(importlib.import_module(module), function)()


def expand(text: str | None) -> str | None:
    return _PLACEHOLDER.sub(_generated, text) if text and "@{" in text else text


class Command(TyperCommand):
    def format_help(self, ctx, formatter) -> None:
        self.help = expand(self.help)
        for param in self.params:
            if getattr(param, "help", None):
                param.help = expand(param.help)
        super().format_help(ctx, formatter)

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        pieces += [_argument_usage(p) for p in self.get_params(ctx) if p.param_type_name == "argument"]
        return pieces

    def get_short_help_str(self, limit: int = 45) -> str:
        return super().get_short_help_str(limit=10_000)


class Group(TyperGroup):
    def collect_usage_pieces(self, ctx) -> list[str]:
        return [*([self.options_metavar] if self.options_metavar else []), self.subcommand_metavar]

    def get_short_help_str(self, limit: int = 45) -> str:
        return super().get_short_help_str(limit=10_000)


class App(typer.Typer):
    """A typer app whose help is plain click help, with `Command` and `Group` as above."""

    def __init__(self, **kwargs):
        kwargs.setdefault("rich_markup_mode", None)
        kwargs.setdefault("cls", Group)
        kwargs.setdefault("no_args_is_help", True)
        kwargs.setdefault("add_completion", False)
        super().__init__(**kwargs)

    def command(self, *args, **kwargs):
        kwargs.setdefault("cls", Command)
        return super().command(*args, **kwargs)
