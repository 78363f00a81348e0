"""The `llamacpp` backend: trajkit starts llama.cpp's native server itself (xllamacpp), serves the
embedded SmolLM2 GGUF through it, restarts it once when it dies and never leaves it behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from trajkit.errors import ServiceError
from trajkit.schema import Sampling
from trajkit.teachers import GenerationRequest, TeacherError, make_backend
from trajkit.teachers.llama_server import LlamaServer, free_port

pytestmark = [pytest.mark.server, pytest.mark.model]

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]
MODEL = "smollm2-135m"  # the registry name of the embedded GGUF


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().split(")")[-1].split()[0] != "Z"


def wait_dead(pid: int, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return False


def run(coroutine):
    return asyncio.run(coroutine)


def backend(**options):
    return make_backend({"backend": "llamacpp", "model": MODEL, "parallel": 2, "context": 2048,
                         **options})


def test_starts_serves_and_stops_its_server():
    teacher = backend()
    pid = teacher.server.pid
    assert pid_alive(pid) and teacher.base_url.startswith("http://127.0.0.1:")

    async def main():
        try:
            reply = await teacher.generate(GenerationRequest(FRANCE, Sampling(max_tokens=8)))
            several = await teacher.generate(
                GenerationRequest(FRANCE, Sampling(temperature=1.0, max_tokens=6, n=5, seed=3)))
            return reply, several
        finally:
            await teacher.aclose()

    reply, several = run(main())
    assert reply.text.strip() and reply.completion_tokens <= 8
    assert len(several.choices) == 5  # n above the 2 slots: asked in groups of at most 2
    assert wait_dead(pid), "the server outlived aclose()"


def test_prefix_is_continued_and_not_repeated():
    teacher = backend()

    async def main():
        try:
            return await teacher.generate(GenerationRequest(
                FRANCE, Sampling(max_tokens=12), assistant_prefix="The capital of France is"))
        finally:
            await teacher.aclose()

    rest = run(main())
    assert not rest.text.startswith("The capital of France is")
    assert "Paris" in rest.text


def test_a_dead_server_is_restarted_once_then_requests_fail_fast():
    teacher = backend(max_retries=3, backoff_base_s=0.2)
    request = GenerationRequest(FRANCE, Sampling(max_tokens=4))

    async def main():
        try:
            await teacher.generate(request)
            first = teacher.server.pid
            os.kill(first, signal.SIGKILL)
            assert wait_dead(first)
            again = await teacher.generate(request)  # retried against the restarted server
            second = teacher.server.pid
            assert second != first and teacher.server.starts == 2 and again.text.strip()
            os.kill(second, signal.SIGKILL)
            assert wait_dead(second)
            started = time.monotonic()
            with pytest.raises(TeacherError, match="died again") as caught:
                await teacher.generate(request)
            assert time.monotonic() - started < 10 and caught.value.retryable
        finally:
            await teacher.aclose()

    run(main())


def test_the_server_dies_with_the_process_that_started_it(tmp_path):
    script = textwrap.dedent(f"""
        import time
        from trajkit.teachers import make_backend
        teacher = make_backend({{"backend": "llamacpp", "model": "{MODEL}", "parallel": 1,
                                 "context": 1024}})
        print(teacher.server.pid, flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        server_pid = int(parent.stdout.readline())
        assert pid_alive(server_pid)
        parent.send_signal(signal.SIGKILL)  # no cleanup code runs in the parent
        parent.wait(10)
        assert wait_dead(server_pid), "the llama.cpp server outlived the killed trajkit process"
    finally:
        if parent.poll() is None:
            parent.kill()


def test_a_taken_port_gives_a_clear_error():
    from trajkit.models.specs import resolve_gguf

    with LlamaServer(resolve_gguf(MODEL), context=1024) as first:
        with pytest.raises(ServiceError, match=f"port {first.port} is already in use"):
            LlamaServer(resolve_gguf(MODEL), port=first.port, context=1024).start()


def test_a_file_that_is_not_a_model_fails_at_start_with_the_servers_reason(tmp_path):
    bogus = tmp_path / "broken.gguf"
    bogus.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ServiceError, match="exited during start-up"):
        LlamaServer(bogus, port=free_port(), context=1024).start()


@pytest.mark.parametrize("options, message", [
    ({"model": "no-such-model"}, "no-such-model"),
    ({"model": MODEL, "context": 100, "parallel": 4}, "too small"),
    ({"model": MODEL, "slots": 4}, "unknown option"),
])
def test_bad_options_are_refused_before_anything_starts(options, message):
    from trajkit.errors import TrajkitError

    with pytest.raises(TrajkitError, match=message):
        make_backend({"backend": "llamacpp", **options})
