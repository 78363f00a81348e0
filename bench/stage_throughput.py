"""Benchmark: how close an experiment stage runs to what the llama.cpp server can do.

    flock /tmp/trajkit-cpu.lock python bench/stage_throughput.py [--tasks 16] [--rounds 2]

One llama.cpp server with the experiment teacher's settings (Qwen2.5-Coder-1.5B, 8 slots,
24,576 tokens of context). On it, in this process, interleaved round by round:
  baseline  a plain load generator (httpx + asyncio, 8 in flight): the CoT stage's requests
            (its system prompt and questions, temperature 0.7, top-p 0.95, 256 tokens, seed 0
            as the build sends a task's first sample, logprobs as the build asks them), nothing else;
  stage     `trajkit build` of the same requests (recipes/experiment/teacher-cot.yaml's settings,
            one sample per task) against that server: the rollout engine, grading, Parquet
            writes and progress included.
Prints completion tokens/s of each and the ratio stage / baseline (1.0: the stage loses nothing
to the engine). Both sides sample with the same seeds; their token counts are printed so a
reader sees they did the same work.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODEL = "qwen2.5-coder-1.5b"
SAMPLING = {"temperature": 0.7, "top_p": 0.95, "max_tokens": 256}


def stage_tasks(folder: Path, count: int) -> Path:
    """The experiment's train questions (`scripts/experiment.sh`'s knobs), the first `count`."""
    from trajkit.tasks.files import write_tasks
    from trajkit.tasks.synth import generate
    from trajkit.tasks.synth_shapes import HELDOUT_TEMPLATES

    tasks = generate(n=300, seed=1, test_fraction=0.47, max_hops=3, knowledge_share=0.5, small_arithmetic_share=0.5,
                     heldout_templates=HELDOUT_TEMPLATES, unseen_fraction=0.43).tasks
    train = [task for task in tasks if task.split == "train"][:count]
    return write_tasks(train, folder / "tasks.parquet")


async def plain_load(base_url: str, model: str, chats: list[list[dict]], concurrency: int) -> tuple[int, float]:
    import httpx

    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=900) as client:

        async def one(messages: list[dict]) -> int:
            async with semaphore:
                reply = await client.post("/chat/completions", json={
                    "model": model, "messages": messages, "seed": 0, "logprobs": True, **SAMPLING})
                reply.raise_for_status()
                return reply.json()["usage"]["completion_tokens"]

        start = time.perf_counter()
        tokens = sum(await asyncio.gather(*(one(m) for m in chats)))
        return tokens, time.perf_counter() - start


def stage_build(folder: Path, tasks_file: Path, base_url: str, model: str, round_index: int) -> tuple[int, float]:
    import yaml

    from trajkit.build import build

    recipe = {
        "name": "bench-stage", "mode": "cot",
        "tasks": {"source": str(tasks_file)},
        "teacher": {"backend": "openai", "base_url": base_url, "model": model},
        "sampling": {**SAMPLING, "seed": 0},
        "samples_per_task": 1, "concurrency": 8, "flush_every": 8,
        "output": str(folder / f"stage-{round_index}"),
    }
    path = folder / f"stage-{round_index}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    start = time.perf_counter()
    dataset, _ = build(path, show_progress=False)
    seconds = time.perf_counter() - start
    return sum(traj.usage.completion_tokens for traj in dataset.trajectories()), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import pyarrow.parquet as pq

    from trajkit.agent.cot import COT_PROMPT, cot_messages
    from trajkit.agent.prompts import load_prompt
    from trajkit.teachers import make_backend

    folder = Path(tempfile.mkdtemp(prefix="trajkit-bench-stage-"))
    tasks_file = stage_tasks(folder, args.tasks)
    system = load_prompt(COT_PROMPT).text
    questions = pq.read_table(tasks_file, columns=["question"]).column("question").to_pylist()
    chats = [cot_messages(system, question) for question in questions]
    backend = make_backend({"backend": "llamacpp", "model": MODEL, "parallel": 8, "context": 24576})
    base_url, model = backend.base_url, backend.model
    plain_rates, stage_rates = [], []
    try:
        asyncio.run(plain_load(base_url, model, chats[:8], 8))  # warm up: the system prompt is cached
        for index in range(args.rounds):
            tokens, seconds = asyncio.run(plain_load(base_url, model, chats, 8))
            plain_rates.append(tokens / seconds)
            print(f"round {index}: baseline {tokens} tokens in {seconds:.1f} s", flush=True)
            tokens, seconds = stage_build(folder, tasks_file, base_url, model, index)
            stage_rates.append(tokens / seconds)
            print(f"round {index}: stage    {tokens} tokens in {seconds:.1f} s", flush=True)
    finally:
        asyncio.run(backend.aclose())
    plain, stage = statistics.median(plain_rates), statistics.median(stage_rates)
    print(f"CoT stage ({MODEL}, 8 slots, {args.tasks} requests x <= {SAMPLING['max_tokens']} tokens, "
          f"temperature {SAMPLING['temperature']}, median of {args.rounds} rounds)")
    print(f"    plain load generator: {plain:6.1f} completion tokens/s  (baseline)")
    print(f"    trajkit build:        {stage:6.1f} completion tokens/s")
    print(f"    ratio build / plain:  {stage / plain:6.3f}")


if __name__ == "__main__":
    main()
