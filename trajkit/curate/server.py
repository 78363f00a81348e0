"""A local, real Argilla server for single-machine review, without Elasticsearch.

Three processes, all bound to 127.0.0.1 and all stopped together:
- redis-server (Debian package) on a free port, for Argilla's background jobs;
- argilla-server 2.8 (API + web UI) from its own virtual environment, started through
  `argilla_lite/launcher.py` so that our SQLite search engine (`argilla_lite/engine.py`) is
  registered in Argilla's engine registry before the app starts;
- the rq worker of argilla-server, started the same way.

Everything lives under one home folder: the SQLite databases, the credentials of the owner
(generated once, file mode 0600), logs, and a scratch TMPDIR (every import of argilla_server
copies its 14 MB UI there; we empty it at start and stop). While the server runs,
`server.json` in the home says where it is, so `review push/pull` find it without options.

The server's virtual environment comes from `scripts/services/argilla.sh` (`make setup-services`);
its pins (click<8.2, huggingface-hub<1.0, datasets<4) conflict with trajkit's own stack.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from trajkit.errors import ServiceError
from trajkit.tools.confine import set_parent_death_signal

ENGINE_NAME = "trajkit-sqlite"
OWNER = "argilla"
LAUNCHER = Path(__file__).parent / "argilla_lite" / "launcher.py"
VENV_RELATIVE = Path(".cache") / "venvs" / "argilla-server"
SETUP_HINT = "create it with: make setup-services (or bash scripts/services/argilla.sh)"


@dataclass(frozen=True)
class ServerInfo:
    """Where a running Argilla server is and how to log in."""

    url: str
    username: str
    password: str
    api_key: str
    home: str
    pid: int | None = None


def default_home() -> Path:
    """TRAJKIT_ARGILLA_HOME, else $XDG_DATA_HOME/trajkit/argilla (reviews are data, not cache)."""
    if env := os.environ.get("TRAJKIT_ARGILLA_HOME"):
        return Path(env)
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "trajkit" / "argilla"


def server_python() -> Path:
    """The python of argilla-server's own virtual environment."""
    candidates = []
    if env := os.environ.get("TRAJKIT_ARGILLA_PYTHON"):
        candidates.append(Path(env))
    repo_root = Path(__file__).resolve().parents[2]
    candidates.append(repo_root / VENV_RELATIVE / "bin" / "python")
    from trajkit.cache import cache_root

    candidates.append(cache_root() / "venvs" / "argilla-server" / "bin" / "python")
    for path in candidates:
        if path.is_file():
            return path
    raise ServiceError(
        "the Argilla server's virtual environment is missing",
        where=str(candidates[min(1, len(candidates) - 1)].parent.parent),
        fix=SETUP_HINT + "; or use an existing Argilla 2.x server via --api-url/--api-key",
    )


def redis_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise ServiceError(
            "redis-server is not installed (Argilla needs Redis for its background jobs)",
            fix="apt-get install redis-server (make setup-services does it)",
        )
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is fine
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load_credentials(home: Path) -> dict:
    """The owner's credentials for this home, generated on first use (mode 0600)."""
    path = home / "credentials.json"
    if path.is_file():
        return json.loads(path.read_text())
    creds = {
        "username": OWNER,
        "password": secrets.token_urlsafe(12),
        "api_key": "trajkit." + secrets.token_urlsafe(24),
    }
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(creds, handle)
    os.replace(path.with_suffix(".tmp"), path)
    return creds


def running_server(home: Path | None = None) -> ServerInfo | None:
    """The local server started by `trajkit review serve` for this home, if it is up."""
    path = (home or default_home()) / "server.json"
    if not path.is_file():
        return None
    try:
        info = ServerInfo(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None
    if info.pid is not None and not _pid_alive(info.pid):
        return None
    return info


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _http_ready(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url + "/api/v1/version", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the process that started us dies (even by SIGKILL),
    so a killed `review serve` never leaves a server, worker or Redis behind (Linux only).
    Runs between fork and exec, so it imports nothing."""
    with contextlib.suppress(OSError, AttributeError):
        set_parent_death_signal(signal.SIGTERM)


def _tail(path: Path, lines: int = 15) -> str:
    if not path.is_file():
        return ""
    text = path.read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:])


class LocalArgilla:
    """Start/stop the local Argilla server (API + UI), its rq worker and Redis.

    Use as a context manager, or call start() / stop(). `info` holds URL and credentials.
    """

    def __init__(self, home: Path | str | None = None, port: int | None = None, startup_timeout: float = 180):
        self.home = Path(home) if home else default_home()
        self.port = port
        self.startup_timeout = startup_timeout
        self.info: ServerInfo | None = None
        self._procs: dict[str, subprocess.Popen] = {}
        self._lock_handle = None

    # ----------------------------------------------------------------- paths
    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def scratch(self) -> Path:
        return self.home / "tmp"

    # ------------------------------------------------------------- lifecycle
    def __enter__(self) -> LocalArgilla:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> ServerInfo:
        python = server_python()
        redis = redis_binary()
        self.home.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        try:
            return self._start(python, redis)
        except BaseException:
            self.stop()
            raise

    def _start(self, python: Path, redis: str) -> ServerInfo:
        self.logs.mkdir(exist_ok=True)
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.scratch.mkdir()
        (self.home / "redis").mkdir(exist_ok=True)
        creds = load_credentials(self.home)
        port = self.port or free_port()
        if self.port and not _port_free(port):
            raise ServiceError(f"port {port} on 127.0.0.1 is already in use", fix="pass another --port, or none for a free one")
        redis_port = free_port()
        url = f"http://127.0.0.1:{port}"

        self._spawn(
            "redis",
            [redis, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no",
             "--dir", str(self.home / "redis"), "--protected-mode", "yes"],
            env=os.environ.copy(),
        )
        self._wait("redis", lambda: _redis_ping(redis_port), timeout=30)

        env = self._server_env(redis_port)
        self._spawn("server", [str(python), str(LAUNCHER), "serve", "--host", "127.0.0.1", "--port", str(port)], env)
        self._wait("server", lambda: _http_ready(url), timeout=self.startup_timeout)
        self._spawn("worker", [str(python), str(LAUNCHER), "worker"], env)

        self.info = ServerInfo(url=url, home=str(self.home), pid=os.getpid(), **creds)
        state = self.home / "server.json"
        fd = os.open(state, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(self.info), handle)
        return self.info

    def _server_env(self, redis_port: int) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGILLA_", "VIRTUAL_ENV", "PYTHON"))}
        env.update(
            ARGILLA_HOME_PATH=str(self.home),
            ARGILLA_DATABASE_URL=f"sqlite+aiosqlite:///{self.home / 'argilla.db'}?check_same_thread=False",
            ARGILLA_SEARCH_ENGINE=ENGINE_NAME,
            ARGILLA_REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            HF_HUB_DISABLE_TELEMETRY="1",
            HF_HUB_OFFLINE="1",
            TMPDIR=str(self.scratch),
            TRAJKIT_ARGILLA_SEARCH_DB=str(self.home / "search.db"),
        )
        return env

    def _spawn(self, name: str, argv: list[str], env: dict) -> None:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (kept open by the child)
        self._procs[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            cwd=self.home, start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
            preexec_fn=_die_with_parent,
        )
        log.close()

    def _wait(self, name: str, ready, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        proc = self._procs[name]
        while time.monotonic() < deadline:
            if proc.poll() is None and ready():
                return
            if proc.poll() is not None:
                raise ServiceError(
                    f"the Argilla {name} process exited with status {proc.returncode} at start-up: "
                    + _tail(self.logs / f"{name}.log"),
                    where=str(self.logs / f"{name}.log"),
                    fix="read the log; " + SETUP_HINT,
                )
            time.sleep(0.25)
        raise ServiceError(
            f"the Argilla {name} did not become ready within {timeout:.0f} s: " + _tail(self.logs / f"{name}.log"),
            where=str(self.logs / f"{name}.log"),
        )

    def check(self) -> None:
        """Raise if one of the processes has died (the serve loop polls this)."""
        for name, proc in self._procs.items():
            if proc.poll() is not None:
                raise ServiceError(
                    f"the Argilla {name} process stopped unexpectedly (status {proc.returncode}): "
                    + _tail(self.logs / f"{name}.log"),
                    where=str(self.logs / f"{name}.log"),
                )

    def stop(self, timeout: float = 15) -> None:
        """Stop worker, server, then Redis; each gets SIGTERM, then SIGKILL after `timeout`."""
        for name in ("worker", "server", "redis"):
            proc = self._procs.pop(name, None)
            if proc is None:
                continue
            self._terminate(proc, timeout)
        if self._lock_handle is None:
            return  # never started: the home may belong to another running server
        with contextlib.suppress(FileNotFoundError):
            state = self.home / "server.json"
            if self.info and state.is_file() and json.loads(state.read_text()).get("pid") == self.info.pid:
                state.unlink()
        shutil.rmtree(self.scratch, ignore_errors=True)
        self._release_lock()

    @staticmethod
    def _terminate(proc: subprocess.Popen, timeout: float) -> None:
        if proc.poll() is not None:
            return
        # the child leads its own process group (start_new_session): this reaches its forks too
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    # ------------------------------------------------------------------ lock
    def _acquire_lock(self) -> None:
        handle = open(self.home / ".serve.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            running = running_server(self.home)
            where = f" at {running.url}" if running else ""
            raise ServiceError(
                f"an Argilla server is already running for this home{where}",
                where=str(self.home),
                fix="use it, stop it (Ctrl-C in its terminal), or pass another --home",
            ) from None
        self._lock_handle = handle

    def _release_lock(self) -> None:
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None
