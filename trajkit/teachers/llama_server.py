"""llama.cpp's native server (xllamacpp), run by trajkit in a child process.

`LlamaServer(gguf).start()` launches `python -m trajkit.teachers.llama_process` on 127.0.0.1 and a
free port, waits until `/v1/models` answers, and `stop()` ends it. The child gets SIGKILL when
the process that started it dies (parent-death signal), so a killed build never leaves a server
behind. The server is OpenAI-compatible (chat, completions, `n`, logprobs, prompt cache,
continuous batching over `parallel` slots); the `llamacpp` teacher backend and the tests talk to
it through the `openai` client.

PDEATHSIG fires when the *thread* that forked the child exits: start (and restart) servers from
a long-lived thread, e.g. the main thread that runs the event loop, never from a worker pool.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from trajkit.errors import ConfigError, ServiceError
from trajkit.tools.confine import set_parent_death_signal

MODEL_ALIAS = "model"


@dataclass(frozen=True)
class ServerSettings:
    """What the child process needs to build xllamacpp's CommonParams."""

    model_path: str
    host: str
    port: int
    alias: str
    context: int  # total KV cache in tokens, shared by the slots (each gets context / parallel)
    parallel: int  # slots decoded together (continuous batching)
    threads: int


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _die_with_parent() -> None:
    """Between fork and exec in the child: SIGKILL when the starting thread dies."""
    with contextlib.suppress(OSError, AttributeError):
        set_parent_death_signal(signal.SIGKILL)


class LlamaServer:
    def __init__(
        self,
        model_path: str | os.PathLike,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        context: int = 4096,
        parallel: int = 1,
        threads: int | None = None,
        alias: str = MODEL_ALIAS,
        startup_timeout_s: float = 120.0,
    ):
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise ServiceError("no such GGUF model file", where=str(self.model_path),
                               fix="name a registry model (trajkit models list) or an existing .gguf")
        if parallel < 1 or context < 256 * parallel:
            raise ConfigError(
                f"context {context} is too small for {parallel} parallel slot(s)",
                where="teacher.context", fix="give each slot at least 256 tokens (context >= 256 * parallel)",
            )
        self.host = host
        self.port = port or free_port(host)
        self.alias = alias
        self.settings = ServerSettings(
            model_path=str(self.model_path), host=host, port=self.port, alias=alias,
            context=context, parallel=parallel, threads=threads or len(os.sched_getaffinity(0)),
        )
        self._startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen | None = None
        self._log_path: Path | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> LlamaServer:
        _require_xllamacpp()
        if not port_is_free(self.host, self.port):
            raise ServiceError(
                f"port {self.port} is already in use", where=f"{self.host}:{self.port}",
                fix="leave teacher.port unset so trajkit picks a free one, or stop what holds it",
            )
        if self._log_path is None:
            handle, name = tempfile.mkstemp(prefix="trajkit-llama-", suffix=".log")
            os.close(handle)
            self._log_path = Path(name)
        with open(self._log_path, "ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "trajkit.teachers.llama_process", json.dumps(asdict(self.settings))],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        self.starts += 1
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._startup_timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                code = self._process.returncode if self._process else None
                tail = self.log_tail(600)
                self._process = None
                raise ServiceError(
                    f"the llama.cpp server exited during start-up (status {code}): {tail}",
                    where=str(self.model_path),
                    fix="check that the file is a GGUF this llama.cpp can load and that memory suffices",
                )
            if self._ready():
                return
            time.sleep(0.1)
        self.stop()
        raise ServiceError(
            f"the llama.cpp server did not answer within {self._startup_timeout_s:g}s",
            where=self.base_url, fix="raise teacher.startup_timeout_s on a slow or busy machine",
        )

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as reply:
                return reply.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def restart(self) -> None:
        """Start again on the same port (clients keep their base_url)."""
        self._terminate()
        self.start()

    def log_tail(self, chars: int = 2000) -> str:
        if self._log_path is None or not self._log_path.is_file():
            return ""
        text = self._log_path.read_text(errors="replace")
        return " ".join(text[-chars:].split())

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def stop(self) -> None:
        self._terminate()
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _require_xllamacpp() -> None:
    import importlib.util

    if importlib.util.find_spec("xllamacpp") is None:
        from trajkit.errors import MissingExtraError

        raise MissingExtraError("xllamacpp", "llamacpp", "the llama.cpp teacher backend")
