"""Tables of row dicts that fit the terminal they are printed in.

`FitTable(title, rows)` is a rich renderable that picks its layout at the width it is printed
at (a `COLUMNS` setting or the terminal's):

- `table`: one row per line. Numbers, ids and other single-word values never wrap or shrink;
  only free text (questions, code, JSON) is cut, with an ellipsis, to make room;
- `vertical`: one metric per line and one column per row, for a few wide rows (the `stats`
  overview): the first text column (e.g. `dataset`) heads the columns;
- `records`: one block per row of `column  value` lines, for many columns (`SELECT *`).

A table that fits is always drawn as a table; `wide` says what a table that does not fit becomes
(`auto`: vertical for up to four rows, records beyond).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from numbers import Number
from typing import Any

BORDER = 3  # per column: a rule and one space of padding either side
MIN_TEXT = 10  # the narrowest a free-text column is cut to (its header stays whole)
WORD_MAX = 40  # a value without spaces up to this long is a "word" (an id, a name): never cut
NULL = "—"


class FitTable:
    def __init__(self, title: str | None, rows: list[dict[str, Any]], *, wide: str = "auto"):
        self.title = title
        self.rows = rows
        self.wide = wide

    def layout(self, width: int) -> str:
        """`table`, `vertical` or `records`: how this table is drawn at `width` columns."""
        if not self.rows or _widths(_columns(self.rows), width) is not None:
            return "table"
        if self.wide == "vertical" or (self.wide == "auto" and len(self.rows) <= 4):
            if _widths(_columns(_transposed(self.rows)), width) is not None:
                return "vertical"
        return "records"

    def __rich_console__(self, console, options):
        width = options.max_width
        layout = self.layout(width)
        if layout == "records":
            yield from _records(self.title, self.rows, width)
            return
        rows = _transposed(self.rows) if layout == "vertical" else self.rows
        yield _table(self.title, rows, width)


def cell(value: Any) -> str:
    """A value as one line of text."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return " ".join(str(value).split())


def _is_fixed(name: str, values: list[Any]) -> bool:
    """Numbers, ids, dates and single words: shown whole, never wrapped or cut."""
    if name == "id" or name.endswith("_id") or name in ("fingerprint", "sha256"):
        return True
    for value in values:
        if value is None or isinstance(value, Number | date | datetime):
            continue
        text = cell(value)
        if " " in text or len(text) > WORD_MAX:
            return False
    return True


def _is_number_column(values: list[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, Number) and not isinstance(v, bool) for v in present)


class _Column:
    def __init__(self, name: str, values: list[Any]):
        from rich.cells import cell_len

        self.name = name
        self.texts = [cell(v) for v in values]
        self.fixed = _is_fixed(name, values)
        self.numeric = _is_number_column(values)
        self.header = cell_len(name)
        self.natural = max([self.header, *(cell_len(t) for t in self.texts)])
        self.least = self.natural if self.fixed else min(self.natural, max(self.header, MIN_TEXT))


def _columns(rows: list[dict[str, Any]]) -> list[_Column]:
    keys = list(rows[0])
    return [_Column(str(key), [row.get(key) for row in rows]) for key in keys]


def _widths(columns: list[_Column], width: int) -> list[int] | None:
    """Each column's width at `width` (free text shares what is left), or None if it cannot fit."""
    room = width - (BORDER * len(columns) + 1)
    widths = [c.least for c in columns]
    spare = room - sum(widths)
    if spare < 0:
        return None
    growing = sorted((i for i, c in enumerate(columns) if c.natural > c.least), key=lambda i: columns[i].natural)
    while growing and spare > 0:
        share = max(spare // len(growing), 1)
        i = growing.pop(0)
        add = min(columns[i].natural - widths[i], share)
        widths[i] += add
        spare -= add
    return widths


def _transposed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per metric, one column per row (headed by the first text column's values)."""
    keys = list(rows[0])
    label = next((k for k in keys if all(isinstance(r.get(k), str) for r in rows)), None)
    heads = [str(r[label]) if label else f"#{i}" for i, r in enumerate(rows, start=1)]
    if len(set(heads)) < len(heads):
        heads = [f"{h} (#{i})" for i, h in enumerate(heads, start=1)]
    return [{"": key, **{h: r.get(key) for h, r in zip(heads, rows, strict=True)}} for key in keys if key != label]


def _table(title: str | None, rows: list[dict[str, Any]], width: int):
    from rich.table import Table
    from rich.text import Text

    view = Table(title=title, title_justify="left", header_style="bold")
    if not rows:
        view.add_column("(no rows)")
        return view
    columns = _columns(rows)
    widths = _widths(columns, width) or [c.natural for c in columns]
    for column, w in zip(columns, widths, strict=True):
        view.add_column(
            column.name, width=w, no_wrap=True, overflow="ellipsis",
            justify="right" if column.numeric else "left",
        )
    for i in range(len(rows)):
        view.add_row(*[Text(c.texts[i]) for c in columns])
    return view


def _records(title: str | None, rows: list[dict[str, Any]], width: int):
    """`column  value` lines, one block per row; text values are cut to the line, nothing else."""
    from rich.cells import cell_len, set_cell_size
    from rich.text import Text

    columns = _columns(rows)
    key_width = max(c.header for c in columns)
    room = max(width - key_width - 2, MIN_TEXT)
    if title:
        yield Text(title, style="bold")
    for i in range(len(rows)):
        yield Text(f"── row {i + 1} of {len(rows)} ".ljust(min(width, 40), "─"), style="dim")
        for column in columns:
            text = column.texts[i]
            if not column.fixed and cell_len(text) > room:
                text = set_cell_size(text, room - 1) + "…"
            yield Text.assemble((column.name.ljust(key_width), "bold"), "  ", text, overflow="fold")
