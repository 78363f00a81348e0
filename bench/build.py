"""Benchmark: toolkit overhead of `trajkit build` with an instant teacher.

A local OpenAI-compatible server replays fixed completions instantly (ScriptedServer), so what
is measured is trajkit itself: HTTP client, agent loop, sandboxed execution of 3 steps per
trajectory (including a search tool call), grading and Parquet commits.

    python bench/build.py [--tasks 100] [--samples 2] [--concurrency 16]

Prints trajectories/s, and the share of wall time spent outside the teacher (wall time minus
the time requests spent in the teacher server, over wall time). Goal: >= 20 trajectories/s on
2 cores. The baseline is the same workload with the teacher replaced by nothing at all: the
bare sandbox executing the same 3 code blocks per trajectory, sequentially, in this process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STEPS = [
    "Thought: look it up.\nCode:\n```py\nr = search('founded')\nprint(len(r))\n```<end_code>",
    "Thought: compute.\nCode:\n```py\nx = sum(i * i for i in range(100))\nprint(x)\n```<end_code>",
    "Thought: answer.\nCode:\n```py\nfinal_answer(x)\n```<end_code>",
]


def make_inputs(root: Path, tasks: int) -> tuple[Path, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    task_file = root / "tasks.jsonl"
    task_file.write_text("".join(json.dumps({"id": f"t{i}", "question": f"Sum of squares below 100, variant {i}?", "answer": "328350"}) + "\n" for i in range(tasks)))
    corpus = root / "corpus.parquet"
    pq.write_table(
        pa.table({"doc_id": [f"d{i}" for i in range(200)], "title": [f"Place {i}" for i in range(200)],
                  "text": [f"Place {i} was founded in {1200 + i}." for i in range(200)]}),
        corpus,
    )
    return task_file, corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    from trajkit.build import build
    from trajkit.teachers.scripted_server import ScriptedServer

    root = Path(tempfile.mkdtemp(prefix="trajkit-bench-build-"))
    try:
        task_file, corpus = make_inputs(root, args.tasks)
        with ScriptedServer(STEPS) as server:
            recipe = {
                "tasks": {"source": str(task_file), "domain": "math"},
                "teacher": {"backend": "openai", "base_url": server.base_url, "model": "scripted", "api_key_env": None},
                "sampling": {"temperature": 0.0, "max_tokens": 64},
                "agent": {"max_steps": 3},
                "tools": {"retriever": {"corpus": str(corpus), "mode": "bm25", "k": 2}},
                "samples_per_task": args.samples,
                "concurrency": args.concurrency,
                "flush_every": 50,
                "output": str(root / "out"),
            }
            path = root / "recipe.yaml"
            path.write_text(yaml.safe_dump(recipe))
            build(path, output=str(root / "warmup"), limit=2, show_progress=False)  # index build, sandbox start
            started = time.perf_counter()
            dataset, stats = build(path, show_progress=False)
            wall = time.perf_counter() - started
        trajectories = len(dataset)
        teacher_s = _teacher_seconds(dataset)
        baseline = _bare_sandbox(trajectories, corpus)
        print(f"trajectories: {trajectories} x 3 steps, concurrency {args.concurrency}")
        print(f"trajkit build: {wall:.2f}s wall -> {trajectories / wall:.1f} trajectories/s (goal >= 20)")
        print(f"time in teacher requests (summed over concurrent requests): {teacher_s:.2f}s; "
              f"share of wall time outside the teacher: {max(0.0, 1 - teacher_s / (wall * args.concurrency)):.0%} "
              "(requests overlap, so the teacher's own share is summed/concurrency)")
        print(f"bare sandbox, same code, sequential: {baseline:.2f}s -> {trajectories / baseline:.1f} trajectories/s; "
              f"trajkit/bare throughput ratio {baseline / wall:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _teacher_seconds(dataset) -> float:
    from trajkit.query import sql

    # Step latency covers generation + execution; the scripted server answers instantly, so
    # the generation part is the HTTP round trip. Measure it from the tool-call latencies:
    # step latency minus sandbox time.
    rows = sql([dataset.path], "SELECT sum(latency_ms) AS step_ms FROM steps").to_pylist()[0]
    code = sql([dataset.path], "SELECT sum(latency_ms) AS code_ms FROM tool_calls WHERE name = 'python_interpreter'").to_pylist()[0]
    return max(0.0, ((rows["step_ms"] or 0) - (code["code_ms"] or 0)) / 1000)


def _bare_sandbox(trajectories: int, corpus: Path) -> float:
    from trajkit.agent.format import parse_action
    from trajkit.tools.registry import SearchTool, open_retriever
    from trajkit.tools.sandbox import SandboxPool

    search = SearchTool(open_retriever(str(corpus), dense=False), name="search", k=2, mode="bm25")
    codes = [parse_action(s).code for s in STEPS]
    with SandboxPool(tools={"search": search}) as pool:
        pool.new_interpreter().close()
        started = time.perf_counter()
        for _ in range(trajectories):
            interpreter = pool.new_interpreter()
            for code in codes:
                interpreter.run(code)
            interpreter.close()
        return time.perf_counter() - started


if __name__ == "__main__":
    main()
