"""Filter predicates: user SQL plus named presets (trajkit/curate/presets.py)."""

from __future__ import annotations

from trajkit.errors import InputError


def combine_predicates(where: str | None, preset_names: list[str]) -> str | None:
    """AND together a user predicate and named presets; None when there is nothing."""
    from trajkit.curate.presets import PRESETS

    parts = []
    for name in preset_names:
        if name not in PRESETS:
            raise InputError(
                f"unknown filter preset {name!r}",
                fix=f"known presets: {', '.join(sorted(PRESETS))} (trajkit filter --list-presets)",
            )
        parts.append(f"({PRESETS[name].where})")
    if where and where.strip():
        parts.append(f"({where})")
    return " AND ".join(parts) if parts else None


def presets_table() -> list[dict]:
    from trajkit.curate.presets import PRESETS

    return [{"preset": p.name, "description": p.description, "where": p.where} for p in PRESETS.values()]
