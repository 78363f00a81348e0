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
        if PRESETS[name].where is None:
            raise InputError(
                f"filter preset {name!r} is not a SQL predicate: it re-tokenizes the captured steps",
                fix=f"run trajkit filter SRC DST --preset {name} first and use DST",
            )
        parts.append(f"({PRESETS[name].where})")
    if where and where.strip():
        parts.append(f"({where})")
    return " AND ".join(parts) if parts else None


def presets_table() -> list[dict]:
    from trajkit.curate.presets import PRESETS

    return [{"preset": p.name, "description": p.description, "where": p.where or "(computed: trajkit.drift)"}
            for p in PRESETS.values()]


def filter_with_presets(source, destination, where: str | None, preset_names: list[str], *,
                        overwrite: bool = False, tokenizer: str | None = None):
    """`trajkit filter`: a new dataset of the trajectories of `source` that match `where` and the
    presets; returns (the new dataset, summary items). The SQL presets and `where` select rows in
    DuckDB; `token-exact` then keeps those none of whose captured steps drift (`trajkit.drift`).
    Lineage records the SQL, and the token-exact check's tokenizer and drop counts."""
    from trajkit.curate.presets import PRESETS
    from trajkit.query import filter_dataset

    computed = [name for name in preset_names if name in PRESETS and PRESETS[name].where is None]
    predicate = combine_predicates(where, [name for name in preset_names if name not in computed])
    if predicate is None and not computed:
        raise InputError("no filter given", fix="pass --where 'SQL predicate' and/or --preset NAME")
    if not computed:
        return filter_dataset(source, destination, predicate, overwrite=overwrite), {}
    return _token_exact(source, destination, predicate, computed, overwrite=overwrite, tokenizer=tokenizer)


def _token_exact(source, destination, predicate: str | None, computed: list[str], *, overwrite: bool,
                 tokenizer: str | None):
    import pyarrow as pa
    import pyarrow.compute as pc

    from trajkit.drift import token_exact
    from trajkit.query import select_rows
    from trajkit.schema import Trajectory
    from trajkit.store import Dataset, derive

    dataset = Dataset.open(source)
    rows = select_rows([dataset], predicate or "TRUE")
    exact = token_exact([Trajectory.model_validate(r) for r in rows.to_pylist()], dataset, tokenizer_name=tokenizer)
    kept = rows.filter(pc.is_in(rows.column("trajectory_id"), value_set=pa.array(sorted(exact.keep), pa.string())))
    result = derive([dataset], destination, kept, operation="filter", sql=predicate,
                    params={"presets": computed, "token_exact": exact.params()}, overwrite=overwrite)
    return result, {"dropped by token-exact": exact.dropped()}
