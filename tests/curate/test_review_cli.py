"""The review commands as a user runs them: `review serve` in one terminal, push/pull in another."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import run_cli
from tests.curate.conftest import make_dataset, server_available
from tests.factories import make_trajectories
from trajkit.curate.server import free_port

pytestmark = pytest.mark.server


class Output:
    """The lines a process prints, collected by a thread (select + buffered reads miss lines)."""

    def __init__(self, process: subprocess.Popen):
        import queue
        import threading

        self.process = process
        self.lines: queue.Queue = queue.Queue()
        self.text = ""
        threading.Thread(target=lambda: [self.lines.put(line) for line in process.stdout], daemon=True).start()

    def until(self, pattern: str, timeout: float) -> str:
        import queue

        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} in the output of review serve:\n{self.text}")
            try:
                self.text += self.lines.get(timeout=1)
            except queue.Empty:
                continue
        return self.text


@pytest.mark.slow
def test_serve_push_pull_and_ctrl_c(tmp_path):
    import psutil

    if reason := server_available():
        pytest.skip(reason)
    home = tmp_path / "argilla"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARGILLA_")}
    serve = subprocess.Popen(
        [sys.executable, "-m", "trajkit", "review", "serve", "--home", str(home), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**env, "COLUMNS": "200"},
        preexec_fn=_interactive_ctrl_c,
    )
    try:
        output = Output(serve)
        banner = output.until(r"API key:\s+\S+", timeout=180)
        url = re.search(r"running at (http://127\.0\.0\.1:\d+)", banner).group(1)
        api_key = re.search(r"API key:\s+(\S+)", banner).group(1)
        username, password = re.search(r"username (\S+)\s+password (\S+)", banner).groups()
        assert url == f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/api/v1/me", headers={"X-Argilla-Api-Key": api_key}).json()["username"] == username
        token = httpx.post(f"{url}/api/v1/token", data={"username": username, "password": password})
        assert token.status_code == 201
        children = psutil.Process(serve.pid).children(recursive=True)
        assert len(children) >= 3  # server, worker (+ its work horse), redis

        source = make_dataset(tmp_path / "ds", make_trajectories(3), name="cli-review")
        pushed = run_cli("review", "push", str(source.path), "--home", str(home), env=env)
        assert pushed.returncode == 0, pushed.stderr
        assert "records: 3" in pushed.stdout and "/annotation-mode" in pushed.stdout
        pushed_again = run_cli("review", "push", str(source.path), "--home", str(home), env=env)
        assert "records: 3" in pushed_again.stdout and "updated" in pushed_again.stdout
        pulled = run_cli("review", "pull", str(source.path), str(tmp_path / "out"), "--home", str(home), env=env)
        assert pulled.returncode == 0, pulled.stderr
        assert "pending: 3" in pulled.stdout and (tmp_path / "out" / "trajkit.json").is_file()

        serve.send_signal(signal.SIGINT)  # Ctrl-C
        assert _wait_or_explain(serve, output, home) == 0
        assert "stopped: server, worker, redis" in output.until("review serve stopped", timeout=10)
        assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/api/v1/version", timeout=2)
        assert not (home / "server.json").exists() and not (home / "tmp").exists()
        assert (home / "argilla.db").is_file() and (home / "credentials.json").stat().st_mode & 0o077 == 0
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()


def _interactive_ctrl_c() -> None:
    """In the child: SIGINT as in a terminal. A test run started in the background by a
    non-interactive shell (`make test &`, nohup) inherits SIGINT ignored, and Python then installs
    no KeyboardInterrupt handler: Ctrl-C would never reach `review serve`."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_or_explain(serve, output: Output, home) -> int:
    """The exit status of `review serve` after Ctrl-C. Its stop is bounded (each of worker,
    server and Redis gets SIGTERM, then SIGKILL after 15 s), so 120 s means a hang: fail with
    what it printed and the tails of its logs."""
    try:
        return serve.wait(timeout=120)
    except subprocess.TimeoutExpired:
        while not output.lines.empty():
            output.text += output.lines.get_nowait()
        logs = {log.name: log.read_text(errors="replace")[-1500:] for log in sorted((home / "logs").glob("*.log"))}
        raise AssertionError(f"review serve did not stop after Ctrl-C.\noutput:\n{output.text}\nlogs: {logs}") from None


def test_push_to_unreachable_server_exits_2_with_one_line(tmp_path):
    source = make_dataset(tmp_path / "ds", make_trajectories(1))
    result = run_cli(
        "review", "push", str(source.path), "--api-url", f"http://127.0.0.1:{free_port()}", "--api-key", "k", "--no-vectors"
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error:") and "cannot reach the Argilla server" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_killed_serve_leaves_no_process_behind(tmp_path):
    import psutil

    if reason := server_available():
        pytest.skip(reason)
    script = (
        "import sys, time\n"
        "from trajkit.curate.server import LocalArgilla\n"
        f"LocalArgilla(home={str(tmp_path / 'home')!r}).start()\n"
        "print('up', flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "up"
        children = psutil.Process(parent.pid).children(recursive=True)
        assert len(children) >= 3
        parent.kill()  # SIGKILL: no chance to clean up
        parent.wait()
        gone, alive = psutil.wait_procs(children, timeout=30)
        assert not alive
    finally:
        if parent.poll() is None:
            parent.kill()
