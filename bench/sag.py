"""Benchmark of self-consistent action generation (SAG), with baselines from this same run.

    flock /tmp/trajkit-cpu.lock .venv/bin/python bench/sag.py [--n 8] [--tasks 4] [--max-tokens 48]

(1) candidate generation with the local (embedded) backend: n candidates for a student step
    as ONE request with `n` samples (what the eval harness sends; the backend batches the rows
    into one forward pass per token) against n sequential single-sample requests with the same
    per-row seeds (what a loop without batching does). Goal: >= 3x candidates/s.
(2) fork cost per candidate: forking a trajectory's interpreter (with numpy and sympy loaded
    and some state) and closing the copy, and a full round of n candidates forked, run and
    closed, as `trajkit.agent.loop` does.
(3) one whole SAG step (generate n, parse, run each on its fork, vote) against one greedy step
    (n=1), both through the agent loop's own step function.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trajkit.agent.format import conversation  # noqa: E402
from trajkit.agent.prompts import load_prompt  # noqa: E402
from trajkit.schema import Sampling  # noqa: E402
from trajkit.teachers import GenerationRequest, make_backend  # noqa: E402

QUESTIONS = [
    "What is 48213 * 9177?",
    "How many days are there between 1912-03-04 and 2031-11-19?",
    "What is the 300th prime number?",
    "How many ways can 5 people be chosen from 14?",
    "In which year was the city of Velmora founded?",
    "What is the sum of the digits of 2**100?",
]


def candidate_sampling(n: int, max_tokens: int, seed: int) -> Sampling:
    # the paper's SAG settings; the fixed seed makes both sides generate the same rows
    return Sampling(temperature=0.4, top_p=0.8, max_tokens=max_tokens, n=n, seed=seed)


async def batched(backend, messages_list, n: int, max_tokens: int) -> tuple[int, int, float]:
    started = time.perf_counter()
    candidates = tokens = 0
    for seed, messages in enumerate(messages_list):
        reply = await backend.generate(GenerationRequest(messages, candidate_sampling(n, max_tokens, seed * 1000)))
        candidates += len(reply.choices)
        tokens += reply.completion_tokens
    return candidates, tokens, time.perf_counter() - started


async def sequential(backend, messages_list, n: int, max_tokens: int) -> tuple[int, int, float]:
    started = time.perf_counter()
    candidates = tokens = 0
    for seed, messages in enumerate(messages_list):
        for sample in range(n):
            sampling = candidate_sampling(1, max_tokens, seed * 1000 + sample)
            reply = await backend.generate(GenerationRequest(messages, sampling))
            candidates += len(reply.choices)
            tokens += reply.completion_tokens
    return candidates, tokens, time.perf_counter() - started


def bench_generation(backend, n: int, tasks: int, max_tokens: int) -> float:
    system = load_prompt("student").text
    messages_list = [conversation(system, q, []) for q in (QUESTIONS * tasks)[:tasks]]

    async def measure():
        await backend.generate(GenerationRequest(messages_list[0], candidate_sampling(2, 4, 0)))  # warm up
        one_request = await batched(backend, messages_list, n, max_tokens)
        one_at_a_time = await sequential(backend, messages_list, n, max_tokens)
        return one_request, one_at_a_time

    (c_b, t_b, s_b), (c_s, t_s, s_s) = asyncio.run(measure())
    rate_b, rate_s = c_b / s_b, c_s / s_s
    print(f"(1) SAG candidate generation ({backend.model}, {tasks} student steps x n={n}, "
          f"<= {max_tokens} tokens each)")
    print(f"    n sequential requests:    {rate_s:6.2f} candidates/s  {t_s / s_s:6.1f} tokens/s  (baseline)")
    print(f"    one request with n={n}:    {rate_b:6.2f} candidates/s  {t_b / s_b:6.1f} tokens/s")
    print(f"    ratio batched / sequential: {rate_b / rate_s:5.2f}x  (goal >= 3x)")
    return rate_b / rate_s


def bench_forks(n: int) -> None:
    from trajkit.agent.loop import _run_candidates
    from trajkit.agent.sag import choose
    from trajkit.tools.sandbox import SandboxPool

    pool = SandboxPool()
    interp = pool.new_interpreter()
    interp.run("import numpy as np, sympy as sp\nstate = list(range(10000))\nm = np.ones((100, 100))")
    per_fork = []
    for _ in range(30):
        started = time.perf_counter()
        interp.fork().close()
        per_fork.append((time.perf_counter() - started) * 1000)
    texts = [
        f"Thought: compute.\nCode:\n```py\nx = sum(state) + {i % 3}\nfinal_answer(x)\n```<end_code>"
        for i in range(n)
    ]

    def sag_round():
        runs = asyncio.run(_run_candidates(texts, interp))
        winner, _ = choose(runs)
        for run in runs:  # keep the original: close every fork, winner included
            if run.interpreter is not None:
                run.interpreter.close()
        return winner

    sag_round()
    rounds = []
    for _ in range(10):
        started = time.perf_counter()
        sag_round()
        rounds.append((time.perf_counter() - started) * 1000)
    print(f"(2) fork cost (interpreter with numpy, sympy and state loaded, {pool.launcher})")
    print(f"    fork + close one candidate:          median {statistics.median(per_fork):6.2f} ms")
    print(f"    n={n} candidates fork + run + vote:    median {statistics.median(rounds):6.1f} ms "
          f"({statistics.median(rounds) / n:.1f} ms per candidate)")
    interp.close()
    pool.close()


def bench_step(backend, n: int, max_tokens: int) -> None:
    from trajkit.agent.config import AgentConfig, AgentSettings
    from trajkit.agent.loop import Episode, _step
    from trajkit.schema import Task
    from trajkit.tools.sandbox import SandboxPool

    pool = SandboxPool()
    system = load_prompt("student").text
    task = Task(task_id="bench:0", source="bench", split="test", domain="math", question=QUESTIONS[0], gold_answer="0")

    def one_step(candidates: int) -> float:
        settings = AgentSettings(  # candidates sample at the paper's temperature 0.4, top_p 0.8 (AgentConfig)
            agent=AgentConfig(candidates=candidates, max_steps=5),
            system_prompt=system,
            sampling=Sampling(temperature=0.0, max_tokens=max_tokens, seed=0),
        )
        interp = pool.new_interpreter()
        started = time.perf_counter()
        _, next_interp, _ = asyncio.run(_step(Episode(task, backend, settings), interp, None))
        elapsed = time.perf_counter() - started
        next_interp.close()
        return elapsed

    greedy = statistics.median(one_step(1) for _ in range(3))
    sag = statistics.median(one_step(n) for _ in range(3))
    print(f"(3) one agent step through the loop (generate, parse, run, vote; <= {max_tokens} tokens)")
    print(f"    greedy (n=1):  {greedy * 1000:7.0f} ms  (baseline)")
    print(f"    SAG (n={n}):    {sag * 1000:7.0f} ms  = {sag / greedy:4.2f}x the time for {n}x the candidates")
    pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=8, help="candidates per step (the paper: 8)")
    parser.add_argument("--tasks", type=int, default=4, help="student steps to generate for")
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()
    backend = make_backend({"backend": "local"})
    backend.load()
    bench_generation(backend, args.n, args.tasks, args.max_tokens)
    bench_forks(args.n)
    bench_step(backend, args.n, args.max_tokens)


if __name__ == "__main__":
    main()
