"""SQL over trajectories with DuckDB.

`connect(datasets)` opens an in-memory DuckDB connection with these views over the datasets'
Parquet shards (several datasets are unioned; the `dataset` column says which one a row is
from):

- `trajectories`: one row per trajectory, the common fields flattened (plus the nested
  `task`, `provenance`, `outcome`, `usage`, `review` structs for anything else);
- `steps`: one row per step, with its trajectory and task keys;
- `tool_calls`: one row per tool call, with its step and trajectory keys;
- `candidates`: one row per sampled candidate action, with its step and trajectory keys;
- `raw`: the stored rows as they are (used to derive new datasets).

The views are plain SQL over `read_parquet`, so DuckDB pushes filters and projections into
the scan: trajkit adds no work over querying the files directly.

Two operations select trajectories with a SQL predicate over these views: `filter_dataset`
(a new dataset) and `drop_where` (in place).
"""

from __future__ import annotations

from pathlib import Path

from trajkit.errors import QueryError
from trajkit.store import Dataset

TRAJECTORIES_SQL = """
SELECT
    dataset,
    trajectory_id,
    sample_index,
    task.task_id AS task_id,
    task.source AS source,
    task.split AS split,
    task.domain AS domain,
    task.question AS question,
    task.gold_answer AS gold_answer,
    provenance.kind AS kind,
    provenance.backend AS backend,
    provenance.model AS model,
    provenance.fingerprint AS fingerprint,
    outcome.status AS status,
    outcome.final_answer AS final_answer,
    outcome.correct AS correct,
    outcome.score AS score,
    outcome.grader AS grader,
    len(steps) AS n_steps,
    usage.prompt_tokens AS prompt_tokens,
    usage.completion_tokens AS completion_tokens,
    usage.total_tokens AS total_tokens,
    usage.wall_time_s AS wall_time_s,
    review.status AS review_status,
    review.label AS review_label,
    created_at,
    task, provenance, outcome, usage, review
FROM raw
"""

STEPS_SQL = """
SELECT
    dataset,
    trajectory_id,
    task.task_id AS task_id,
    task.source AS source,
    task.domain AS domain,
    outcome.status AS trajectory_status,
    outcome.correct AS trajectory_correct,
    s.step.index AS step_index,
    s.step.thought AS thought,
    s.step.code AS code,
    s.step.observation AS observation,
    s.step.raw_output AS raw_output,
    s.step.prefix AS prefix,
    s.step.error.type AS error_type,
    s.step.error.message AS error_message,
    s.step.error.exception AS error_exception,
    s.step.final_answer AS final_answer,
    s.step.prompt_tokens AS prompt_tokens,
    s.step.completion_tokens AS completion_tokens,
    s.step.latency_ms AS latency_ms,
    s.step.train AS train,
    len(s.step.tool_calls) AS n_tool_calls,
    len(s.step.candidates) AS n_candidates,
    s.step.tool_calls AS tool_calls,
    s.step.candidates AS candidates
FROM raw, unnest(steps) AS s(step)
"""

TOOL_CALLS_SQL = """
SELECT
    dataset, trajectory_id, task_id, source, domain, step_index,
    t.call.name AS name,
    t.call.arguments AS arguments,
    t.call.output AS output,
    t.call.error AS error,
    t.call.latency_ms AS latency_ms,
    t.call.retrieved AS retrieved
FROM steps, unnest(tool_calls) AS t(call)
"""

CANDIDATES_SQL = """
SELECT
    dataset, trajectory_id, task_id, source, domain, step_index,
    c.cand.index AS candidate_index,
    c.cand.raw_output AS raw_output,
    c.cand.thought AS thought,
    c.cand.code AS code,
    c.cand.parse_ok AS parse_ok,
    c.cand.exec_ok AS exec_ok,
    c.cand.output AS output,
    c.cand.final_answer AS final_answer,
    c.cand.vote_key AS vote_key,
    c.cand.votes AS votes,
    c.cand.selected AS selected,
    c.cand.error.type AS error_type
FROM steps, unnest(candidates) AS c(cand)
"""

VIEWS = {
    "trajectories": TRAJECTORIES_SQL,
    "steps": STEPS_SQL,
    "tool_calls": TOOL_CALLS_SQL,
    "candidates": CANDIDATES_SQL,
}


def open_datasets(datasets: list[str | Path | Dataset]) -> list[Dataset]:
    opened = [d if isinstance(d, Dataset) else Dataset.open(d) for d in datasets]
    if not opened:
        raise QueryError("no dataset given", fix="pass at least one dataset directory")
    return opened


def connect(datasets: list[str | Path | Dataset], *, memory_limit: str | None = None):
    """A DuckDB connection with the trajkit views over `datasets`."""
    import duckdb

    opened = open_datasets(datasets)
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"CREATE VIEW raw AS {_raw_union(opened)}")
    for name, body in VIEWS.items():
        con.execute(f"CREATE VIEW {name} AS {body}")
    return con


def _raw_union(datasets: list[Dataset]) -> str:
    parts = []
    for dataset in datasets:
        label = _sql_string(dataset.name)
        files = [str(p) for p in dataset.shard_paths()]
        if files:
            listing = ", ".join(_sql_string(f) for f in files)
            parts.append(f"SELECT {label} AS dataset, * FROM read_parquet([{listing}])")
        else:
            parts.append(f"SELECT {label} AS dataset, * FROM ({_empty_select()})")
    return " UNION ALL BY NAME ".join(parts)


def _empty_select() -> str:
    """A zero-row relation with the storage schema, for empty datasets."""
    from trajkit.schema import arrow_schema

    return "SELECT " + ", ".join(
        f"CAST(NULL AS {_duck_type(f.type)}) AS {f.name}" for f in arrow_schema()
    ) + " WHERE false"


def _duck_type(arrow_type) -> str:
    import pyarrow as pa

    if pa.types.is_struct(arrow_type):
        inner = ", ".join(f'"{f.name}" {_duck_type(f.type)}' for f in arrow_type)
        return f"STRUCT({inner})"
    if pa.types.is_list(arrow_type):
        return f"{_duck_type(arrow_type.value_type)}[]"
    simple = {
        pa.string(): "VARCHAR",
        pa.int64(): "BIGINT",
        pa.float64(): "DOUBLE",
        pa.bool_(): "BOOLEAN",
    }
    if arrow_type in simple:
        return simple[arrow_type]
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ"
    raise TypeError(f"no DuckDB type for {arrow_type}")


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql(datasets: list[str | Path | Dataset], query: str):
    """Run `query` over the views; returns a pyarrow Table."""
    con = connect(datasets)
    try:
        return run(con, query)
    finally:
        con.close()


def sql_polars(datasets: list[str | Path | Dataset], query: str):
    import polars as pl

    return pl.from_arrow(sql(datasets, query))


def run(con, query: str):
    import duckdb

    try:
        relation = con.sql(query)
        if relation is None:
            raise QueryError("the statement returns no rows", where="sql", fix="use a SELECT query")
        return relation.to_arrow_table()
    except duckdb.Error as exc:
        what, pointer = _duckdb_message(exc)
        fix = _query_hint() + "".join(f"\n{line}" for line in pointer)
        raise QueryError(what, where="sql", fix=fix) from None


def _duckdb_message(exc: Exception) -> tuple[str, list[str]]:
    """DuckDB's message with its hints kept (`Candidate bindings: ...`, `Did you mean ...?`) in
    one line, and the `LINE n: ...` quote with its caret line (kept as they are, aligned)."""
    lines = [line.rstrip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__, []
    pointer = [line for line in lines[1:] if line.startswith("LINE ") or set(line.strip()) <= {"^"}]
    hints = [line.strip() for line in lines[1:] if line not in pointer]
    return " ".join([lines[0], *hints]), pointer


def _query_hint() -> str:
    views = ", ".join([*VIEWS, "raw"])
    return f"views: {views}; their columns: trajkit sql --help"


def view_columns() -> dict[str, list[str]]:
    """Each view's columns, read from DuckDB over an empty dataset (for `trajkit sql --help`)."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.execute(f"CREATE VIEW raw AS SELECT '' AS dataset, * FROM ({_empty_select()})")
        for name, body in VIEWS.items():
            con.execute(f"CREATE VIEW {name} AS {body}")
        return {name: [row[0] for row in con.execute(f"DESCRIBE {name}").fetchall()] for name in [*VIEWS, "raw"]}
    finally:
        con.close()


def select_rows(datasets: list[Dataset], where: str):
    """The stored rows (storage schema) of the trajectories matching a SQL predicate."""
    from trajkit.schema import arrow_schema

    con = connect(datasets)
    try:
        columns = ", ".join(f"raw.{f.name}" for f in arrow_schema())
        query = (
            f"SELECT {columns} FROM raw WHERE trajectory_id IN "
            f"(SELECT trajectory_id FROM trajectories WHERE {where})"
        )
        table = run(con, query)
    finally:
        con.close()
    return table.cast(arrow_schema())


def filter_dataset(source: str | Path, destination: str | Path, where: str, *, overwrite: bool = False) -> Dataset:
    """A new dataset holding the trajectories of `source` for which `where` is true."""
    from trajkit.store import derive

    dataset = Dataset.open(source)
    rows = select_rows([dataset], where)
    return derive([dataset], destination, rows, operation="filter", sql=where, overwrite=overwrite)


def drop_where(dataset: Dataset, where: str, *, operation: str) -> int:
    """Remove the trajectories matching a SQL predicate, in place and atomically.

    The one sanctioned exception to append-only: `build --retry-failed` drops failed rollouts
    so they can be redone under the same ids. Returns the number of rows removed.
    """
    import pyarrow.compute as pc

    doomed = sql([dataset], f"SELECT trajectory_id FROM trajectories WHERE {where}").column(0).unique()
    if len(doomed):
        table = dataset.to_arrow()
        keep = pc.invert(pc.is_in(table.column("trajectory_id"), value_set=doomed))
        dataset.replace_rows(table.filter(keep), rows_per_shard=100_000, operation=operation, params={"where": where})
    return len(doomed)
