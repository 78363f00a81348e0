"""Fixtures for publishing tests: a local Hub server driven by the real huggingface_hub client,
an isolated Hugging Face environment (HF_HOME, endpoint, token) and realistic datasets."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from tests.factories import make_provenance, make_trajectories, make_trajectory
from tests.hub.hub_server import HubServer
from trajkit.schema import Review, ReviewResponse, Sampling, ToolInfo
from trajkit.store import Dataset, derive

USER = "alice"


def new_token() -> str:
    return "hf_" + secrets.token_hex(17)


@pytest.fixture
def tokens() -> dict[str, str]:
    return {"write": new_token(), "read": new_token(), "bob": new_token()}


@pytest.fixture
def hub(tokens, tmp_path, monkeypatch):
    """A running local Hub; the environment points huggingface_hub at it, with the write token.

    huggingface_hub reads most settings once, at import time (and another test may already have
    imported it), so the module constants are patched as well as the environment variables.
    """
    import huggingface_hub.constants as hf_constants

    server = HubServer(
        {tokens["write"]: (USER, "write"), tokens["read"]: (USER, "read"), tokens["bob"]: ("bob", "write")}
    ).start()
    home = tmp_path / "hf-home"
    home.mkdir()
    env = {
        "HF_ENDPOINT": server.endpoint,
        "HF_TOKEN": tokens["write"],
        "HF_HOME": str(home),
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_XET": "1",  # the test server speaks plain LFS, not Xet
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_TOKEN_PATH", raising=False)
    patched = {
        "ENDPOINT": server.endpoint,
        "HUGGINGFACE_CO_URL_TEMPLATE": server.endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HUB_OFFLINE": False,
        "HF_HUB_DISABLE_XET": True,
    }
    # Every path under the HF_HOME seen at import time (token file, caches, telemetry files)
    # moves to the test's HF_HOME.
    original_home = hf_constants.HF_HOME
    for name, value in vars(hf_constants).items():
        if name.isupper() and isinstance(value, str) and value.startswith(original_home):
            patched[name] = str(home) + value[len(original_home):]
    for name, value in patched.items():
        monkeypatch.setattr(hf_constants, name, value)
    server.env = env  # for subprocesses
    server.home = home
    try:
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------------------- datasets


def rich_trajectories():
    """Two splits, two domains, errors, candidates, a second provenance with SAG and tools."""
    sag = make_provenance().model_copy(
        update={
            "backend": "vllm",
            "model": "Qwen/Qwen2.5-32B-Instruct",
            "sampling": Sampling(temperature=0.7, top_p=0.95, max_tokens=1024, n=4, seed=7),
            "prompt_template": "codeact-v1",
            "prompt_hash": "5f1d2c3b4a596877",
            "first_thought_prefix": True,
            "sag_n": 4,
            "tools": [ToolInfo(name="search", version="bm25-1"), ToolInfo(name="python", version="3.11")],
            "trajkit_version": "0.1.0",
            "fingerprint": "",
        }
    ).with_fingerprint()
    rows = make_trajectories(14, seed=3)
    rows += [make_trajectory(100 + i, split="test", domain="math", error_at=0, candidates=3, provenance=sag) for i in range(4)]
    reviewed = rows[0].model_copy(
        update={
            "review": Review(
                status="submitted",
                label="accept",
                rating=4.0,
                annotator="ann1",
                responses=[ReviewResponse(annotator="ann1", status="submitted", label="accept", rating=4)],
            )
        }
    )
    rows[0] = reviewed
    rows[1].steps[0].code = "print('```')\nx = 1 | 2"  # backticks and pipes must not break the card
    rows[1].steps[0].observation = "```\n| a | b |"
    return rows


@pytest.fixture
def make_dataset(tmp_path):
    counter = {"n": 0}

    def make(rows=None, name: str | None = None) -> Dataset:
        counter["n"] += 1
        path = tmp_path / (name or f"dataset-{counter['n']}")
        dataset = Dataset.create(path, recipe={"teacher": {"model": "Qwen/Qwen2.5-32B-Instruct", "api_key": "sk-SECRET"}, "tasks": "seed"})
        rows = rich_trajectories() if rows is None else rows
        half = len(rows) // 2
        dataset.append(rows[:half])  # two shards
        dataset.append(rows[half:])
        return Dataset.open(path)

    return make


@pytest.fixture
def dataset(make_dataset) -> Dataset:
    return make_dataset()


@pytest.fixture
def filtered_dataset(dataset, tmp_path) -> Dataset:
    """A dataset derived with a filter, so lineage shows in the card."""
    from trajkit.query import select_rows

    rows = select_rows([dataset], "n_steps >= 2")
    return derive([dataset], tmp_path / "filtered", rows, operation="filter", sql="n_steps >= 2", params={"token": "x"})


def sorted_rows(table):
    import pyarrow.compute as pc

    return table.take(pc.sort_indices(table, sort_keys=[("trajectory_id", "ascending")]))


def read_json(path: Path):
    return json.loads(path.read_text())
