"""Math answer equivalence with `math-verify`, under a hard per-check deadline.

math-verify guards its own work with `signal.alarm`, which only works on the main thread of
the main interpreter, and a signal cannot interrupt a long computation inside C (a huge
integer power, say). So every check runs in a long-lived worker process (`python -m
trajkit.grading.math_worker`) that talks JSON lines over its pipes:

- in the worker, math-verify's own timeouts are off and one interval timer bounds the whole
  check (the soft deadline: the worker answers "timed out" and lives on);
- in the calling process, a hard deadline a little later kills the worker if it did not answer
  (a hang in C); the next check starts a fresh one.

The caller may be any thread (the build grades from an event loop's worker threads); a lock
serialises checks on one worker. Trivial cases (identical strings) never reach the worker.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from trajkit.errors import ServiceError

DEFAULT_TIMEOUT_S = 5.0
HARD_GRACE_S = 2.0  # the hard kill comes this long after the soft deadline
STARTUP_TIMEOUT_S = 120.0  # importing sympy on a busy 2-core machine can be slow


@dataclass(frozen=True)
class MathVerdict:
    equivalent: bool
    timed_out: bool = False
    gold_parsed: list[str] = field(default_factory=list)
    answer_parsed: list[str] = field(default_factory=list)
    error: str | None = None
    how: str = "math_verify"  # "math_verify", "identical", "empty", "hard_timeout"
    elapsed_ms: float = 0.0

    def detail(self) -> dict:
        return asdict(self)


class MathCheckerError(ServiceError):
    """The worker could not be started (an installation problem, not bad input)."""


class MathChecker:
    """One worker process; `check` is safe to call from any thread."""

    def __init__(
        self,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        *,
        soft_deadline: bool = True,
        memory_limit_mb: int | None = 4096,
    ):
        self.timeout_s = timeout_s
        self.soft_deadline = soft_deadline
        self.memory_limit_mb = memory_limit_mb
        self._process: subprocess.Popen | None = None
        self._stderr = None  # the worker's stderr, a temporary file
        self._owner = os.getpid()
        self._buffer = b""
        self._lock = threading.Lock()
        self._next_id = 0
        self.restarts = 0

    # ----------------------------------------------------------------- public

    def check(self, gold: str, answer: str | None, *, timeout_s: float | None = None) -> MathVerdict:
        start = time.perf_counter()
        if answer is None or not answer.strip():
            return MathVerdict(False, how="empty")
        if _squash(gold) == _squash(strip_boxed(answer)):
            return MathVerdict(True, how="identical")
        timeout = self.timeout_s if timeout_s is None else timeout_s
        with self._lock:
            verdict = self._ask(gold, answer, timeout)
        elapsed = (time.perf_counter() - start) * 1000.0
        return MathVerdict(**{**asdict(verdict), "elapsed_ms": round(elapsed, 1)})

    def close(self) -> None:
        with self._lock:
            self._stop()

    def __enter__(self) -> MathChecker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ---------------------------------------------------------------- private

    def _ask(self, gold: str, answer: str, timeout: float) -> MathVerdict:
        self._ensure_started()
        self._next_id += 1
        request = {
            "id": self._next_id,
            "gold": gold,
            "answer": answer,
            "timeout": timeout if self.soft_deadline else None,
        }
        assert self._process is not None and self._process.stdin is not None
        try:
            self._process.stdin.write((json.dumps(request) + "\n").encode())
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            self._stop()
            return MathVerdict(False, error="math worker died", how="worker_error")
        reply = self._read_line(deadline=time.monotonic() + timeout + HARD_GRACE_S)
        if reply is None:
            died = self._process.poll() is not None
            self._stop()  # a hang in C: the only way out is to kill the worker
            self.restarts += 1
            if died:
                return MathVerdict(False, error="math worker died", how="worker_error")
            return MathVerdict(False, timed_out=True, how="hard_timeout", error="timed out")
        message = json.loads(reply)
        if message.pop("id", None) != request["id"]:
            self._stop()
            return MathVerdict(False, error="math worker answered out of turn", how="worker_error")
        return MathVerdict(**message)

    def _ensure_started(self) -> None:
        if self._owner != os.getpid():  # a forked child must not talk over its parent's pipes
            self._process, self._stderr, self._owner = None, None, os.getpid()
        if self._process is not None and self._process.poll() is None:
            return
        self._buffer = b""
        env = dict(os.environ)
        if self.memory_limit_mb:
            env["TRAJKIT_MATHWORKER_MEMORY_MB"] = str(self.memory_limit_mb)
        # the worker imports trajkit from wherever this process did
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        stderr = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "trajkit.grading.math_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
        ready = self._read_line(deadline=time.monotonic() + STARTUP_TIMEOUT_S)
        if ready is None or json.loads(ready).get("ready") is not True:
            self._stop()
            stderr.seek(0)
            tail = stderr.read().decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            stderr.close()
            raise MathCheckerError(
                f"the math-verify worker did not start ({tail[0][:200]})",
                fix="check that math-verify is installed: pip install math-verify",
            )
        self._stderr = stderr

    def _read_line(self, *, deadline: float) -> bytes | None:
        assert self._process is not None and self._process.stdout is not None
        fd = self._process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:  # the worker exited
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _stop(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


_BOXED = re.compile(r"\\boxed\s*\{")


def strip_boxed(text: str) -> str:
    """The content of the last `\\boxed{...}` in `text`, or `text` itself."""
    matches = list(_BOXED.finditer(text))
    if not matches:
        return text
    start = matches[-1].end()
    depth = 1
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[start:index]
    return text


def _squash(text: str) -> str:
    text = text.strip().strip("$").strip()
    text = re.sub(r"\\left|\\right|\\!|\\,|\\;|\\ ", "", text)
    text = re.sub(r"(?<!\d)\s+|\s+(?!\d)", "", text)  # spaces between digits still count
    return text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").rstrip(".")


_default: MathChecker | None = None
_default_lock = threading.Lock()


def default_checker() -> MathChecker:
    """A process-wide checker, started on first use and stopped at exit."""
    global _default
    with _default_lock:
        if _default is None:
            import atexit

            _default = MathChecker()
            atexit.register(_default.close)
        return _default


def math_equivalent(gold: str, answer: str | None, *, timeout_s: float | None = None) -> MathVerdict:
    return default_checker().check(gold, answer, timeout_s=timeout_s)
