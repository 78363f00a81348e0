"""Benchmark: review push/pull through the local Argilla server, and near-duplicate detection.

    python bench/curate.py [--records 5000] [--questions 100000]

Run under the CPU lock (flock /tmp/trajkit-cpu.lock ...). Every ratio is against a baseline
measured in this same run:
- push: trajkit's batched bulk upsert vs one record per request (on a sample, the rate is
  what matters) and vs the SDK's `dataset.records.log` (which reads the whole dataset back);
  pushes are timed without question embeddings, whose cost is reported separately; both
  sides render the same records (trajkit also reads them from the dataset's Parquet);
- pull: `trajkit review pull` (REST pages of 1,000 with responses, then a new dataset
  version) vs iterating the SDK's `dataset.records(with_responses=True)`;
- near-duplicates: trajkit's greedy clustering over an IVF index vs exact brute force
  (faiss IndexFlatIP range search) on the same precomputed embeddings; the recall of
  injected near-duplicate pairs is printed for both.

The 100,000 question embeddings are synthetic but shaped like real ones: mixtures of real
all-MiniLM-L6-v2 embeddings of the seed questions (cached in bench/_data), plus 3% injected
near-copies (cosine ~0.98) of other questions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

THRESHOLD = 0.95
os.environ.setdefault("TQDM_DISABLE", "1")  # the SDK's progress bars would interleave with the table


def line(name: str, value: str, ratio: str = "") -> None:
    print(f"  {name:<58} {value:>16}  {ratio}")


def make_trajectories(n: int):
    from tests.factories import make_trajectories as factory

    trajectories = factory(n, seed=1)
    for i, traj in enumerate(trajectories):  # distinct, realistic questions
        traj.task.question = f"Which river flows through the city founded by expedition {i} in the year {1500 + i % 400}?"
    return trajectories


# ------------------------------------------------------------------------ push / pull


def bench_review(records: int, scratch: Path) -> None:
    import argilla as rg

    from trajkit.curate.client import Target
    from trajkit.curate.pull import pull
    from trajkit.curate.push import push
    from trajkit.curate.records import to_record
    from trajkit.curate.server import LocalArgilla
    from trajkit.store import Dataset

    trajectories = make_trajectories(records)
    source = Dataset.create(scratch / "review-src", name="bench-review")
    source.append(trajectories)
    print(f"\nreview round trip: {records:,} trajectories, local Argilla (SQLite + trajkit search engine)")
    with LocalArgilla(home=scratch / "argilla") as server:
        target = Target(server.info.url, server.info.api_key)

        sample = min(200, records)
        sample_ds = Dataset.create(scratch / "review-sample", name="bench-one-by-one")
        sample_ds.append(trajectories[:sample])
        started = time.perf_counter()
        push(sample_ds.path, target, batch_size=1, vectors=False)
        one_rate = sample / (time.perf_counter() - started)
        line(f"baseline: 1 record per request ({sample} records)", f"{one_rate:,.0f} rec/s")

        started = time.perf_counter()
        push(source.path, target, batch_size=250, vectors=False)
        push_rate = records / (time.perf_counter() - started)
        line("trajkit review push, batches of 250 (create)", f"{push_rate:,.0f} rec/s", f"x{push_rate / one_rate:.1f}")
        started = time.perf_counter()
        push(source.path, target, batch_size=250, vectors=False)
        update_rate = records / (time.perf_counter() - started)
        line("trajkit review push again (update in place)", f"{update_rate:,.0f} rec/s", f"x{update_rate / one_rate:.1f}")

        client = rg.Argilla(api_url=target.api_url, api_key=target.api_key)
        from trajkit.curate.push import open_or_create, resolve_workspace

        workspace = resolve_workspace(client, None, create=True)
        sdk_ds, _ = open_or_create(client, "bench-sdk-log", workspace, where="bench")
        started = time.perf_counter()
        sdk_ds.records.log([to_record(rg, t, None, sdk_ds) for t in trajectories], batch_size=250)
        sdk_rate = records / (time.perf_counter() - started)
        line("baseline: SDK dataset.records.log (reads all back)", f"{sdk_rate:,.0f} rec/s",
             f"trajkit x{push_rate / sdk_rate:.1f}")

        # every record gets a submitted response, so the pull carries real data
        remote = client.datasets(name="bench-review")
        me = client.me.id
        with_responses = []
        for traj in trajectories:
            record = to_record(rg, traj, None, remote)
            record.responses.add(rg.Response("verdict", "accept" if traj.outcome.correct else "reject", user_id=me, status="submitted"))
            with_responses.append(record.api_model())
        for start in range(0, records, 250):
            client.api.records.bulk_upsert(dataset_id=remote.id, records=with_responses[start : start + 250])

        started = time.perf_counter()
        sdk_pulled = sum(1 for _ in remote.records(with_responses=True, with_suggestions=False, batch_size=1000))
        sdk_pull_rate = sdk_pulled / (time.perf_counter() - started)
        line("baseline: iterate SDK dataset.records(with_responses)", f"{sdk_pull_rate:,.0f} rec/s")
        started = time.perf_counter()
        result = pull(source.path, scratch / "review-pulled", target)
        pull_rate = records / (time.perf_counter() - started)
        assert result.status_counts.get("submitted") == records, result.status_counts
        line("trajkit review pull (+ writes the new version)", f"{pull_rate:,.0f} rec/s", f"x{pull_rate / sdk_pull_rate:.1f}")

    from trajkit.models.sentence_encoder import embed

    questions = [t.task.question for t in trajectories[:500]]
    embed(questions[:8])  # load the model
    started = time.perf_counter()
    embed(questions)
    embed_rate = len(questions) / (time.perf_counter() - started)
    line("question embeddings for the vector (all-MiniLM-L6-v2)", f"{embed_rate:,.0f} q/s",
         f"push with vectors ~{1 / (1 / push_rate + 1 / embed_rate):,.0f} rec/s")


# --------------------------------------------------------------------- near-duplicates


def seed_embeddings():
    import numpy as np

    cache = BENCH / "_data" / "curate-seed-question-embeddings.npy"
    if cache.is_file():
        return np.load(cache)
    from trajkit.models.sentence_encoder import embed
    from trajkit.tasks.sources import load_tasks

    questions = [t.question for t in load_tasks("seed:qa/*").tasks]
    vectors = embed(questions)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def synthetic_vectors(n: int, seed: int = 0):
    import numpy as np

    base = seed_embeddings()
    rng = np.random.default_rng(seed)
    first, second = rng.integers(0, len(base), n), rng.integers(0, len(base), n)
    vectors = base[first] + rng.uniform(0.3, 1.0, (n, 1)) * base[second]
    vectors += rng.normal(0, 0.03, vectors.shape)
    copies = rng.choice(n, n * 3 // 100, replace=False)
    originals = rng.integers(0, n, len(copies))
    vectors[copies] = vectors[originals] + rng.normal(0, 0.006, (len(copies), vectors.shape[1]))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), list(zip(copies.tolist(), originals.tolist(), strict=True))


def bench_near_duplicates(n: int) -> None:
    import faiss
    import numpy as np

    from trajkit.curate.dedup import near_clusters
    from trajkit.curate.similarity import pairs_above

    vectors, injected = synthetic_vectors(n)
    injected = [(a, b) for a, b in injected if a != b and float(vectors[a] @ vectors[b]) >= THRESHOLD]
    print(f"\nnear-duplicate questions: {n:,} precomputed embeddings (384-d), cosine >= {THRESHOLD}, "
          f"{faiss.omp_get_max_threads()} threads")

    def recall(neighbours) -> float:
        found = sum(1 for a, b in injected if b in set(neighbours[a][0].tolist()))
        return found / len(injected)

    started = time.perf_counter()
    exact_pairs = pairs_above(vectors, THRESHOLD, exact=True)
    exact_s = time.perf_counter() - started
    line("baseline: exact brute force (IndexFlatIP range search)", f"{exact_s:,.1f} s",
         f"recall {recall(exact_pairs):.3f}, pairs {sum(len(j) for j, _ in exact_pairs) // 2:,}")

    started = time.perf_counter()
    approx_pairs = pairs_above(vectors, THRESHOLD)
    approx_s = time.perf_counter() - started
    line("trajkit neighbour search (IVF index)", f"{approx_s:,.1f} s",
         f"x{exact_s / approx_s:.1f}, recall {recall(approx_pairs):.3f}")

    started = time.perf_counter()
    clusters = near_clusters(vectors, list(range(n)), THRESHOLD)
    total_s = time.perf_counter() - started
    removed = sum(len(m) for _, m in clusters)
    line("trajkit near-duplicate clustering, end to end", f"{total_s:,.1f} s",
         f"x{exact_s / total_s:.1f}; {len(clusters):,} clusters, {removed:,} removed; goal < 60 s")
    del np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--skip-review", action="store_true")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="trajkit-bench-curate-"))
    try:
        if not args.skip_review:
            bench_review(args.records, scratch)
        bench_near_duplicates(args.questions)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
