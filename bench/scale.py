"""Benchmark: scale-out on Ray — trajectories/s for 1, 2 and 4 actors, and Ray against local.

The teacher is a scripted OpenAI-compatible server with a fixed latency per request (200 ms by
default), so the 2 cores of this machine are not what limits throughput: generation time is.
Each trajectory is 3 steps (3 teacher requests) with sandbox work in every step. The cluster is
a real multi-node Ray cluster on this machine (`ray.cluster_utils.Cluster`: a head without CPUs
and two worker nodes with two CPUs each, three raylets); an actor takes one CPU.

    python bench/scale.py [--latency-ms 200] [--tasks-per-actor 48] [--concurrency 4]
    python bench/scale.py --store   # also: commit rate of the store as the shard count grows

Every configuration runs the same per-actor concurrency (`concurrency` rollouts in flight per
actor; the local path runs the same number in one process). Printed: end-to-end trajectories/s
(actor start-up included) and steady trajectories/s (first to last commit), and the ratios:
2 and 4 actors against 1 actor (goals >= 1.8x and >= 3x) and the Ray path at 1 actor against
the local path (goal: overhead <= 10%).
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
    "Thought: compute.\nCode:\n```py\nx = sum(i * i for i in range(20000))\nprint(x)\n```<end_code>",
    "Thought: reduce.\nCode:\n```py\ny = x % 9973\nprint(y)\n```<end_code>",
    "Thought: answer.\nCode:\n```py\nfinal_answer(y)\n```<end_code>",
]
ANSWER = str(sum(i * i for i in range(20000)) % 9973)


def write_inputs(root: Path, tasks: int, base_url: str, concurrency: int, actors: int, output: str) -> Path:
    task_file = root / "tasks.jsonl"
    if not task_file.exists() or sum(1 for _ in task_file.open()) != tasks:
        task_file.write_text("".join(
            json.dumps({"id": f"t{i}", "question": f"Sum of squares below 20000 mod 9973, variant {i}?", "answer": ANSWER}) + "\n"
            for i in range(tasks)))
    recipe = {
        "name": "scale-bench",
        "tasks": {"source": str(task_file), "name": "bench", "domain": "math"},
        "teacher": {"backend": "openai", "base_url": base_url, "model": "scripted", "api_key_env": None},
        "sampling": {"temperature": 0.0, "max_tokens": 64},
        "agent": {"max_steps": 4},
        "tools": {"retriever": None, "sandbox": {"timeout_s": 10}},
        "concurrency": concurrency,
        "flush_every": 8,
        "output": str(root / output),
        "executor": {"kind": "ray", "actors": actors, "unit_size": 4, "units_in_flight": 2},
    }
    path = root / f"{output}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def run(recipe: Path, executor: str) -> dict:
    from trajkit.build import build

    start = time.perf_counter()
    dataset, stats = build(recipe, executor=executor, show_progress=False)
    wall = time.perf_counter() - start
    answered = sum(t.outcome.correct is True for t in dataset.trajectories())
    steady = stats.steady_rate() if hasattr(stats, "steady_rate") else None
    return {"n": len(dataset), "correct": answered, "wall": wall, "rate": len(dataset) / wall, "steady": steady}


def bench_scale(args, root: Path) -> None:
    import ray
    from ray.cluster_utils import Cluster

    from trajkit.teachers.scripted_server import ScriptedServer

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(2):
        cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    results: dict[str, dict] = {}
    try:
        with ScriptedServer(STEPS, latency_s=args.latency_ms / 1000) as server:
            tasks = args.tasks_per_actor
            results["local"] = run(write_inputs(root, tasks, server.base_url, args.concurrency, 1, "local"), "local")
            for actors in (1, 2, 4):
                tasks = args.tasks_per_actor * actors
                recipe = write_inputs(root, tasks, server.base_url, args.concurrency, actors, f"ray{actors}")
                results[f"ray x{actors}"] = run(recipe, "ray")
    finally:
        ray.shutdown()
        cluster.shutdown()

    print(f"\nteacher latency {args.latency_ms} ms/request, 3 steps/trajectory, {args.concurrency} rollouts in flight per actor")
    print(f"{'path':<10}{'trajs':>7}{'correct':>9}{'wall s':>9}{'traj/s':>9}{'steady traj/s':>15}")
    for name, r in results.items():
        steady = f"{r['steady']:.2f}" if r["steady"] else "-"
        print(f"{name:<10}{r['n']:>7}{r['correct']:>9}{r['wall']:>9.1f}{r['rate']:>9.2f}{steady:>15}")
    one = results["ray x1"]
    for actors, goal in ((2, 1.8), (4, 3.0)):
        r = results[f"ray x{actors}"]
        print(f"{actors} actors vs 1: {r['rate'] / one['rate']:.2f}x end-to-end, "
              f"{(r['steady'] or 0) / (one['steady'] or 1):.2f}x steady (goal >= {goal}x)")
    local = results["local"]
    print(f"Ray (1 actor) vs local: overhead {(1 - one['rate'] / local['rate']) * 100:.1f}% end-to-end, "
          f"{(1 - (one['steady'] or 0) / local['rate']) * 100:.1f}% steady vs local end-to-end (goal <= 10%)")


def bench_store(root: Path, commits: int, rows: int) -> None:
    """What the driver's commit path sustains: one shard per unit, manifest rewritten each time."""
    import pyarrow as pa

    from trajkit.store import Dataset

    source = next(p for p in root.glob("ray*") if (p / "trajkit.json").exists())
    template = Dataset.open(source).to_arrow().slice(0, 1)
    target = Dataset.create(root / "store-bench")
    column = template.schema.get_field_index("trajectory_id")
    marks = {}
    start = time.perf_counter()
    window = start
    for i in range(commits):
        table = pa.concat_tables([template] * rows)
        table = table.set_column(column, "trajectory_id", pa.array([f"c{i}-{j}" for j in range(rows)]))
        target.append_new(table)
        if (i + 1) in (100, commits // 2, commits):
            now = time.perf_counter()
            marks[i + 1] = (now - window) / (i + 1 - (max([k for k in marks], default=0)))
            window = now
    manifest_kb = (target.path / "trajkit.json").stat().st_size / 1024
    print(f"\nstore: {commits} commits of {rows} trajectories ({commits * rows} rows), "
          f"{time.perf_counter() - start:.1f}s; manifest {manifest_kb:.0f} KiB")
    for count, seconds in marks.items():
        print(f"  up to {count:>5} shards: {seconds * 1000:.1f} ms/commit ({1 / seconds:.1f} commits/s, {rows / seconds:.0f} traj/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--tasks-per-actor", type=int, default=48)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--store", action="store_true", help="also measure the store's commit rate")
    parser.add_argument("--store-commits", type=int, default=2000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="trajkit-scale-"))
    try:
        bench_scale(args, root)
        if args.store:
            bench_store(root, args.store_commits, rows=32)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
