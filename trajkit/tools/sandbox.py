"""Sandboxed Python interpreters for agent trajectories (parent side).

Public API::

    from trajkit.tools import SandboxPool, SandboxPolicy

    with SandboxPool(SandboxPolicy(wall_time_s=5), tools={"search": search_tool}) as pool:
        interp = pool.new_interpreter()          # one per trajectory; state persists across steps
        r = interp.run("x = 2\\nprint(x + 1)")    # ExecResult(stdout='3\\n', ...)
        r = interp.run("x * 10")                 # r.value == '20' (the last expression)
        copies = [interp.fork() for _ in range(8)]   # self-consistent action generation:
        results = [c.run(code) for c, code in zip(copies, candidates)]  # each on its own copy
        winner = copies[best]                    # adopt the voted candidate's state:
        for c in [interp, *copies]:              #   keep its copy, close the rest
            if c is not winner: c.close()
        r = winner.run("final_answer(x)")        # r.answered is True, r.final_answer == 2
        winner.close()

`ExecResult` (`trajkit.tools.protocol`) carries stdout (capped), the last expression's value
(as text), the final answer (a JSON value: numpy/sympy converted by `trajkit.tools.convert`),
a typed `trajkit.schema.StepError` (parse_error, execution_error with exception and line,
timeout, memory_limit, output_limit, forbidden_import, forbidden_operation, tool_error,
sandbox_error), the duration, and the `trajkit.schema.ToolCall`s the code made.

Tools: `tools={"name": callable}` (pool-wide, or per interpreter) become functions in the
sandbox's namespace. A call from sandboxed code travels over the interpreter's socket to
this process, which runs the callable (`trajkit.tools.host_tools`) and sends the result
back; the sandbox itself has no network and no files. A tool returns a `ToolOutput` (text +
retrieved documents, recorded in the ToolCall) or any JSON value.

`SandboxInterpreter` implements `trajkit.tools.protocol.Interpreter`, the type agent loops
depend on.

Thread safety: each SandboxInterpreter serialises its own calls; different interpreters run
in parallel, so an asyncio loop can call `await asyncio.to_thread(interp.run, code)` for
many trajectories at once. Tools may be called from several threads at once.

How it is built is described where each part lives: starting the sandbox in
`trajkit.tools.launch`; its three process roles in `trajkit.tools.template` (one per pool,
forks interpreters), `trajkit.tools.interpreter_process` (one per trajectory, holds its
state) and `trajkit.tools.step_process` (runs one step; how rollback works); what protects
what in `trajkit.tools.confine` and `trajkit.tools.guard`. `pool.protections` says, in
words, what is in force on this machine.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import threading
import time
import weakref
from collections.abc import Callable

from trajkit.errors import ConfigError
from trajkit.schema import StepError, ToolCall
from trajkit.tools.channel import Channel, ProtocolError
from trajkit.tools.host_tools import call_tool, check_tools
from trajkit.tools.launch import START_TIMEOUT_S, launchers, start_template, terminate
from trajkit.tools.policy import SandboxPolicy
from trajkit.tools.protocol import ExecResult, SandboxError

REPLY_GRACE_S = 15.0
UID_BASE = 0x40000000


# ============================================================================== pool


class SandboxPool:
    """A template process and the interpreters forked from it."""

    _sequence = 0

    def __init__(
        self,
        policy: SandboxPolicy | None = None,
        tools: dict[str, Callable] | None = None,
        *,
        start: bool = True,
    ):
        self.policy = policy or SandboxPolicy()
        self.tools = check_tools(tools or {})
        self.protections: dict[str, str] = {}
        self.launcher = ""
        self.missing_modules: list[str] = []
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._control: Channel | None = None
        self._families: dict[int, int] = {}
        self._next_family = 0
        self._next_id = 0
        self._interpreters: weakref.WeakSet[SandboxInterpreter] = weakref.WeakSet()
        self._closed = False
        SandboxPool._sequence += 1
        self._uid_base = UID_BASE + ((os.getpid() * 64 + SandboxPool._sequence) % (1 << 18)) * 4096
        _LIVE_POOLS.add(self)
        if start:
            self.start()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        with self._lock:
            self._ensure_started()

    def _ensure_started(self) -> None:
        if self._closed:
            raise SandboxError("the sandbox pool is closed")
        if self._control is not None and self._process is not None and self._process.poll() is None:
            return
        self._stop_template()
        errors = []
        for name, prefix in launchers():
            try:
                self._launch(name, prefix)
                break
            except SandboxError as exc:
                errors.append(f"{name}: {exc.what}")
        else:
            raise SandboxError(
                "the Python sandbox could not start (" + "; ".join(errors) + ")",
                fix="run on Linux with Python >= 3.11; set TRAJKIT_SANDBOX_DEBUG=1 to see the sandbox's log",
            )
        if self.policy.require_isolation and not self.isolated:
            self._stop_template()
            raise ConfigError(
                "the sandbox could not isolate the network and processes on this machine: "
                + "; ".join(f"{k}: {v}" for k, v in self.protections.items()),
                where="SandboxPolicy.require_isolation",
                fix="run as root or enable unprivileged user namespaces, or set require_isolation=False",
            )

    def _launch(self, name: str, prefix: list[str]) -> None:
        started = start_template(name, prefix, self.policy, self._uid_base)
        self._process = started.process
        self._control = started.control
        self.launcher = name
        self.protections = started.protections
        self.missing_modules = started.missing_modules

    @property
    def isolated(self) -> bool:
        return self.protections.get("network", "").startswith("empty network namespace") and (
            self.protections.get("processes", "").startswith("private PID namespace")
        )

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for interpreter in list(self._interpreters):
            interpreter._mark_closed()
        with self._lock:
            self._stop_template()
        _LIVE_POOLS.discard(self)

    def _stop_template(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                terminate(self._process)
            self._process = None

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --------------------------------------------------------------- interpreters

    def new_interpreter(self, tools: dict[str, Callable] | None = None) -> SandboxInterpreter:
        """A fresh interpreter (empty namespace) for one trajectory."""
        all_tools = {**self.tools, **check_tools(tools or {})}
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self._lock:
                self._ensure_started()
                family = self._next_family
                self._next_family += 1
                name = self._new_name()
                try:
                    self._control.send(
                        {
                            "op": "spawn",
                            "family": family,
                            "scratch": name,
                            "tools": sorted(all_tools),
                        },
                        fds=[theirs.fileno()],
                    )
                    reply, _ = self._control.recv(timeout=START_TIMEOUT_S)
                except (EOFError, TimeoutError, ProtocolError, OSError) as exc:
                    self._stop_template()
                    raise SandboxError(
                        f"the sandbox template process failed ({type(exc).__name__})"
                    ) from None
                if reply.get("op") != "spawned":
                    raise SandboxError(f"cannot create an interpreter: {reply.get('error', reply)}")
                self._families[family] = self._families.get(family, 0) + 1
        finally:
            theirs.close()
        channel = Channel(ours)
        interpreter = SandboxInterpreter(self, channel, family, all_tools)
        try:
            ready, _ = channel.recv(timeout=START_TIMEOUT_S)
        except (EOFError, TimeoutError, ProtocolError, OSError):
            interpreter.close()
            raise SandboxError("a new interpreter did not start") from None
        interpreter.pid = int(ready.get("pid") or 0)
        self._interpreters.add(interpreter)
        return interpreter

    def _new_name(self) -> str:
        self._next_id += 1
        return f"i{self._next_id}"

    def _retain(self, family: int) -> None:
        with self._lock:
            self._families[family] = self._families.get(family, 0) + 1

    def _release(self, family: int) -> None:
        with self._lock:
            left = self._families.get(family, 0) - 1
            if left > 0:
                self._families[family] = left
                return
            self._families.pop(family, None)
            self._template_request({"op": "release", "family": family})

    def _kill(self, family: int, pid: int) -> None:
        with self._lock:
            self._template_request({"op": "kill", "family": family, "pid": pid})

    def _template_request(self, message: dict) -> dict | None:
        if self._control is None or self._closed:
            return None
        try:
            self._control.send(message)
            reply, _ = self._control.recv(timeout=30)
            return reply
        except (EOFError, TimeoutError, ProtocolError, OSError):
            return None


# ======================================================================= interpreter


class SandboxInterpreter:
    """One sandboxed interpreter: a namespace that persists across `run` calls."""

    def __init__(
        self, pool: SandboxPool, channel: Channel, family: int, tools: dict[str, Callable]
    ):
        self.pool = pool
        self.tools = tools
        self.pid = 0  # inside the sandbox's PID namespace
        self._channel: Channel | None = channel
        self._family = family
        self._lock = threading.Lock()
        self._steps = 0
        self._dead_reason: str | None = None
        self._closed = False

    @property
    def alive(self) -> bool:
        return not self._closed and self._dead_reason is None

    def run(self, code: str, timeout: float | None = None) -> ExecResult:
        """Run one step's code; never raises for anything the code does."""
        with self._lock:
            if self._closed:
                raise SandboxError("this interpreter is closed")
            started = time.perf_counter()
            if self._dead_reason is not None:
                return _sandbox_error(self._dead_reason, started)
            self._steps += 1
            wall = float(timeout or self.pool.policy.wall_time_s)
            message = {
                "op": "run",
                "code": str(code),
                "step": self._steps,
                "wall_time_s": wall,
                "cpu_time_s": max(self.pool.policy.cpu_time_s, wall if timeout else 0),
            }
            tool_calls: list[ToolCall] = []
            try:
                self._channel.send(message)
                while True:
                    reply, fds = self._channel.recv(timeout=wall + REPLY_GRACE_S)
                    for fd in fds:
                        os.close(fd)
                    op = reply.get("op")
                    if op == "tool":
                        self._serve_tool(reply, tool_calls)
                    elif op == "result":
                        return _exec_result(reply, tool_calls, started)
                    else:
                        raise ProtocolError(f"unexpected message {op!r}")
            except TimeoutError:
                self._die("the interpreter process stopped answering and was killed")
            except (EOFError, ProtocolError, OSError) as exc:
                self._die(f"the interpreter process died ({type(exc).__name__})")
            result = _sandbox_error(self._dead_reason, started)
            result.tool_calls = tool_calls
            return result

    def fork(self) -> SandboxInterpreter:
        """An independent copy of this interpreter's state (variables, imports, scratch files)."""
        with self._lock:
            if self._closed or self._dead_reason is not None:
                raise SandboxError("cannot fork a closed or dead interpreter")
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self._channel.send(
                    {"op": "fork", "scratch": self.pool._new_name()}, fds=[theirs.fileno()]
                )
                theirs.close()
                reply, _ = self._channel.recv(timeout=START_TIMEOUT_S)
            except (EOFError, TimeoutError, ProtocolError, OSError) as exc:
                theirs.close()
                ours.close()
                self._die(f"the interpreter process died while forking ({type(exc).__name__})")
                raise SandboxError(self._dead_reason) from None
            if reply.get("op") != "forked":
                ours.close()
                raise SandboxError(str(reply.get("error", "the interpreter could not be forked")))
            channel = Channel(ours)
            self.pool._retain(self._family)
            child = SandboxInterpreter(self.pool, channel, self._family, self.tools)
            child._steps = self._steps
            try:
                ready, _ = channel.recv(timeout=START_TIMEOUT_S)
            except (EOFError, TimeoutError, ProtocolError, OSError):
                child.close()
                raise SandboxError("the forked interpreter did not start") from None
            child.pid = int(ready.get("pid") or 0)
            self.pool._interpreters.add(child)
            return child

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._mark_closed()

    def _mark_closed(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._channel is not None:
            self._channel.close()  # the interpreter process exits on end-of-file
            self._channel = None
        if not self.pool._closed:
            self.pool._release(self._family)

    def _die(self, reason: str) -> None:
        self._dead_reason = reason
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self.pid:
            self.pool._kill(self._family, self.pid)

    def __enter__(self) -> SandboxInterpreter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            if not self._closed and self._channel is not None:
                self._channel.close()
        except Exception:
            pass

    # ------------------------------------------------------------------- tools

    def _serve_tool(self, request: dict, tool_calls: list[ToolCall]) -> None:
        record, reply = call_tool(self.tools, request)
        tool_calls.append(record)
        self._channel.send(reply)


# ============================================================================ helpers


def _exec_result(reply: dict, tool_calls: list[ToolCall], started: float) -> ExecResult:
    error = None
    raw = reply.get("error")
    if isinstance(raw, dict):
        try:
            error = StepError(
                type=raw.get("type"),
                message=str(raw.get("message", ""))[:5000],
                exception=raw.get("exception") if isinstance(raw.get("exception"), str) else None,
                line=raw.get("line") if isinstance(raw.get("line"), int) else None,
            )
        except Exception:
            error = StepError(
                type="sandbox_error", message=f"malformed error from the sandbox: {raw!r}"[:2000]
            )
    stdout = reply.get("stdout")
    value = reply.get("value")
    return ExecResult(
        stdout=stdout if isinstance(stdout, str) else "",
        value=value if isinstance(value, str) else None,
        final_answer=reply.get("answer") if reply.get("answered") is True else None,
        answered=reply.get("answered") is True,
        error=error,
        duration_ms=(time.perf_counter() - started) * 1000,
        tool_calls=tool_calls,
        rolled_back=reply.get("rolled_back") is True,
        stdout_dropped=reply.get("stdout_dropped")
        if isinstance(reply.get("stdout_dropped"), int)
        else 0,
    )


def _sandbox_error(reason: str, started: float) -> ExecResult:
    return ExecResult(
        error=StepError(type="sandbox_error", message=reason),
        duration_ms=(time.perf_counter() - started) * 1000,
        rolled_back=True,
    )


# ======================================================================= live pools

_LIVE_POOLS: weakref.WeakSet[SandboxPool] = weakref.WeakSet()


@atexit.register
def _close_all_pools() -> None:
    for pool in list(_LIVE_POOLS):
        try:
            pool.close()
        except Exception:
            pass
