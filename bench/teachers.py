"""Benchmark: teacher backends against baselines measured in this same run.

    flock /tmp/trajkit-cpu.lock python bench/teachers.py [--model qwen2.5-coder-1.5b] [--slots 4]

(2) server saturation: output tokens/s that trajkit's `llamacpp` backend gets from the llama.cpp
    server it started, divided by what a plain concurrent load generator (httpx + asyncio, no
    retries or bookkeeping) gets from the same server on the same agent-shaped requests (the
    teacher's system prompt, a synthetic task, the agent's stop strings). Goal: >= 0.9. Also
    the backend with one slot against `--slots` slots.
(3) local batching: the local (transformers) backend's output tokens/s with 8 concurrent
    rollouts divided by its tokens/s with 1 rollout. Goal: >= 3x.

Greedy decoding with fixed prompts makes both sides of each ratio generate the same tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trajkit.schema import Sampling  # noqa: E402
from trajkit.teachers import GenerationRequest, make_backend  # noqa: E402

PROMPTS = [
    "Write a short story about a dragon who learns to bake bread.",
    "Explain how a bicycle works to a ten-year-old.",
    "Describe the water cycle in detail.",
    "List the steps to plant a tree and care for it.",
    "Write a poem about the ocean at night.",
    "Explain why the sky is blue.",
    "Describe a busy market in a small town.",
    "Tell me about the history of paper.",
    "Write a letter to a friend about a trip to the mountains.",
    "Explain how to make a cup of tea, step by step.",
    "Describe the life of a honey bee.",
    "Write a dialogue between a cat and a dog about breakfast.",
    "Explain what a computer program is.",
    "Describe a thunderstorm from the point of view of a tree.",
    "Write instructions for building a sandcastle.",
    "Tell a story about a robot that wants to paint.",
]


def chat(prompt: str) -> list[dict]:
    return [{"role": "user", "content": prompt}]


# ------------------------------------------------------------- (2) server saturation


def agent_requests(count: int) -> list[list[dict]]:
    """Agent-shaped chats: the teacher's system prompt and a synthetic task's first turn."""
    from trajkit.agent.examples import TEACHER_EXAMPLES
    from trajkit.agent.format import task_text
    from trajkit.agent.prompts import load_prompt
    from trajkit.tasks.synth import generate

    system = load_prompt("teacher", k=2, allowed_imports="math", examples=TEACHER_EXAMPLES).text
    tasks = generate(n=count, seed=7, test_fraction=0.0).tasks
    return [[{"role": "system", "content": system}, {"role": "user", "content": task_text(t.question)}]
            for t in tasks[:count]]


async def plain_load(base_url: str, model: str, chats, concurrency: int, max_tokens: int):
    """The baseline: bare httpx POSTs, `concurrency` in flight, same body as trajkit sends."""
    import httpx

    from trajkit.agent.format import STOP_SEQUENCES

    semaphore = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=600, limits=limits) as client:

        async def one(messages) -> int:
            async with semaphore:
                reply = await client.post("/chat/completions", json={
                    "model": model, "messages": messages, "max_tokens": max_tokens,
                    "temperature": 0.0, "top_p": 1.0, "stop": STOP_SEQUENCES, "cache_prompt": True,
                })
                reply.raise_for_status()
                return reply.json()["usage"]["completion_tokens"]

        start = time.perf_counter()
        tokens = sum(await asyncio.gather(*(one(m) for m in chats)))
        return tokens, time.perf_counter() - start


async def trajkit_load(backend, chats, max_tokens: int):
    from trajkit.agent.format import STOP_SEQUENCES

    sampling = Sampling(temperature=0.0, max_tokens=max_tokens, stop=STOP_SEQUENCES)
    start = time.perf_counter()
    replies = await asyncio.gather(*(backend.generate(GenerationRequest(m, sampling)) for m in chats))
    return sum(r.completion_tokens for r in replies), time.perf_counter() - start


def bench_server_saturation(model: str, slots: int, requests: int, max_tokens: int, rounds: int) -> float:
    """trajkit's llamacpp backend against a plain load generator on the server it started."""
    chats = agent_requests(requests)

    def run_backend(parallel: int, measure_plain: bool):
        backend = make_backend({"backend": "llamacpp", "model": model, "parallel": parallel,
                                "context": 4096 * parallel})

        async def measure():
            plain, ours = [], []
            try:
                await trajkit_load(backend, chats[:parallel], 4)  # warm up: the shared prompt is cached
                for _ in range(rounds):  # interleaved, so drift in machine load hits both sides
                    if measure_plain:
                        tokens, seconds = await plain_load(backend.base_url, backend.model, chats,
                                                           parallel, max_tokens)
                        plain.append(tokens / seconds)
                    tokens, seconds = await trajkit_load(backend, chats, max_tokens)
                    ours.append(tokens / seconds)
            finally:
                await backend.aclose()
            return plain, ours

        return asyncio.run(measure())

    plain_rates, ours_rates = run_backend(slots, True)
    _, single_rates = run_backend(1, False) if slots > 1 else ([], ours_rates)
    plain, ours, single = (statistics.median(r) for r in (plain_rates, ours_rates, single_rates))
    print(f"(2) llamacpp backend ({model}; {requests} agent-shaped requests x <= {max_tokens} "
          f"tokens, greedy, median of {rounds} rounds)")
    print(f"    plain httpx load generator, {slots} slots: {plain:7.1f} output tokens/s  (baseline)")
    print(f"    trajkit llamacpp backend,   {slots} slots: {ours:7.1f} output tokens/s")
    print(f"    ratio trajkit / plain:                 {ours / plain:7.3f}  (goal >= 0.9)")
    print(f"    trajkit llamacpp backend,   1 slot:    {single:7.1f} output tokens/s")
    print(f"    ratio {slots} slots / 1 slot:               {ours / single:7.2f}x")
    return ours / plain


# ------------------------------------------------------------- (3) local batching


async def rollouts(backend, n_rollouts: int, turns: int, max_tokens: int):
    """`n_rollouts` concurrent agents, each making `turns` sequential requests."""
    sampling = Sampling(temperature=0.0, max_tokens=max_tokens)

    async def rollout(index: int) -> int:
        tokens = 0
        for turn in range(turns):
            prompt = PROMPTS[(index * turns + turn) % len(PROMPTS)]
            reply = await backend.generate(GenerationRequest(chat(prompt), sampling))
            tokens += reply.completion_tokens
        return tokens

    start = time.perf_counter()
    tokens = sum(await asyncio.gather(*(rollout(i) for i in range(n_rollouts))))
    return tokens, time.perf_counter() - start


def bench_local_batching(max_tokens: int, turns: int) -> float:
    backend = make_backend({"backend": "local"})
    backend.load()

    async def measure():
        await rollouts(backend, 1, 1, 4)  # warm up
        single = await rollouts(backend, 1, turns, max_tokens)
        batched = await rollouts(backend, 8, turns, max_tokens)
        await backend.aclose()
        return single, batched

    (t1, s1), (t8, s8) = asyncio.run(measure())
    rate1, rate8 = t1 / s1, t8 / s8
    sizes = backend.batch_sizes[1 + turns:]
    print(f"(3) local backend batching ({backend.model}, {turns} turns per rollout, "
          f"{max_tokens} tokens per turn)")
    print(f"    1 rollout:   {rate1:6.1f} output tokens/s  (baseline)")
    print(f"    8 rollouts:  {rate8:6.1f} output tokens/s  (mean batch {statistics.mean(sizes):.1f} rows)")
    print(f"    ratio 8 / 1: {rate8 / rate1:6.2f}x  (goal >= 3x)")
    return rate8 / rate1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", help="registry name or .gguf")
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--only", choices=["server", "local"])
    args = parser.parse_args()
    if args.only != "local":
        bench_server_saturation(args.model, args.slots, args.requests, args.max_tokens, args.rounds)
    if args.only != "server":
        bench_local_batching(args.max_tokens, args.turns)


if __name__ == "__main__":
    main()
