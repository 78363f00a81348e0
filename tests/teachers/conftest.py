"""Fixtures for the teacher backends: a real llama.cpp server (session), a scripted server."""

from __future__ import annotations

import os

import pytest

from trajkit.teachers.llama_server import LlamaServer
from trajkit.teachers.scripted_server import ScriptedServer

SCRIPT = [
    "Thought: I will search.\nCode:\n```py\nprint(search('x'))\n```",
    "Thought: now compute.\nCode:\n```py\nprint(6 * 7)\n```<end_code>",
    "Thought: done.\nCode:\n```py\nfinal_answer('42')\n```",
]


@pytest.fixture(scope="session")
def llama_server():
    """llama.cpp's native OpenAI-compatible server (xllamacpp) on a free port serving the
    embedded SmolLM2 GGUF, four slots."""
    if os.environ.get("TRAJKIT_SKIP_LLAMA"):
        pytest.skip("TRAJKIT_SKIP_LLAMA is set: llama.cpp server tests skipped")
    from trajkit.models.embedded_llm import gguf_path

    with LlamaServer(gguf_path(), context=4096, parallel=4, alias="smollm2") as server:
        yield server


@pytest.fixture(scope="session")
def llama_upstream(llama_server) -> str:
    """host:port of the llama server, for putting a proxy in front of it."""
    return f"{llama_server.host}:{llama_server.port}"


@pytest.fixture
def scripted_server():
    with ScriptedServer(SCRIPT) as server:
        yield server
