"""Benchmark: evaluating a student as an agent on transformers (`local`) vs llama.cpp (F16 GGUF).

    flock /tmp/trajkit-cpu.lock python bench/student_eval.py [--model DIR|embedded] [--tasks 24]

The same student (default: the embedded SmolLM2-135M; pass a trained `model/` folder to measure a
real student), the same synthetic tasks and the same greedy agent loop (4 steps, 160 tokens, the
student prompt), once through the `local` backend (transformers, bf16, batches of 16) and once
through `trajkit models gguf` + the `llamacpp` backend (16 slots). Prints tasks/s and generated
tokens/s of each, the ratio, and how many tasks got the same final answer both ways.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TK = str(ROOT / ".venv" / "bin" / "trajkit")


def recipe(tasks_dir: Path, n: int, model: dict, output: Path) -> Path:
    body = {
        "name": "bench-student-eval",
        "model": model,
        "benchmarks": [{"name": "synthetic", "tasks": {"source": str(tasks_dir / "tasks.parquet"), "split": "test", "limit": n}}],
        "sampling": {"temperature": 0.0, "max_tokens": 160, "seed": 0},
        "prompt": "student",
        "agent": {"max_steps": 4, "candidates": 1},
        "tools": {"sandbox": {"timeout_s": 10}, "retriever": {"corpus": str(tasks_dir / "corpus.parquet"), "mode": "bm25", "k": 2}},
        "concurrency": 16,
        "output": str(output),
    }
    path = output.parent / f"{output.name}.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def run(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([TK, *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def outcomes(dataset: Path) -> dict[str, tuple[str | None, int]]:
    from trajkit.store import Dataset

    return {
        t.task.task_id: (t.outcome.final_answer, t.usage.completion_tokens)
        for t in Dataset.open(dataset).trajectories()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded", help="a trained model/ folder, or 'embedded'")
    parser.add_argument("--tasks", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run([TK, "tasks", "synth", "--n", "200", "--seed", "3", "--test-fraction", "0.5", str(work / "tasks")],
                       check=True, stdout=subprocess.DEVNULL)
        gguf = work / "student.gguf"
        convert_s = run(["models", "gguf", args.model, "-o", str(gguf)])
        local = recipe(work / "tasks", args.tasks, {"backend": "local", "max_batch": 16, "dtype": "bfloat16"}, work / "local")
        lcpp = recipe(work / "tasks", args.tasks, {"backend": "llamacpp", "parallel": 16, "context": 65536}, work / "lcpp")
        local_s = run(["eval", str(local), "--model", args.model])
        lcpp_s = run(["eval", str(lcpp), "--model", str(gguf)])
        a, b = outcomes(work / "local"), outcomes(work / "lcpp")
    same = sum(a[k][0] == b.get(k, (None,))[0] for k in a)
    tokens_a, tokens_b = sum(v[1] for v in a.values()), sum(v[1] for v in b.values())
    print(f"student: {args.model}; {len(a)} tasks; GGUF written in {convert_s:.1f} s")
    print(f"local (transformers bf16): {local_s:7.1f} s  {len(a) / local_s:.3f} tasks/s  {tokens_a / local_s:6.1f} tokens/s")
    print(f"llamacpp (F16 GGUF):       {lcpp_s:7.1f} s  {len(b) / lcpp_s:.3f} tasks/s  {tokens_b / lcpp_s:6.1f} tokens/s")
    print(f"ratio llamacpp/local (tasks/s): {local_s / lcpp_s:.2f}x; same final answer on {same}/{len(a)} tasks")


if __name__ == "__main__":
    sys.exit(main())
