"""Benchmark: trajkit SQL vs pandas vs raw DuckDB on 1,000,000 trajectories (~5M steps),
and the dataset writer vs a bare `pyarrow.parquet.write_table`.

    python bench/query.py [--rows 1000000]

The data is generated once into bench/_data/query-<rows> and reused. Every ratio is against a
baseline measured in this same run. Peak memory of each trajkit query is measured in a fresh
child process (ru_maxrss), so earlier work in this process does not count.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

QUERIES = {
    "selective filter (outcome + step count)": (
        "SELECT trajectory_id, task_id FROM trajectories WHERE status = 'max_steps' AND n_steps >= 8 AND correct",
        "SELECT trajectory_id, task.task_id FROM read_parquet({files}) "
        "WHERE outcome.status = 'max_steps' AND len(steps) >= 8 AND outcome.correct",
    ),
    "aggregate unnested steps by error type": (
        "SELECT error_type, count(*) AS n, avg(completion_tokens) AS tokens FROM steps GROUP BY error_type",
        "SELECT s.e.error.type AS error_type, count(*) AS n, avg(s.e.completion_tokens) AS tokens "
        "FROM read_parquet({files}), unnest(steps) AS s(e) GROUP BY 1",
    ),
    # The raw baseline is the best single-pass query a DuckDB user would write on the files
    # (no join needed: each row already holds its task); trajkit's side is the natural join of
    # its tool_calls and trajectories views.
    "join tool calls to tasks": (
        "SELECT t.source, c.name, count(*) AS calls, avg(c.latency_ms) AS ms "
        "FROM tool_calls c JOIN trajectories t USING (trajectory_id) GROUP BY ALL",
        "SELECT task.source AS source, tc.c.name AS name, count(*) AS calls, avg(tc.c.latency_ms) AS ms "
        "FROM read_parquet({files}), unnest(steps) AS s(e), unnest(s.e.tool_calls) AS tc(c) GROUP BY ALL",
    ),
}


def ensure_data(rows: int) -> Path:
    from synthetic_rows import synthetic_table

    from trajkit.store import Dataset

    path = BENCH / "_data" / f"query-{rows}"
    if (path / "trajkit.json").exists() and len(Dataset.open(path)) == rows:
        return path
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    started = time.perf_counter()
    dataset = Dataset.create(path)
    chunk = 100_000
    for start in range(0, rows, chunk):
        dataset.append(synthetic_table(min(chunk, rows - start), seed=start, start=start))
    print(f"generated {rows:,} trajectories, {dataset.manifest.steps:,} steps in {time.perf_counter() - started:.1f}s")
    return path


def best_of(fn, repeat: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def pandas_query(name: str, files: list[str]):
    """What a pandas user writes: read the needed columns per file, explode, aggregate."""
    import pandas as pd

    if name.startswith("selective"):
        parts = []
        for f in files:
            df = pd.read_parquet(f, columns=["trajectory_id", "task", "outcome", "steps"])
            keep = (
                df["outcome"].map(lambda o: o["status"] == "max_steps" and bool(o["correct"]))
                & (df["steps"].map(len) >= 8)
            )
            parts.append(pd.DataFrame({"trajectory_id": df.loc[keep, "trajectory_id"], "task_id": df.loc[keep, "task"].map(lambda t: t["task_id"])}))
        return pd.concat(parts)
    if name.startswith("aggregate"):
        parts = []
        for f in files:
            steps = pd.read_parquet(f, columns=["steps"])["steps"].explode().dropna()
            flat = pd.DataFrame(
                {
                    "error_type": steps.map(lambda s: s["error"]["type"] if s["error"] else None),
                    "completion_tokens": steps.map(lambda s: s["completion_tokens"]),
                }
            )
            parts.append(flat.groupby("error_type", dropna=False)["completion_tokens"].agg(["count", "sum"]))
        total = pd.concat(parts).groupby(level=0, dropna=False).sum()
        return total.assign(tokens=total["sum"] / total["count"])
    parts = []
    for f in files:
        df = pd.read_parquet(f, columns=["trajectory_id", "task", "steps"])
        source = df.set_index("trajectory_id")["task"].map(lambda t: t["source"])
        steps = df[["trajectory_id", "steps"]].explode("steps").dropna()
        calls = steps.assign(call=steps["steps"].map(lambda s: list(s["tool_calls"]))).explode("call").dropna(subset=["call"])
        flat = pd.DataFrame(
            {
                "trajectory_id": calls["trajectory_id"],
                "name": calls["call"].map(lambda c: c["name"]),
                "latency_ms": calls["call"].map(lambda c: c["latency_ms"]),
            }
        )
        flat["source"] = flat["trajectory_id"].map(source)
        parts.append(flat.groupby(["source", "name"])["latency_ms"].agg(["count", "sum"]))
    total = pd.concat(parts).groupby(level=[0, 1]).sum()
    return total.assign(ms=total["sum"] / total["count"])


# VmHWM, not ru_maxrss: Linux carries the parent's high-water mark across fork+exec into
# ru_maxrss, so a child of this (large) process would report the parent's peak.
CHILD = """
import sys, time
sys.path.insert(0, {repo!r})
from trajkit.query import sql
started = time.perf_counter()
table = sql([{path!r}], {query!r})
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1]
print(time.perf_counter() - started, hwm, table.num_rows)
"""


def peak_memory_mb(path: Path, query: str) -> float:
    code = CHILD.format(repo=str(BENCH.parent), path=str(path), query=query)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()[-1].split()
    return int(out[1]) / 1024


def bench_queries(path: Path, with_pandas: bool) -> list[dict]:
    import duckdb

    from trajkit.query import connect, run
    from trajkit.store import Dataset

    dataset = Dataset.open(path)
    files = [str(p) for p in dataset.shard_paths()]
    listing = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    con = connect([dataset])
    raw = duckdb.connect()
    results = []
    for name, (trajkit_sql, raw_sql) in QUERIES.items():
        t_trajkit, ours = best_of(lambda q=trajkit_sql: run(con, q))
        t_raw, theirs = best_of(lambda q=raw_sql: raw.sql(q.format(files=listing)).to_arrow_table())
        assert ours.num_rows == theirs.num_rows, (name, ours.num_rows, theirs.num_rows)
        row = {"query": name, "trajkit_s": t_trajkit, "raw_duckdb_s": t_raw, "rows": ours.num_rows}
        if with_pandas:
            t_pandas, frame = best_of(lambda n=name: pandas_query(n, files), repeat=1)
            assert len(frame) == ours.num_rows, (name, len(frame), ours.num_rows)
            row["pandas_s"] = t_pandas
        row["peak_mb"] = peak_memory_mb(path, trajkit_sql)
        results.append(row)
    return results


def bench_writer(rows: int) -> dict:
    import shutil
    import tempfile

    import pyarrow.parquet as pq
    from synthetic_rows import synthetic_table

    from trajkit.shards import row_group_size
    from trajkit.store import Dataset

    table = synthetic_table(rows, seed=123, start=10_000_000)
    scratch = Path(tempfile.mkdtemp(prefix="trajkit-bench-"))
    try:
        def bare():
            pq.write_table(table, scratch / "bare.parquet", compression="zstd", row_group_size=row_group_size(table))

        counter = iter(range(1000))

        def ours():
            Dataset.create(scratch / f"ds{next(counter)}").append(table)

        t_bare, _ = best_of(bare)
        t_ours, _ = best_of(ours)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"rows": rows, "bare_s": t_bare, "trajkit_s": t_ours}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--writer-rows", type=int, default=100_000)
    parser.add_argument("--no-pandas", action="store_true", help="skip the (slow) pandas baseline")
    args = parser.parse_args()

    path = ensure_data(args.rows)
    print(f"\n== queries over {args.rows:,} trajectories (best of 3; pandas once)", flush=True)
    for row in bench_queries(path, with_pandas=not args.no_pandas):
        line = (
            f"{row['query']:<42} trajkit {row['trajkit_s']:.3f}s  raw duckdb {row['raw_duckdb_s']:.3f}s  "
            f"trajkit/raw {row['trajkit_s'] / row['raw_duckdb_s']:.2f}x"
        )
        if "pandas_s" in row:
            line += f"  pandas {row['pandas_s']:.1f}s  speed-up vs pandas {row['pandas_s'] / row['trajkit_s']:.0f}x"
        line += f"  peak {row['peak_mb']:.0f} MB"
        print(line, flush=True)
    writer = bench_writer(args.writer_rows)
    print(f"\n== writer, {writer['rows']:,} trajectories")
    print(
        f"bare pq.write_table {writer['bare_s']:.2f}s  trajkit append (validate + atomic commit) "
        f"{writer['trajkit_s']:.2f}s  throughput ratio {writer['bare_s'] / writer['trajkit_s']:.2f} (goal >= 0.8)"
    )
    print(json.dumps({"queries": "see above", "writer_ratio": round(writer["bare_s"] / writer["trajkit_s"], 3)}))


if __name__ == "__main__":
    main()
