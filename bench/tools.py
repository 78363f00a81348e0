"""Benchmark of the agent tools: sandbox step latency, forks, retrieval throughput, index build.

Run under the CPU lock:  flock /tmp/trajkit-cpu.lock .venv/bin/python bench/tools.py
Baselines are measured in the same run:
  - sandbox steps against a fresh `python -c` subprocess per step (what running each step
    in a new interpreter costs: start-up, plus importing numpy/sympy when the step needs them);
  - dense and hybrid retrieval against BM25.
The first run builds the dense part of the built-in index (about 2 minutes) and caches it.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIMPLE = "print(1+1)"
NUMERIC = (
    "import numpy as np, sympy as sp\n"
    "a = np.linalg.solve(np.array([[3.0, 1.0], [1.0, 2.0]]), np.array([9.0, 8.0]))\n"
    "x = sp.symbols('x')\n"
    "print(a.round(3).tolist(), sp.factorint(360), sp.solve(x**2 - 5*x + 6, x))"
)


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values):7.2f} ms  p90 {sorted(values)[int(0.9 * (len(values) - 1))]:7.2f} ms"


def timed(function, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _in_process(code: str) -> list[float]:
    import contextlib
    import io

    namespace: dict = {}
    samples = []
    for _ in range(30):
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, "<bench>", "exec"), namespace)
        samples.append((time.perf_counter() - started) * 1000)
    return samples[5:]


def _rate(function, count: int) -> float:
    started = time.perf_counter()
    function()
    return count / (time.perf_counter() - started)


def bench_sandbox() -> dict:
    from trajkit.tools.sandbox import SandboxPool

    print("== sandbox")
    started = time.perf_counter()
    pool = SandboxPool()
    print(
        f"pool start (template: numpy+sympy preloaded, {pool.launcher}): {(time.perf_counter() - started) * 1000:.0f} ms"
    )
    creation = timed(lambda: pool.new_interpreter().close(), 20)
    print(f"new interpreter                      {ms(creation)}")
    interp = pool.new_interpreter()
    interp.run("import numpy as np, sympy as sp")
    results = {}
    for name, code in (("print(1+1)", SIMPLE), ("numpy+sympy", NUMERIC)):
        check = interp.run(code)
        assert check.ok, check.error

        def paced(code=code):  # an agent loop waits for the model between steps
            time.sleep(0.02)
            return interp.run(code)

        warm = [r.duration_ms for r in (paced() for _ in range(60))]
        back_to_back = timed(lambda code=code: interp.run(code), 60)
        fresh = timed(
            lambda c=code: subprocess.run(
                [sys.executable, "-c", c], check=True, capture_output=True
            ),
            12,
        )
        inprocess = _in_process(code)
        ratio = statistics.median(fresh) / statistics.median(warm)
        print(f"{name:12s} same code in-process   {ms(inprocess)}  (no sandbox, reference)")
        print(f"{name:12s} warm step (paced)      {ms(warm)}")
        print(f"{name:12s} warm, back-to-back     {ms(back_to_back)}")
        print(f"{name:12s} fresh `python -c`      {ms(fresh)}")
        print(f"{name:12s} speed-up vs fresh      {ratio:7.1f}x  (goal >= 5x, median < 5 ms)")
        results[name] = {
            "in_process_median_ms": statistics.median(inprocess),
            "warm_median_ms": statistics.median(warm),
            "back_to_back_median_ms": statistics.median(back_to_back),
            "fresh_median_ms": statistics.median(fresh),
            "speedup": ratio,
        }

    interp.run("state = list(range(1000))")
    fork_once = []
    for _ in range(20):
        started = time.perf_counter()
        child = interp.fork()
        fork_once.append((time.perf_counter() - started) * 1000)
        child.close()
    print(f"fork one candidate                   {ms(fork_once)}")

    def sag_round(n=8):
        children = [interp.fork() for _ in range(n)]
        outputs = [c.run(f"state.append({i})\nlen(state)") for i, c in enumerate(children)]
        for child in children:
            child.close()
        assert all(o.value == "1001" for o in outputs)

    rounds = timed(sag_round, 5)
    print(
        f"8 candidates: fork + run + close     {ms(rounds)}  ({statistics.median(rounds) / 8:.2f} ms per candidate)"
    )
    results["fork_ms"] = statistics.median(fork_once)
    results["sag8_ms"] = statistics.median(rounds)
    pool.close()
    return results


def _queries(corpus, count: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    table = corpus.table
    rows = rng.sample(range(table.num_rows), count)
    ids = table.column("doc_id").to_pylist()
    descriptions = table.column("description").to_pylist()
    titles = table.column("title").to_pylist()
    pairs = []
    for row in rows:
        # the article's short description plus its title's last word: a realistic, inexact query
        query = f"{descriptions[row]} {titles[row].split()[-1]}".strip()
        pairs.append((query, ids[row]))
    return pairs


def bench_retrieval() -> dict:
    from trajkit.tools.corpus import builtin_corpus
    from trajkit.tools.retriever import Retriever, build_index

    print("== retrieval (built-in corpus: 10,033 Wikipedia summaries)")
    corpus = builtin_corpus()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        build_index(corpus, Path(tmp) / "bm25-only", dense=False)
        bm25_build = time.perf_counter() - started
    print(f"BM25 index build                     {bm25_build:7.2f} s")
    started = time.perf_counter()
    retriever = Retriever.builtin(dense=True)
    prepared = time.perf_counter() - started
    manifest = json.loads((retriever.index_dir / "index.json").read_text())
    dense_build = manifest["build_seconds"].get("dense")
    print(
        f"dense index build (cached manifest)  {dense_build:7.1f} s  ({len(retriever) / dense_build:.0f} passages/s)"
    )
    print(f"open the built index                 {prepared:7.2f} s")
    from trajkit.models.sentence_encoder import Encoder
    from trajkit.tools.retriever import _passage_texts

    sample = _passage_texts(corpus)[:640]
    encoder = Encoder.load(manifest["components"]["dense"]["model"], dtype="bfloat16")
    encoder.encode(sample[:64])
    rate = _rate(lambda: encoder.encode(sample, batch_size=64), len(sample))
    print(
        f"dense encoding now (640 passages)    {rate:7.0f} passages/s -> full build about "
        f"{len(retriever) / rate:.0f} s"
    )
    pairs = _queries(corpus, 2000)
    queries = [q for q, _ in pairs]
    results = {"bm25_build_s": bm25_build, "dense_build_s": dense_build, "encode_per_s": rate}
    # BM25 first: the embedding model (torch) is loaded by the first dense search
    for mode, count in (("bm25", 2000), ("dense", 300), ("hybrid", 300)):
        subset = queries[:count]
        retriever.search(subset[0], k=3, mode=mode)  # warm-up

        def one_at_a_time(mode=mode, subset=subset):
            for query in subset:
                retriever.search(query, k=3, mode=mode)

        def batches(mode=mode, subset=subset):
            for start in range(0, len(subset), 64):
                retriever.search_batch(subset[start : start + 64], k=3, mode=mode)

        single = statistics.median(_rate(one_at_a_time, count) for _ in range(3))
        batched = statistics.median(_rate(batches, count) for _ in range(3))
        hits = retriever.search_batch([q for q, _ in pairs[:300]], k=3, mode=mode)
        recall = (
            sum(
                doc in [h.doc_id for h in found]
                for (_, doc), found in zip(pairs[:300], hits, strict=True)
            )
            / 300
        )
        print(
            f"{mode:7s} queries/s: one at a time {single:8.0f}, batches of 64 {batched:8.0f}   recall@3 {recall:.2f}"
        )
        results[mode] = {"qps_single": single, "qps_batch": batched, "recall_at_3": recall}
    print(f"BM25 goal >= 1,000 queries/s: {results['bm25']['qps_single'] / 1000:.1f}x of the goal")
    print(
        f"dense/BM25 cost ratio (one at a time): {results['bm25']['qps_single'] / results['dense']['qps_single']:.0f}x slower; "
        f"hybrid {results['bm25']['qps_single'] / results['hybrid']['qps_single']:.0f}x slower"
    )
    return results


def main() -> None:
    summary = {"sandbox": bench_sandbox(), "retrieval": bench_retrieval()}
    out = Path(__file__).resolve().parent / "_data"
    out.mkdir(exist_ok=True)
    (out / "tools.json").write_text(json.dumps(summary, indent=1))
    print(f"numbers saved to {out / 'tools.json'}")


if __name__ == "__main__":
    main()
