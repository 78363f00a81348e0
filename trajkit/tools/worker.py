"""The sandbox's child side: template, interpreter and step processes.

Everything in this module runs inside the sandbox (see `trajkit.tools.sandbox` for the
parent side). Three kinds of process:

template (one per pool)
    Started by the parent under `unshare` (see `trajkit.tools.confine`), it confines itself,
    imports numpy, sympy and the other allowed modules once, installs the Python guards and
    then only forks: each new interpreter is a fork of it, so a new interpreter costs a fork
    (~2 ms), not an interpreter start-up plus numpy/sympy imports (~1 s). In a private PID
    namespace it is PID 1: when it exits, every sandbox process is killed by the kernel.

interpreter (one per trajectory, plus one per fork)
    Holds the namespace (variables, imports, functions) of one agent trajectory. It never
    runs model code itself. It keeps one idle *step process* forked in advance (so running
    a step does not wait for a fork) and talks to the parent over its own socket.

step process
    A fork of the interpreter that runs one step's code under the guards. If the code
    finishes (normally, with an exception, or with final_answer), the step process *becomes*
    the interpreter: the old interpreter hands it the parent's socket and exits, so the
    state the code left is kept. If the code runs out of time, crashes the process or
    exits it, the interpreter kills the step process (and its process group), reports a
    typed error and keeps its own state: the step is rolled back. The step process never
    holds the parent's socket while model code runs; it can only talk to its interpreter,
    which validates and relays tool calls.

Forking an interpreter (`Interpreter.fork()` on the parent side) forks the interpreter
process, so the copy has the same namespace (copy-on-write) and its own scratch directory
(a copy of the original's files). To adopt one candidate's state after a vote, keep that
copy as the trajectory's interpreter and close the others.
"""

from __future__ import annotations

import ast
import gc
import importlib
import json
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback

from trajkit.tools import confine, guard
from trajkit.tools.convert import to_jsonable
from trajkit.tools.protocol import Channel, ProtocolError

COMMIT_TIMEOUT_S = 10.0


def main(argv: list[str]) -> None:
    ctrl = Channel(socket.socket(fileno=int(argv[0])))
    try:
        init, _ = ctrl.recv(timeout=60)
        config = init["config"]
    except Exception:
        os._exit(2)
    try:
        report, scratch_root = confine.prepare_template(config)
        state = guard.GuardState(
            tuple(config["allowed_imports"]),
            list(config["read_roots"]),
            bool(config["python_guards"]),
        )
        failed_imports = _preimport(config)
        if config["python_guards"]:
            guard.install_import_guard(state)
            guard.install_audit_hook(state)
            guard.install_thread_guard(state)
        _disable_process_helpers()
        sys.path[:] = [p for p in sys.path if p and _is_read_root(p, state.read_roots)]
        report["limits"] = _limits_text(config)
        report["environment"] = "rebuilt from scratch: " + ", ".join(sorted(os.environ))
        report["python"] = (
            "import allow-list and audit hook (typed errors; not a security boundary)"
            if config["python_guards"]
            else "Python guards OFF (testing the OS layer only)"
        )
        gc.collect()
        gc.freeze()
    except BaseException as exc:  # report why the sandbox could not start, then die
        try:
            ctrl.send({"op": "failed", "error": f"{type(exc).__name__}: {exc}"})
        finally:
            os._exit(1)
    ctrl.send(
        {
            "op": "ready",
            "pid": os.getpid(),
            "protections": report,
            "missing_modules": failed_imports,
            "python": sys.version.split()[0],
        }
    )
    Template(ctrl, config, state, scratch_root).serve()


def _preimport(config: dict) -> list[str]:
    failed = []
    for name in [*config["allowed_imports"], *config.get("preimport", [])]:
        try:
            importlib.import_module(name)
        except ImportError:
            failed.append(name)
    if "sympy" in sys.modules:  # warm sympy's lazily-built caches once, before any fork
        sympy = sys.modules["sympy"]
        x = sympy.Symbol("x")
        sympy.simplify(sympy.sin(x) ** 2 + sympy.cos(x) ** 2)
    return failed


def _disable_process_helpers() -> None:
    """`_posixsubprocess.fork_exec` has no audit event; make it refuse outright."""

    def refuse(*_args, **_kwargs):
        raise guard.ForbiddenOperation("starting processes is not allowed in the sandbox")

    posixsubprocess = sys.modules.get("_posixsubprocess")
    if posixsubprocess is not None:
        posixsubprocess.fork_exec = refuse
    subprocess = sys.modules.get("subprocess")
    if subprocess is not None and hasattr(subprocess, "_fork_exec"):
        subprocess._fork_exec = refuse


def _is_read_root(path: str, roots: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r.rstrip("/") + "/") for r in roots)


def _limits_text(config: dict) -> str:
    return (
        f"per step: {config['wall_time_s']:g} s wall, {config['cpu_time_s']:g} s CPU, "
        f"{config['memory_mb']} MiB address space; {config['max_processes']} processes per "
        f"family; files up to {config['max_file_mb']} MiB; {config['max_open_files']} open files; "
        f"stdout kept up to {config['max_output_chars']:,} characters, step stopped after "
        f"{config['max_output_total_chars']:,}"
    )


def _drop_socket(sock: socket.socket | None) -> None:
    """Close a socket inherited across fork without a later __del__ closing a reused fd."""
    if sock is None:
        return
    fd = sock.detach()
    if fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass


def _debug(config: dict, text: str) -> None:
    if config.get("debug"):
        try:
            os.write(2, f"[trajkit sandbox {os.getpid()}] {text}\n".encode())
        except OSError:
            pass


# ============================================================================ template


class Template:
    def __init__(self, ctrl: Channel, config: dict, state: guard.GuardState, scratch_root: str):
        self.ctrl = ctrl
        self.config = config
        self.state = state
        self.scratch_root = scratch_root
        self.families: dict[int, tuple[int | None, str]] = {}

    def serve(self) -> None:
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # interpreters are reaped automatically
        while True:
            try:
                message, fds = self.ctrl.recv()
            except (EOFError, ProtocolError, OSError):
                break
            try:
                reply = self._handle(message, fds)
            except Exception as exc:
                for fd in fds:
                    _close_fd(fd)
                reply = {"op": "error", "error": f"{type(exc).__name__}: {exc}"}
            try:
                self.ctrl.send(reply)
            except OSError:
                break
        self._shutdown()

    def _handle(self, message: dict, fds: list[int]) -> dict:
        op = message["op"]
        if op == "spawn":
            return self._spawn(message, fds)
        for fd in fds:
            _close_fd(fd)
        if op == "release":
            killed = self._release(int(message["family"]))
            return {"op": "released", "killed": killed}
        if op == "kill":
            return {
                "op": "killed",
                "killed": self._kill_interpreter(int(message["family"]), int(message["pid"])),
            }
        if op == "ping":
            return {"op": "pong"}
        return {"op": "error", "error": f"unknown op {op!r}"}

    def _family(self, family: int) -> tuple[int | None, str]:
        if family not in self.families:
            uid = None
            if (
                self.config.get("uid_base") is not None
                and os.geteuid() == 0
                and not confine.in_user_namespace()
            ):
                uid = int(self.config["uid_base"]) + family % 4096
            path = os.path.join(self.scratch_root, f"f{family}")
            os.mkdir(path, 0o700)
            if uid is not None:
                os.chown(path, uid, uid)
            self.families[family] = (uid, path)
        return self.families[family]

    def _spawn(self, message: dict, fds: list[int]) -> dict:
        if len(fds) != 1:
            raise ValueError("spawn needs exactly one socket")
        uid, family_dir = self._family(int(message["family"]))
        name = _safe_name(message["scratch"])
        scratch = os.path.join(family_dir, name)
        os.mkdir(scratch, 0o700)
        if uid is not None:
            os.chown(scratch, uid, uid)
        tools = [t for t in message.get("tools", []) if isinstance(t, str) and t.isidentifier()]
        pid = os.fork()
        if pid == 0:
            status = 70
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _drop_socket(self.ctrl.sock)
                confine.confine_interpreter(uid, self.config, scratch)
                self.state.set_scratch(scratch)
                namespace, context = new_namespace(self.state, tools, self.config)
                interpreter = Interpreter(
                    Channel(socket.socket(fileno=fds[0])),
                    namespace,
                    context,
                    self.state,
                    self.config,
                    family_dir,
                    scratch,
                )
                interpreter.serve(announce=True)
            except BaseException:
                _debug(self.config, traceback.format_exc())
            os._exit(status)
        _close_fd(fds[0])
        return {"op": "spawned", "pid": pid}

    def _family_pids(self, family: int) -> list[int]:
        uid, path = self.families.get(family, (None, None))
        if path is None:
            return []
        found = []
        for pid in _all_pids():
            if pid == os.getpid():
                continue
            if uid is not None and _process_uid(pid) == uid:
                found.append(pid)
            elif _within(path, _process_cwd(pid)):
                found.append(pid)
        return found

    def _release(self, family: int) -> int:
        killed = 0
        for _ in range(3):
            pids = self._family_pids(family)
            if not pids:
                break
            for pid in pids:
                _kill(pid)
                killed += 1
            time.sleep(0.01)
        if family in self.families:
            shutil.rmtree(self.families[family][1], ignore_errors=True)
            del self.families[family]
        return killed

    def _kill_interpreter(self, family: int, pid: int) -> int:
        members = set(self._family_pids(family))
        if pid not in members:
            return 0
        victims = [pid] + [p for p in members if _process_ppid(p) == pid]
        for victim in victims:
            try:
                os.killpg(victim, signal.SIGKILL)
            except OSError:
                pass
            _kill(victim)
        return len(victims)

    def _shutdown(self) -> None:
        if os.getpid() == 1:
            pids = [p for p in _all_pids() if p != 1]
        else:
            pids = [p for family in list(self.families) for p in self._family_pids(family)]
        for pid in pids:
            _kill(pid)
        shutil.rmtree(self.scratch_root, ignore_errors=True)
        os._exit(0)


def _safe_name(name) -> str:
    text = str(name)
    if not text or not all(c.isalnum() or c in "-_" for c in text) or len(text) > 64:
        raise ValueError(f"bad scratch name {text!r}")
    return text


def _close_fd(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _process_uid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _process_ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
        return int(text.rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _process_cwd(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def _within(root: str, path: str) -> bool:
    return bool(path) and (path == root or path.startswith(root.rstrip("/") + "/"))


# ============================================================================ namespace


class StepContext:
    """Per-process bookkeeping the namespace's helper functions reach: the channel to the
    interpreter (for tool calls) and the final answer of the running step."""

    def __init__(self, config: dict):
        self.channel: Channel | None = None
        self.answered = False
        self.answer = None
        self.max_answer_chars = int(config["max_answer_chars"])


def new_namespace(
    state: guard.GuardState, tools: list[str], config: dict
) -> tuple[dict, StepContext]:
    context = StepContext(config)
    namespace: dict = {
        "__name__": guard.SANDBOX_MODULE_NAME,
        "__builtins__": guard.sandbox_builtins(),
    }

    def final_answer(answer=None):
        """End the task with this answer (any JSON-like value; numpy/sympy are converted)."""
        value = to_jsonable(answer)
        text = json.dumps(value, ensure_ascii=False)
        if len(text) > context.max_answer_chars:
            raise guard.OutputLimitExceeded(
                f"final_answer(...) is {len(text):,} characters of JSON, over the "
                f"{context.max_answer_chars:,} limit"
            )
        context.answered = True
        context.answer = value
        raise guard.FinalAnswerSignal()

    namespace["final_answer"] = final_answer
    for name in tools:
        namespace[name] = _tool_stub(name, context)
    return namespace, context


def _tool_stub(name: str, context: StepContext):
    def call(*args, **kwargs):
        channel = context.channel
        if channel is None:
            raise guard.ToolError(f"{name}() is not available here")
        channel.send(
            {
                "op": "tool",
                "name": name,
                "args": to_jsonable(list(args)),
                "kwargs": to_jsonable(kwargs),
            }
        )
        reply, _ = channel.recv()
        if reply.get("op") != "tool_result":
            raise guard.ToolError(f"{name}(): unexpected reply from the sandbox")
        if reply.get("error") is not None:
            raise guard.ToolError(str(reply["error"]))
        return reply.get("output")

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"Call the {name} tool (runs outside the sandbox)."
    return call


# ========================================================================= interpreter


class RunnerHandle:
    def __init__(self, pid: int, channel: Channel, pidfd: int | None):
        self.pid = pid
        self.channel = channel
        self.pidfd = pidfd

    def waitables(self) -> list:
        return [self.channel.sock] + ([self.pidfd] if self.pidfd is not None else [])

    def kill(self) -> tuple[int, object]:
        for kill in (
            lambda: os.killpg(self.pid, signal.SIGKILL),
            lambda: os.kill(self.pid, signal.SIGKILL),
        ):
            try:
                kill()
            except OSError:
                pass
        return self.reap()

    def reap(self) -> tuple[int, object]:
        try:
            _, status, usage = os.wait4(self.pid, 0)
        except ChildProcessError:
            status, usage = 0, None
        self.close()
        return status, usage

    def close(self) -> None:
        self.channel.close()
        if self.pidfd is not None:
            _close_fd(self.pidfd)
            self.pidfd = None

    def drop_in_child(self) -> None:
        """In a forked copy of the interpreter: forget this runner without touching it."""
        _drop_socket(self.channel.sock)
        if self.pidfd is not None:
            _close_fd(self.pidfd)


class Interpreter:
    def __init__(self, channel, namespace, context, state, config, family_dir, scratch):
        self.channel: Channel = channel
        self.namespace = namespace
        self.context: StepContext = context
        self.state: guard.GuardState = state
        self.config = config
        self.family_dir = family_dir
        self.scratch = scratch
        self.standby: RunnerHandle | None = None
        self.copies: set[int] = set()

    # ---------------------------------------------------------------- main loop

    def serve(self, announce: bool) -> None:
        if announce:
            self.channel.send({"op": "ready", "pid": os.getpid()})
        try:
            self.standby = self._new_runner()
        except OSError as exc:  # e.g. the process limit: report, and keep serving
            _debug(self.config, f"cannot fork a step process: {exc}")
            self.standby = None
        while True:
            self._reap_copies()
            try:
                message, fds = self.channel.recv()
            except (EOFError, ProtocolError, OSError):
                self._shutdown()
            self._dispatch(message, fds)

    def _dispatch(self, message: dict, fds: list[int]) -> None:
        op = message.get("op")
        if op == "run":
            for fd in fds:
                _close_fd(fd)
            self._run(message)
        elif op == "fork":
            self._fork(message, fds)
        elif op == "close":
            self._shutdown()
        else:
            for fd in fds:
                _close_fd(fd)
            self.channel.send({"op": "error", "error": f"unknown op {op!r}"})

    def _shutdown(self) -> None:
        if self.standby is not None:
            self.standby.kill()
        shutil.rmtree(self.scratch, ignore_errors=True)
        os._exit(0)

    # ------------------------------------------------------------ step processes

    def _new_runner(self) -> RunnerHandle:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        interpreter_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                _drop_socket(ours)
                _drop_socket(self.channel.sock)
                os.setpgid(0, 0)
                confine.set_parent_death_signal(signal.SIGKILL)
                if os.getppid() != interpreter_pid:
                    os._exit(0)
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # too-large writes fail, not kill
                StepProcess(Channel(theirs), self).serve()
            except BaseException:
                _debug(self.config, traceback.format_exc())
            os._exit(0)
        _drop_socket(theirs)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        return RunnerHandle(pid, Channel(ours), pidfd)

    def _run(self, message: dict) -> None:
        started = time.monotonic()
        runner = self.standby
        self.standby = None
        if runner is None:
            try:
                runner = self._new_runner()
            except OSError as exc:
                self.channel.send(_error_result("sandbox_error", f"cannot start the step: {exc}"))
                return
        wall = float(message.get("wall_time_s") or self.config["wall_time_s"])
        cpu = float(message.get("cpu_time_s") or self.config["cpu_time_s"])
        deadline = started + wall
        result = None
        timed_out = False
        broken = False
        try:
            runner.channel.send(
                {
                    "op": "run",
                    "code": str(message.get("code", "")),
                    "step": int(message.get("step", 0)),
                    "cpu_time_s": cpu,
                }
            )
        except OSError:
            pass
        while result is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            if runner.channel.has_message():
                ready = [runner.channel.sock]
            else:
                ready, _, _ = select.select(
                    runner.waitables() + [self.channel.sock], [], [], remaining
                )
            if self.channel.sock in ready and not runner.channel.has_message():
                self._parent_spoke_during_step(runner)
            if runner.channel.sock in ready or runner.channel.has_message():
                try:
                    reply, fds = runner.channel.recv(timeout=max(0.05, deadline - time.monotonic()))
                except TimeoutError:
                    continue
                except ProtocolError:
                    broken = True
                    break
                except (EOFError, OSError):
                    break
                for fd in fds:
                    _close_fd(fd)
                op = reply.get("op")
                if op == "tool":
                    spent = self._relay_tool(runner, reply)
                    deadline += spent
                elif op == "result":
                    result = reply
                else:
                    broken = True
                    break
            elif runner.pidfd is not None and runner.pidfd in ready:
                break
        if result is not None and result.get("commit") is False:
            runner.kill()
            reply = _clean_result(result, self.config)
            reply["rolled_back"] = True
            self._replace_runner_and_reply(reply, started)
            return
        if result is not None and self._commit(runner, result, started):
            os._exit(0)  # the step process is the interpreter now
        status, usage = runner.kill()
        if broken:
            error = {
                "type": "sandbox_error",
                "message": "the step process sent malformed messages to its interpreter (the code "
                "tampered with the sandbox's channel); its changes were rolled back",
            }
        else:
            error = _classify_death(status, usage, timed_out, wall, cpu, self.config)
        reply = _error_result(error["type"], error["message"], exception=error.get("exception"))
        reply["rolled_back"] = True
        self._replace_runner_and_reply(reply, started)

    def _replace_runner_and_reply(self, reply: dict, started: float) -> None:
        try:
            self.standby = self._new_runner()
        except OSError:
            self.standby = None
        reply["elapsed_ms"] = (time.monotonic() - started) * 1000
        self.channel.send(reply)

    def _parent_spoke_during_step(self, runner: RunnerHandle) -> None:
        try:
            message, fds = self.channel.recv(timeout=1.0)
        except (EOFError, ProtocolError, OSError):
            runner.kill()
            self._shutdown()
        except TimeoutError:
            return
        for fd in fds:
            _close_fd(fd)
        if message.get("op") == "close":
            runner.kill()
            self._shutdown()

    def _relay_tool(self, runner: RunnerHandle, request: dict) -> float:
        started = time.monotonic()
        self.channel.send(
            {
                "op": "tool",
                "name": str(request.get("name", "")),
                "args": request.get("args") if isinstance(request.get("args"), list) else [],
                "kwargs": request.get("kwargs") if isinstance(request.get("kwargs"), dict) else {},
            }
        )
        while True:
            try:
                reply, fds = self.channel.recv()
            except (EOFError, ProtocolError, OSError):
                runner.kill()
                self._shutdown()
            for fd in fds:
                _close_fd(fd)
            if reply.get("op") == "tool_result":
                break
            if reply.get("op") == "close":
                runner.kill()
                self._shutdown()
        try:
            runner.channel.send(
                {"op": "tool_result", "output": reply.get("output"), "error": reply.get("error")}
            )
        except OSError:
            pass
        return time.monotonic() - started

    def _commit(self, runner: RunnerHandle, result: dict, started: float) -> bool:
        """Hand the parent's socket to the step process; True when it took over.

        The result goes to the parent before the step process acknowledges, to keep a
        round trip off the step's latency. The step process is then only waiting to be told,
        so the acknowledgement fails only if it is killed from outside in between; this
        interpreter then keeps serving with the state from before the step."""
        if result.get("commit") is False:
            return False
        try:
            runner.channel.send({"op": "commit"}, fds=[self.channel.fileno()])
        except OSError:
            return False
        reply = _clean_result(result, self.config)
        reply["elapsed_ms"] = (time.monotonic() - started) * 1000
        self.channel.send(reply)
        try:
            ack, _ = runner.channel.recv(timeout=COMMIT_TIMEOUT_S)
        except (OSError, EOFError, TimeoutError, ProtocolError):
            ack = {}
        if ack.get("op") == "committed":
            return True
        _debug(self.config, "the step process did not take over; its state changes are lost")
        runner.kill()
        try:
            self.standby = self._new_runner()
        except OSError:
            self.standby = None
        self.serve_after_failed_commit()
        return True  # never reached

    def serve_after_failed_commit(self) -> None:
        while True:
            try:
                message, fds = self.channel.recv()
            except (EOFError, ProtocolError, OSError):
                self._shutdown()
            self._dispatch(message, fds)

    # ------------------------------------------------------------------- forking

    def _fork(self, message: dict, fds: list[int]) -> None:
        if len(fds) != 1:
            for fd in fds:
                _close_fd(fd)
            self.channel.send({"op": "error", "error": "fork needs exactly one socket"})
            return
        try:
            name = _safe_name(message.get("scratch"))
            pid = os.fork()
        except (OSError, ValueError) as exc:
            _close_fd(fds[0])
            self.channel.send({"op": "error", "error": f"cannot fork the interpreter: {exc}"})
            return
        if pid == 0:
            try:
                self._become_copy(fds[0], name)
            except BaseException:
                _debug(self.config, traceback.format_exc())
            os._exit(70)
        _close_fd(fds[0])
        self.copies.add(pid)
        self.channel.send({"op": "forked"})

    def _reap_copies(self) -> None:
        """Copies forked from this interpreter are its children until it exits: reap the
        ones that ended (never the step process, whose exit status is read on its own)."""
        for pid in list(self.copies):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.copies.discard(pid)

    def _become_copy(self, fd: int, name: str) -> None:
        os.setsid()
        self.copies = set()  # the original's copies are not this process's children
        _drop_socket(self.channel.sock)
        if self.standby is not None:
            self.standby.drop_in_child()
            self.standby = None
        scratch = os.path.join(self.family_dir, name)
        os.mkdir(scratch, 0o700)
        shutil.copytree(self.scratch, scratch, symlinks=True, dirs_exist_ok=True)
        os.chdir(scratch)
        os.environ["HOME"] = os.environ["TMPDIR"] = scratch
        tempfile.tempdir = scratch
        self.scratch = scratch
        self.state.set_scratch(scratch)
        self.channel = Channel(socket.socket(fileno=fd))
        self.serve(announce=True)


# ======================================================================== step process


class StepProcess:
    def __init__(self, channel: Channel, interpreter: Interpreter):
        self.channel = channel
        self.interpreter = interpreter

    def serve(self) -> None:
        _warm_up(self.interpreter.config)
        try:
            message, _ = self.channel.recv()
        except (EOFError, ProtocolError, OSError):
            os._exit(0)
        if message.get("op") != "run":
            os._exit(0)
        result = self.execute(message)
        if _thread_count() > 1:  # threads left behind by the code must not live on
            result = _error_result(
                "forbidden_operation", "the code left threads running; the step was rolled back"
            )
            result["commit"] = False
        self.channel.send(result)
        try:
            verdict, fds = self.channel.recv()
        except (EOFError, ProtocolError, OSError):
            os._exit(0)
        if verdict.get("op") != "commit" or len(fds) != 1:
            os._exit(0)
        parent_socket = socket.socket(fileno=fds[0])
        confine.set_parent_death_signal(0)  # the old interpreter is about to exit
        self.channel.send({"op": "committed"})
        _drop_socket(self.channel.sock)
        interpreter = self.interpreter
        interpreter.copies = set()  # the old interpreter's copies are not our children
        interpreter.context.channel = None
        interpreter.channel = Channel(parent_socket)
        interpreter.standby = None
        interpreter.serve(announce=False)

    def execute(self, message: dict) -> dict:
        config = self.interpreter.config
        context = self.interpreter.context
        state = self.interpreter.state
        code = message.get("code", "")
        filename = f"<step {int(message.get('step', 0))}>"
        compiled = _compile(code, filename)
        if isinstance(compiled, dict):
            return compiled
        body, last = compiled
        output = guard.CapturedOutput(
            int(config["max_output_chars"]), int(config["max_output_total_chars"])
        )
        saved = sys.stdout, sys.stderr
        context.channel = self.channel
        context.answered = False
        context.answer = None
        confine.set_step_cpu_limit(float(message.get("cpu_time_s") or config["cpu_time_s"]))
        error: BaseException | None = None
        value_text = None
        namespace = self.interpreter.namespace
        sys.stdout = sys.stderr = output
        with state.guarded_section():
            try:
                exec(body, namespace)
                if last is not None:
                    value = eval(last, namespace)
                    if value is not None:
                        value_text = _text(value, int(config["max_value_chars"]))
            except guard.FinalAnswerSignal:
                pass
            except BaseException as exc:  # every failure of model code becomes a typed error
                error = exc
        sys.stdout, sys.stderr = saved
        context.channel = None
        result = {
            "op": "result",
            "stdout": output.getvalue(),
            "stdout_dropped": output.dropped,
            "value": value_text,
            "answered": context.answered,
            "answer": context.answer,
            "error": _describe_error(error, code, filename, config) if error is not None else None,
        }
        return result


def _warm_up(config: dict) -> None:
    """Run the step machinery once while idle: this fork's copy-on-write page faults then
    happen before the step arrives, not while the parent waits for it."""
    compiled = _compile("_ = 1\n_", "<warm-up>")
    output = guard.CapturedOutput(
        int(config["max_output_chars"]), int(config["max_output_total_chars"])
    )
    exec(compiled[0], {"__builtins__": {}})
    output.write("warm")
    json.dumps(_error_result("execution_error", "warm-up", exception="X", line=1))
    confine.set_step_cpu_limit(float(config["cpu_time_s"]))


def _compile(code: str, filename: str):
    try:
        tree = ast.parse(code, filename, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        body = compile(tree, filename, "exec")
        last_code = compile(last, filename, "eval") if last is not None else None
        return body, last_code
    except SyntaxError as exc:
        line = exc.lineno
        where = f" (line {line})" if line else ""
        return _error_result(
            "parse_error", f"SyntaxError: {exc.msg}{where}", exception=type(exc).__name__, line=line
        )
    except (ValueError, MemoryError, RecursionError, OverflowError) as exc:
        return _error_result(
            "parse_error", f"{type(exc).__name__}: {exc}", exception=type(exc).__name__
        )


def _describe_error(error: BaseException, code: str, filename: str, config: dict) -> dict:
    line = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    name = type(error).__name__
    detail = _text(error, 2000)
    message = f"{name}: {detail}" if detail else name
    if line is not None:
        lines = code.splitlines()
        if 0 < line <= len(lines):
            message += f" (line {line}: {lines[line - 1].strip()[:200]})"
    if isinstance(error, SystemExit):
        kind = "forbidden_operation"
        message = (
            "exit()/sys.exit() is not allowed in the sandbox: the interpreter keeps running; "
            "call final_answer(...) to finish"
        )
    elif isinstance(error, guard.ForbiddenImport):
        kind = "forbidden_import"
    elif isinstance(error, guard.ForbiddenOperation):
        kind = "forbidden_operation"
    elif isinstance(error, MemoryError):
        kind = "memory_limit"
        message = f"MemoryError: the step went over the memory limit of {config['memory_mb']} MiB"
        if line is not None:
            message += f" (line {line})"
    elif isinstance(error, guard.OutputLimitExceeded):
        kind = "output_limit"
    elif isinstance(error, guard.ToolError):
        kind = "tool_error"
    else:
        kind = "execution_error"
    return {"type": kind, "message": message, "exception": name, "line": line}


def _text(value, limit: int) -> str:
    try:
        text = str(value)
    except BaseException:  # hostile __str__
        try:
            text = object.__repr__(value)
        except BaseException:
            text = "<unprintable>"
    if len(text) > limit:
        text = text[:limit] + f"... [{len(text) - limit:,} more characters]"
    return text


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _error_result(
    kind: str, message: str, exception: str | None = None, line: int | None = None
) -> dict:
    return {
        "op": "result",
        "stdout": "",
        "stdout_dropped": 0,
        "value": None,
        "answered": False,
        "answer": None,
        "error": {"type": kind, "message": message, "exception": exception, "line": line},
    }


def _clean_result(result: dict, config: dict) -> dict:
    """Rebuild a step process's result from known fields only, sizes capped."""
    error = result.get("error")
    if not isinstance(error, dict):
        error = None
    stdout = result.get("stdout")
    value = result.get("value")
    return {
        "op": "result",
        "stdout": stdout[: int(config["max_output_chars"])] if isinstance(stdout, str) else "",
        "stdout_dropped": int(result.get("stdout_dropped") or 0)
        if isinstance(result.get("stdout_dropped"), int)
        else 0,
        "value": value[: int(config["max_value_chars"]) + 100] if isinstance(value, str) else None,
        "answered": result.get("answered") is True,
        "answer": result.get("answer"),
        "error": error,
        "rolled_back": False,
    }


_SIGNAL_NAMES = {
    signal.SIGSEGV: "SIGSEGV",
    signal.SIGBUS: "SIGBUS",
    signal.SIGABRT: "SIGABRT",
    signal.SIGILL: "SIGILL",
    signal.SIGFPE: "SIGFPE",
}


def _classify_death(
    status: int, usage, timed_out: bool, wall: float, cpu: float, config: dict
) -> dict:
    cpu_used = (usage.ru_utime + usage.ru_stime) if usage is not None else 0.0
    if timed_out:
        return {
            "type": "timeout",
            "message": f"the step ran longer than the {wall:g} s wall-time limit and was stopped; "
            "its changes were rolled back",
        }
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        if signum == signal.SIGXCPU or (signum == signal.SIGKILL and cpu_used >= cpu - 0.5):
            return {
                "type": "timeout",
                "message": f"the step used more than the {cpu:g} s CPU-time limit and was stopped; "
                "its changes were rolled back",
            }
        name = _SIGNAL_NAMES.get(signum) or signal.Signals(signum).name
        max_rss_mb = (usage.ru_maxrss / 1024) if usage is not None else 0
        if max_rss_mb >= 0.9 * float(config["memory_mb"]):
            return {
                "type": "memory_limit",
                "message": f"the step ran out of memory ({config['memory_mb']} MiB) and its process "
                f"died ({name}); its changes were rolled back",
                "exception": name,
            }
        return {
            "type": "execution_error",
            "message": f"the code crashed the Python process ({name}, for example unbounded "
            "recursion in native code); its changes were rolled back",
            "exception": name,
        }
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    return {
        "type": "forbidden_operation",
        "message": f"the code ended the interpreter process (exit status {code}, e.g. os._exit); "
        "its changes were rolled back",
    }
