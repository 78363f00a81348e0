"""Benchmark: teacher backends against baselines measured in this same run.

    flock /tmp/trajkit-cpu.lock python bench/teachers.py [--concurrency 4] [--max-tokens 32]

(2) server saturation: output tokens/s that trajkit's OpenAI-compatible backend gets from
    llama.cpp's server, divided by what a plain concurrent load generator (httpx + asyncio, no
    retries or bookkeeping) gets on the same requests. Goal: >= 0.9.
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


async def plain_load(base_url: str, model: str, prompts, concurrency: int, max_tokens: int):
    """The baseline: bare httpx POSTs, `concurrency` in flight."""
    import httpx

    semaphore = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=600, limits=limits) as client:

        async def one(prompt: str) -> int:
            async with semaphore:
                reply = await client.post("/chat/completions", json={
                    "model": model, "messages": chat(prompt), "max_tokens": max_tokens,
                    "temperature": 0.0, "top_p": 1.0,
                })
                reply.raise_for_status()
                return reply.json()["usage"]["completion_tokens"]

        start = time.perf_counter()
        tokens = sum(await asyncio.gather(*(one(p) for p in prompts)))
        return tokens, time.perf_counter() - start


async def trajkit_load(base_url: str, model: str, prompts, concurrency: int, max_tokens: int):
    backend = make_backend({"backend": "openai", "base_url": base_url, "model": model,
                            "max_concurrency": concurrency, "timeout_s": 600})
    sampling = Sampling(temperature=0.0, max_tokens=max_tokens)
    try:
        start = time.perf_counter()
        replies = await asyncio.gather(
            *(backend.generate(GenerationRequest(chat(p), sampling)) for p in prompts)
        )
        elapsed = time.perf_counter() - start
    finally:
        await backend.aclose()
    return sum(r.completion_tokens for r in replies), elapsed


def bench_server_saturation(concurrency: int, max_tokens: int, rounds: int) -> float | None:
    from trajkit.embedded import gguf_path
    from trajkit.teachers.llama_server import LlamaServer, llama_python

    if llama_python() is None:
        print("(2) server saturation: skipped, llama.cpp server not installed "
              "(run make setup-services)")
        return None
    with LlamaServer(gguf_path()) as server:
        url, model = server.base_url, server.alias
        asyncio.run(plain_load(url, model, PROMPTS[:2], 1, 4))  # warm up
        plain_rates, trajkit_rates = [], []
        for _ in range(rounds):  # interleaved, so drift in machine load hits both sides
            tokens, seconds = asyncio.run(plain_load(url, model, PROMPTS, concurrency, max_tokens))
            plain_rates.append(tokens / seconds)
            tokens, seconds = asyncio.run(trajkit_load(url, model, PROMPTS, concurrency, max_tokens))
            trajkit_rates.append(tokens / seconds)
    plain, ours = statistics.median(plain_rates), statistics.median(trajkit_rates)
    ratio = ours / plain
    print(f"(2) server saturation (llama.cpp server, {len(PROMPTS)} requests x {max_tokens} "
          f"tokens, concurrency {concurrency}, median of {rounds} rounds)")
    print(f"    plain httpx load generator: {plain:7.1f} output tokens/s  (baseline)")
    print(f"    trajkit openai backend:     {ours:7.1f} output tokens/s")
    print(f"    ratio trajkit / plain:      {ratio:7.3f}  (goal >= 0.9)")
    return ratio


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
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--only", choices=["server", "local"])
    args = parser.parse_args()
    if args.only != "local":
        bench_server_saturation(args.concurrency, args.max_tokens, args.rounds)
    if args.only != "server":
        bench_local_batching(args.max_tokens, args.turns)


if __name__ == "__main__":
    main()
