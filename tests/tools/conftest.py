"""Fixtures for the tools tests: real sandbox pools, a small corpus and its index."""

from __future__ import annotations

import os

import pytest

FAKE_SECRETS = {
    "OPENAI_API_KEY": "sk-trajkit-test-FAKE-0123456789",
    "HF_TOKEN": "hf_trajkitTestFAKEtoken0123456789",
}


@pytest.fixture(scope="session")
def secrets_in_parent():
    """Fake secrets in the parent's environment, set before any sandbox starts."""
    saved = {k: os.environ.get(k) for k in FAKE_SECRETS}
    os.environ.update(FAKE_SECRETS)
    yield FAKE_SECRETS
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def policy():
    from trajkit.tools.policy import SandboxPolicy

    return SandboxPolicy(wall_time_s=3, cpu_time_s=3, memory_mb=768, max_processes=32)


@pytest.fixture(scope="session")
def pool(secrets_in_parent, policy):
    from trajkit.tools.sandbox import SandboxPool

    with SandboxPool(policy) as started:
        yield started


@pytest.fixture(scope="session")
def unguarded_pool(secrets_in_parent, policy):
    """Python guards off: what remains is the OS-level confinement alone."""
    from trajkit.tools.sandbox import SandboxPool

    with SandboxPool(
        policy.replace(python_guards=False, allowed_imports=("os", "socket", "time", "math"))
    ) as started:
        yield started


@pytest.fixture
def interp(pool):
    interpreter = pool.new_interpreter()
    yield interpreter
    interpreter.close()


SMALL_CORPUS = [
    ("paris", "Paris", "Paris is the capital and largest city of France, on the river Seine."),
    ("berlin", "Berlin", "Berlin is the capital of Germany and its most populous city."),
    ("tokyo", "Tokyo", "Tokyo is the capital of Japan and one of the largest cities in the world."),
    (
        "nile",
        "Nile",
        "The Nile is a major north-flowing river in northeastern Africa, the longest in Africa.",
    ),
    (
        "everest",
        "Mount Everest",
        "Mount Everest is Earth's highest mountain above sea level, in the Himalayas.",
    ),
    (
        "python",
        "Python (programming language)",
        "Python is a high-level programming language created by Guido van Rossum.",
    ),
    (
        "photosynthesis",
        "Photosynthesis",
        "Photosynthesis is the process by which plants use sunlight, water and carbon dioxide to make sugar.",
    ),
    (
        "einstein",
        "Albert Einstein",
        "Albert Einstein was a theoretical physicist who developed the theory of relativity.",
    ),
    ("piano", "Piano", "The piano is a keyboard instrument whose strings are struck by hammers."),
    (
        "volcano",
        "Volcano",
        "A volcano is a rupture in the crust of a planet through which lava and ash escape.",
    ),
]


@pytest.fixture(scope="session")
def small_corpus_file(tmp_path_factory):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path_factory.mktemp("corpus") / "small.parquet"
    doc_ids, titles, texts = zip(*SMALL_CORPUS, strict=True)
    pq.write_table(
        pa.table(
            {
                "doc_id": list(doc_ids),
                "title": list(titles),
                "text": list(texts),
                "lang": ["en"] * len(doc_ids),
            }
        ),
        path,
    )
    return path


@pytest.fixture(scope="session")
def small_index(small_corpus_file, tmp_path_factory):
    from trajkit.tools.retriever import build_index

    return build_index(small_corpus_file, tmp_path_factory.mktemp("index") / "small")
