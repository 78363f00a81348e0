"""The template process: the sandbox's first process, which confines itself and then forks.

The parent (`trajkit.tools.sandbox.SandboxPool`) starts one per pool, under `unshare` where
it can (see `trajkit.tools.launch`), by running `main` with the number of its control
socket. The template confines itself (`trajkit.tools.confine`), imports numpy, sympy and the
other allowed modules once, installs the Python guards (`trajkit.tools.guard`) and then only
serves requests from the parent:

- `spawn`: fork a new interpreter process (`trajkit.tools.interpreter_process`) with its own
  scratch directory, so a new interpreter costs a fork (~2 ms), not an interpreter start-up
  plus numpy/sympy imports (~1 s);
- `kill` / `release`: kill one interpreter, or every process of an interpreter family (an
  interpreter and its forks, found by uid or working directory in /proc) and remove its
  scratch directory.

In a private PID namespace it is PID 1: when it exits, every sandbox process is killed by
the kernel.
"""

from __future__ import annotations

import gc
import importlib
import os
import shutil
import signal
import socket
import sys
import time
import traceback

from trajkit.tools import confine, guard, procfs
from trajkit.tools.channel import Channel, ProtocolError, close_fd, drop_socket
from trajkit.tools.interpreter_process import InterpreterProcess, debug_log, scratch_name
from trajkit.tools.namespace import new_namespace


def main(argv: list[str]) -> None:
    """Entry point of the template process: argv[0] is the control socket's descriptor."""
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


class Template:
    """Serves the parent's control socket: spawns, kills and releases interpreter families."""

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
                    close_fd(fd)
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
            close_fd(fd)
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
                and not procfs.in_user_namespace()
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
        name = scratch_name(message["scratch"])
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
                drop_socket(self.ctrl.sock)
                confine.confine_interpreter(uid, self.config, scratch)
                self.state.set_scratch(scratch)
                namespace, context = new_namespace(self.state, tools, self.config)
                interpreter = InterpreterProcess(
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
                debug_log(self.config, traceback.format_exc())
            os._exit(status)
        close_fd(fds[0])
        return {"op": "spawned", "pid": pid}

    def _family_pids(self, family: int) -> list[int]:
        uid, path = self.families.get(family, (None, None))
        if path is None:
            return []
        found = []
        for pid in procfs.all_pids():
            if pid == os.getpid():
                continue
            if uid is not None and procfs.process_uid(pid) == uid:
                found.append(pid)
            elif _within(path, procfs.process_cwd(pid)):
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
        victims = [pid] + [p for p in members if procfs.process_ppid(p) == pid]
        for victim in victims:
            try:
                os.killpg(victim, signal.SIGKILL)
            except OSError:
                pass
            _kill(victim)
        return len(victims)

    def _shutdown(self) -> None:
        if os.getpid() == 1:
            pids = [p for p in procfs.all_pids() if p != 1]
        else:
            pids = [p for family in list(self.families) for p in self._family_pids(family)]
        for pid in pids:
            _kill(pid)
        shutil.rmtree(self.scratch_root, ignore_errors=True)
        os._exit(0)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _within(root: str, path: str) -> bool:
    return bool(path) and (path == root or path.startswith(root.rstrip("/") + "/"))
