"""The interpreter process: one trajectory's namespace, between the parent and its steps.

One per trajectory, plus one per fork. Forked from the template (`trajkit.tools.template`),
it holds the namespace (variables, imports, functions) of one agent trajectory and talks to
the parent over its own socket. It never runs model code itself: it keeps one idle step
process (`trajkit.tools.step_process`) forked in advance, so running a step does not wait
for a fork, and relays the step's tool calls to the parent.

If the step's code finishes (normally, with an exception, or with final_answer), the step
process *becomes* the interpreter: this process hands it the parent's socket and exits, so
the state the code left is kept. If the code runs out of time, crashes the process or exits
it, this process kills the step process (and its process group), reports a typed error and
keeps its own state: the step is rolled back.

`fork` (the parent's `SandboxInterpreter.fork()`) forks this process, so the copy has the
same namespace (copy-on-write) and its own scratch directory (a copy of the original's
files). To adopt one candidate's state after a vote, the parent keeps that copy as the
trajectory's interpreter and closes the others.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import tempfile
import time
import traceback

from trajkit.tools import confine, guard
from trajkit.tools.channel import Channel, ProtocolError, close_fd, drop_socket
from trajkit.tools.namespace import StepContext
from trajkit.tools.step_process import StepProcess
from trajkit.tools.step_results import classify_death, clean_result, error_result

COMMIT_TIMEOUT_S = 10.0


def scratch_name(name) -> str:
    """A scratch directory name from the parent, checked: letters, digits, '-' and '_'."""
    text = str(name)
    if not text or not all(c.isalnum() or c in "-_" for c in text) or len(text) > 64:
        raise ValueError(f"bad scratch name {text!r}")
    return text


def debug_log(config: dict, text: str) -> None:
    """Write to the sandbox's stderr when the pool runs with TRAJKIT_SANDBOX_DEBUG."""
    if config.get("debug"):
        try:
            os.write(2, f"[trajkit sandbox {os.getpid()}] {text}\n".encode())
        except OSError:
            pass


class StepProcessHandle:
    """The interpreter's side of one step process: its pid, channel and pidfd."""

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
            close_fd(self.pidfd)
            self.pidfd = None

    def drop_in_child(self) -> None:
        """In a forked copy of the interpreter: forget this step process without touching it."""
        drop_socket(self.channel.sock)
        if self.pidfd is not None:
            close_fd(self.pidfd)


class InterpreterProcess:
    """Serves one interpreter's socket: runs steps in step processes, forks, closes."""

    def __init__(
        self,
        channel: Channel,
        namespace: dict,
        context: StepContext,
        state: guard.GuardState,
        config: dict,
        family_dir: str,
        scratch: str,
    ):
        self.channel = channel  # to the parent
        self.namespace = namespace
        self.context = context
        self.state = state
        self.config = config
        self.family_dir = family_dir
        self.scratch = scratch
        self.standby: StepProcessHandle | None = None
        self.copies: set[int] = set()

    # ---------------------------------------------------------------- main loop

    def serve(self, announce: bool) -> None:
        if announce:
            self.channel.send({"op": "ready", "pid": os.getpid()})
        try:
            self.standby = self._start_step_process()
        except OSError as exc:  # e.g. the process limit: report, and keep serving
            debug_log(self.config, f"cannot fork a step process: {exc}")
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
                close_fd(fd)
            self._run(message)
        elif op == "fork":
            self._fork(message, fds)
        elif op == "close":
            self._shutdown()
        else:
            for fd in fds:
                close_fd(fd)
            self.channel.send({"op": "error", "error": f"unknown op {op!r}"})

    def _shutdown(self) -> None:
        if self.standby is not None:
            self.standby.kill()
        shutil.rmtree(self.scratch, ignore_errors=True)
        os._exit(0)

    # ------------------------------------------------------------ step processes

    def _start_step_process(self) -> StepProcessHandle:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        interpreter_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                drop_socket(ours)
                drop_socket(self.channel.sock)
                os.setpgid(0, 0)
                confine.set_parent_death_signal(signal.SIGKILL)
                if os.getppid() != interpreter_pid:
                    os._exit(0)
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # too-large writes fail, not kill
                step = StepProcess(
                    Channel(theirs), self.namespace, self.context, self.state, self.config
                )
                self._continue_in_committed_step(step.serve())
            except BaseException:
                debug_log(self.config, traceback.format_exc())
            os._exit(0)
        drop_socket(theirs)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        return StepProcessHandle(pid, Channel(ours), pidfd)

    def _continue_in_committed_step(self, parent_socket: socket.socket) -> None:
        """In a step process whose step was committed: serve the parent as the interpreter."""
        self.copies = set()  # the old interpreter's copies are not our children
        self.context.channel = None
        self.channel = Channel(parent_socket)
        self.standby = None
        self.serve(announce=False)

    def _run(self, message: dict) -> None:
        started = time.monotonic()
        step_process = self.standby
        self.standby = None
        if step_process is None:
            try:
                step_process = self._start_step_process()
            except OSError as exc:
                self.channel.send(error_result("sandbox_error", f"cannot start the step: {exc}"))
                return
        wall = float(message.get("wall_time_s") or self.config["wall_time_s"])
        cpu = float(message.get("cpu_time_s") or self.config["cpu_time_s"])
        deadline = started + wall
        result = None
        timed_out = False
        broken = False
        try:
            step_process.channel.send(
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
            if step_process.channel.has_message():
                ready = [step_process.channel.sock]
            else:
                ready, _, _ = select.select(
                    step_process.waitables() + [self.channel.sock], [], [], remaining
                )
            if self.channel.sock in ready and not step_process.channel.has_message():
                self._parent_spoke_during_step(step_process)
            if step_process.channel.sock in ready or step_process.channel.has_message():
                try:
                    reply, fds = step_process.channel.recv(
                        timeout=max(0.05, deadline - time.monotonic())
                    )
                except TimeoutError:
                    continue
                except ProtocolError:
                    broken = True
                    break
                except (EOFError, OSError):
                    break
                for fd in fds:
                    close_fd(fd)
                op = reply.get("op")
                if op == "tool":
                    spent = self._relay_tool(step_process, reply)
                    deadline += spent
                elif op == "result":
                    result = reply
                else:
                    broken = True
                    break
            elif step_process.pidfd is not None and step_process.pidfd in ready:
                break
        if result is not None and result.get("commit") is False:
            step_process.kill()
            reply = clean_result(result, self.config)
            reply["rolled_back"] = True
            self._replace_step_process_and_reply(reply, started)
            return
        if result is not None and self._commit(step_process, result, started):
            os._exit(0)  # the step process is the interpreter now
        status, usage = step_process.kill()
        if broken:
            error = {
                "type": "sandbox_error",
                "message": "the step process sent malformed messages to its interpreter (the code "
                "tampered with the sandbox's channel); its changes were rolled back",
            }
        else:
            error = classify_death(status, usage, timed_out, wall, cpu, self.config)
        reply = error_result(error["type"], error["message"], exception=error.get("exception"))
        reply["rolled_back"] = True
        self._replace_step_process_and_reply(reply, started)

    def _replace_step_process_and_reply(self, reply: dict, started: float) -> None:
        try:
            self.standby = self._start_step_process()
        except OSError:
            self.standby = None
        reply["elapsed_ms"] = (time.monotonic() - started) * 1000
        self.channel.send(reply)

    def _parent_spoke_during_step(self, step_process: StepProcessHandle) -> None:
        try:
            message, fds = self.channel.recv(timeout=1.0)
        except (EOFError, ProtocolError, OSError):
            step_process.kill()
            self._shutdown()
        except TimeoutError:
            return
        for fd in fds:
            close_fd(fd)
        if message.get("op") == "close":
            step_process.kill()
            self._shutdown()

    def _relay_tool(self, step_process: StepProcessHandle, request: dict) -> float:
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
                step_process.kill()
                self._shutdown()
            for fd in fds:
                close_fd(fd)
            if reply.get("op") == "tool_result":
                break
            if reply.get("op") == "close":
                step_process.kill()
                self._shutdown()
        try:
            step_process.channel.send(
                {"op": "tool_result", "output": reply.get("output"), "error": reply.get("error")}
            )
        except OSError:
            pass
        return time.monotonic() - started

    def _commit(self, step_process: StepProcessHandle, result: dict, started: float) -> bool:
        """Hand the parent's socket to the step process; True when it took over.

        The result goes to the parent before the step process acknowledges, to keep a
        round trip off the step's latency. The step process is then only waiting to be told,
        so the acknowledgement fails only if it is killed from outside in between; this
        interpreter then keeps serving with the state from before the step."""
        if result.get("commit") is False:
            return False
        try:
            step_process.channel.send({"op": "commit"}, fds=[self.channel.fileno()])
        except OSError:
            return False
        reply = clean_result(result, self.config)
        reply["elapsed_ms"] = (time.monotonic() - started) * 1000
        self.channel.send(reply)
        try:
            ack, _ = step_process.channel.recv(timeout=COMMIT_TIMEOUT_S)
        except (OSError, EOFError, TimeoutError, ProtocolError):
            ack = {}
        if ack.get("op") == "committed":
            return True
        debug_log(self.config, "the step process did not take over; its state changes are lost")
        step_process.kill()
        try:
            self.standby = self._start_step_process()
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
                close_fd(fd)
            self.channel.send({"op": "error", "error": "fork needs exactly one socket"})
            return
        try:
            name = scratch_name(message.get("scratch"))
            pid = os.fork()
        except (OSError, ValueError) as exc:
            close_fd(fds[0])
            self.channel.send({"op": "error", "error": f"cannot fork the interpreter: {exc}"})
            return
        if pid == 0:
            try:
                self._become_copy(fds[0], name)
            except BaseException:
                debug_log(self.config, traceback.format_exc())
            os._exit(70)
        close_fd(fds[0])
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
        drop_socket(self.channel.sock)
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
