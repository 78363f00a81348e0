"""Starting and stopping llama.cpp's OpenAI-compatible server (llama-cpp-python[server]).

The server lives in its own virtualenv (`.cache/venvs/llama`, made by
scripts/services/llama.sh) so its dependencies never mix with trajkit's. Tests and
bench/teachers.py use it as a real third-party OpenAI-compatible server serving the embedded
GGUF on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from trajkit.errors import ServiceError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VENV = REPO_ROOT / ".cache" / "venvs" / "llama"
MODEL_ALIAS = "smollm2"


def llama_python() -> Path | None:
    """The llama server's python: $TRAJKIT_LLAMA_PYTHON, else the repo's .cache/venvs/llama."""
    configured = os.environ.get("TRAJKIT_LLAMA_PYTHON")
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    for venv in (DEFAULT_VENV, Path.cwd() / ".cache" / "venvs" / "llama"):
        if (venv / "bin" / "python").is_file():
            return venv / "bin" / "python"
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LlamaServer:
    def __init__(
        self,
        model_path: str | os.PathLike,
        *,
        python: str | os.PathLike | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        alias: str = MODEL_ALIAS,
        startup_timeout_s: float = 120.0,
    ):
        python = python or llama_python()
        if python is None:
            raise ServiceError(
                "llama.cpp's server is not installed",
                where=str(DEFAULT_VENV),
                fix="run: make setup-services (or bash scripts/services/llama.sh)",
            )
        self.python = Path(python)
        self.model_path = Path(model_path)
        self.host = host
        self.port = port or free_port(host)
        self.alias = alias
        self._args = [
            str(self.python), "-m", "llama_cpp.server",
            "--model", str(self.model_path), "--model_alias", alias,
            "--host", host, "--port", str(self.port),
            "--n_ctx", str(n_ctx),
            "--n_threads", str(n_threads or len(os.sched_getaffinity(0))),
        ]
        self._startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen | None = None
        self._log = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> LlamaServer:
        self._log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)
        self._process = subprocess.Popen(
            self._args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + self._startup_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServiceError(
                    f"llama.cpp server exited with status {self._process.returncode}: "
                    f"{self.log_tail()}",
                    where=str(self.model_path),
                    fix="re-run scripts/services/llama.sh; see the log above",
                )
            if self._ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise ServiceError(
            f"llama.cpp server did not answer within {self._startup_timeout_s:g}s",
            where=self.base_url,
        )

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as reply:
                return reply.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def log_tail(self, chars: int = 2000) -> str:
        if self._log is None:
            return ""
        text = Path(self._log.name).read_text(errors="replace")
        return text[-chars:]

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        if self._log is not None:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
