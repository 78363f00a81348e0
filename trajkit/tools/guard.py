"""Python-level guards inside the sandbox: import allow-list, audit hook, captured stdout.

Runs only in sandbox processes. These guards turn the common unsafe operations of
model-written code (importing `os`, `os.system`, sockets, writing outside the scratch
directory, ...) into *typed* errors the agent loop can record. They are not the security
boundary: CPython code that introspects the interpreter can get around any in-process check.
The boundary is the OS layer set up by `trajkit.tools.confine` (own uid, no capabilities,
empty network namespace, private PID and mount namespaces, rlimits, scrubbed environment).

The audit hook is installed once, in the template process, and is inherited by every fork. It
only enforces while `GuardState.guarded` is set, which the step process does around the
model's code; the sandbox's own bookkeeping (forking, passing sockets) runs unguarded.
"""

from __future__ import annotations

import builtins
import contextlib
import gc
import io
import os
import sys

SANDBOX_MODULE_NAME = "__sandbox__"


# ------------------------------------------------------------------------------ errors
# These are the exception types model-written code sees.


class ForbiddenImport(ImportError):
    """An import outside the sandbox's allow-list."""


class ForbiddenOperation(PermissionError):
    """An operation the sandbox does not allow (processes, network, files outside scratch...)."""


class OutputLimitExceeded(BaseException):
    """The code printed more than the sandbox's output limit (not catchable by `except Exception`)."""


class ToolError(RuntimeError):
    """A tool called from the sandbox (e.g. the search tool) failed."""


class FinalAnswerSignal(BaseException):
    """Raised by final_answer(...) to end the step."""


# ----------------------------------------------------------------------- guard state


class GuardState:
    """What the audit hook enforces, and whether it is enforcing right now."""

    def __init__(self, allowed_imports: tuple[str, ...], read_roots: list[str], enabled: bool):
        self.enabled = enabled
        self.guarded = False
        self.allowed_imports = frozenset(allowed_imports)
        self.read_roots = [os.path.realpath(r) for r in read_roots]
        self.scratch = os.path.realpath(os.getcwd())

    @contextlib.contextmanager
    def guarded_section(self):
        self.guarded = self.enabled
        try:
            yield
        finally:
            self.guarded = False

    @contextlib.contextmanager
    def trusted_section(self):
        """Run sandbox bookkeeping unguarded; no user __del__ may run in between."""
        previous = self.guarded
        was_enabled = gc.isenabled()
        gc.disable()
        self.guarded = False
        try:
            yield
        finally:
            self.guarded = previous
            if was_enabled:
                gc.enable()

    def set_scratch(self, path: str) -> None:
        self.scratch = os.path.realpath(path)


# ------------------------------------------------------------------------- audit hook

_PROCESS_EVENTS = {
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "subprocess.Popen",
    "pty.spawn",
    "os.startfile",
}
_SIGNAL_EVENTS = {"os.kill", "os.killpg", "signal.pthread_kill", "signal.pidfd_send_signal"}
_NETWORK_PREFIXES = (
    "socket.",
    "urllib.",
    "http.client.",
    "ftplib.",
    "smtplib.",
    "poplib.",
    "imaplib.",
    "nntplib.",
    "telnetlib.",
    "webbrowser.",
    "ssl.",
)
_NATIVE_PREFIXES = ("ctypes.", "_ctypes.", "cffi.")
_OTHER_FORBIDDEN = {
    "resource.setrlimit": "changing resource limits",
    "resource.prlimit": "changing resource limits",
    "_thread.start_new_thread": "starting threads",
    "gc.get_objects": "walking the garbage collector",
    "gc.get_referrers": "walking the garbage collector",
    "gc.get_referents": "walking the garbage collector",
    "sys._current_frames": "inspecting other threads",
    "sqlite3.connect": "opening databases",
    "os.chroot": "changing the root directory",
    "os.mknod": "creating device files",
    "os.mkfifo": "creating pipes",
}
# event -> indexes of path arguments that the code will modify
_WRITE_PATH_EVENTS = {
    "os.remove": (0,),
    "os.rename": (0, 1),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.lchown": (0,),
    "os.chflags": (0,),
    "os.lchflags": (0,),
    "os.lchmod": (0,),
    "os.truncate": (0,),
    "os.utime": (0,),
    "os.link": (0, 1),
    "os.symlink": (1,),
    "os.setxattr": (0,),
    "os.removexattr": (0,),
    "shutil.copyfile": (1,),
    "shutil.copymode": (1,),
    "shutil.copystat": (1,),
    "shutil.copytree": (1,),
    "shutil.rmtree": (0,),
    "shutil.move": (0, 1),
    "shutil.chown": (0,),
    "shutil.make_archive": (0,),
    "shutil.unpack_archive": (1,),
}
_READ_PATH_EVENTS = {"os.listdir": (0,), "os.scandir": (0,), "glob.glob": (0,), "os.chdir": (0,)}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_DEVICE_READS = {"/dev/null", "/dev/urandom", "/dev/random", "/dev/zero"}


def install_audit_hook(state: GuardState) -> None:
    def hook(event: str, args: tuple) -> None:
        if not state.guarded:
            return
        reason = _refusal(state, event, args)
        if reason is not None:
            raise ForbiddenOperation(f"{reason} is not allowed in the sandbox ({event})")

    sys.addaudithook(hook)


def _refusal(state: GuardState, event: str, args: tuple) -> str | None:
    if event == "open":
        return _check_open(state, args)
    if event in _PROCESS_EVENTS:
        return "starting processes"
    if event in _SIGNAL_EVENTS:
        return "sending signals"
    if event.startswith(_NETWORK_PREFIXES):
        return "network access"
    if event.startswith(_NATIVE_PREFIXES):
        return "calling native code (ctypes)"
    if event in _OTHER_FORBIDDEN:
        return _OTHER_FORBIDDEN[event]
    if event in _WRITE_PATH_EVENTS:
        if _uses_dir_fd(event, args):
            return "paths relative to directory descriptors"
        for index in _WRITE_PATH_EVENTS[event]:
            if index >= len(args) or (event == "os.truncate" and isinstance(args[index], int)):
                continue
            if not _inside(state.scratch, args[index]):
                return f"changing {_show(args[index])} (outside the scratch directory)"
        return None
    if event in _READ_PATH_EVENTS:
        for index in _READ_PATH_EVENTS[event]:
            path = args[index] if index < len(args) else None
            if path is None:
                continue
            if event == "os.chdir":
                if not _inside(state.scratch, path):
                    return f"changing directory to {_show(path)}"
            elif not _readable(state, path):
                return f"listing {_show(path)}"
        return None
    return None


def _check_open(state: GuardState, args: tuple) -> str | None:
    path = args[0] if args else None
    mode = args[1] if len(args) > 1 else None
    flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
    if isinstance(path, int):
        return "opening file descriptors"
    if path is None:
        return None
    writing = bool(flags & _WRITE_FLAGS) or (
        isinstance(mode, str) and any(c in mode for c in "wax+")
    )
    if writing:
        if not _inside(state.scratch, path):
            return f"writing {_show(path)} (outside the scratch directory)"
        return None
    if not _readable(state, path):
        return f"reading {_show(path)}"
    return None


def _readable(state: GuardState, path) -> bool:
    real = _real(path)
    if real is None:
        return False
    if real in _DEVICE_READS:
        return True
    return _within(state.scratch, real) or any(_within(root, real) for root in state.read_roots)


def _inside(root: str, path) -> bool:
    real = _real(path)
    return real is not None and _within(root, real)


def _within(root: str, real: str) -> bool:
    return real == root or real.startswith(root.rstrip("/") + "/")


def _real(path) -> str | None:
    try:
        return os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return None


# event -> indexes of dir_fd arguments (a path relative to a directory descriptor escapes the check)
_DIR_FD_ARGS = {
    "os.remove": (1,),
    "os.rmdir": (1,),
    "os.mkdir": (2,),
    "os.rename": (2, 3),
    "os.chmod": (2,),
    "os.chown": (3,),
    "os.link": (2, 3),
    "os.symlink": (2,),
    "os.utime": (3,),
}


def _uses_dir_fd(event: str, args: tuple) -> bool:
    return any(i < len(args) and args[i] is not None for i in _DIR_FD_ARGS.get(event, ()))


def _show(path) -> str:
    try:
        text = os.fsdecode(path)
    except (TypeError, ValueError):
        text = repr(path)
    return repr(text[:200])


# --------------------------------------------------------------------- import guard


def install_import_guard(state: GuardState) -> None:
    """Route every `import` through the allow-list check while guarded.

    Imports made by library modules (sympy importing its own submodules lazily) pass; imports
    made by the model's code (its namespace, exec'd strings, direct __import__ calls) must name
    an allowed top-level module.
    """
    real_import = builtins.__import__
    allowed_text = ", ".join(sorted(state.allowed_imports))

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        # Judge the frame that is importing, not the `globals` argument it passes: library
        # code may call __import__ without globals, and model code may pass forged ones.
        if state.guarded and _from_model_code(sys._getframe(1).f_globals):
            if level:
                raise ForbiddenImport("relative imports are not available in the sandbox")
            top = str(name).partition(".")[0]
            if top not in state.allowed_imports:
                raise ForbiddenImport(
                    f"import of '{name}' is not allowed in the sandbox; allowed modules: "
                    f"{allowed_text}"
                )
        return real_import(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded_import


def _from_model_code(globals_) -> bool:
    if not isinstance(globals_, dict):
        return True
    name = globals_.get("__name__")
    if not isinstance(name, str) or name == SANDBOX_MODULE_NAME:
        return True
    module = sys.modules.get(name)
    return module is None or getattr(module, "__dict__", None) is not globals_


def install_thread_guard(state: GuardState) -> None:
    """Threads have no audit event in CPython 3.11: wrap the functions that start them."""
    import _thread

    real_start = _thread.start_new_thread

    def start_new_thread(function, args, kwargs=None):
        if state.guarded:
            raise ForbiddenOperation("starting threads is not allowed in the sandbox")
        return real_start(function, args, *([] if kwargs is None else [kwargs]))

    _thread.start_new_thread = _thread.start_new = start_new_thread
    threading = sys.modules.get("threading")
    if threading is not None and hasattr(threading, "_start_new_thread"):
        threading._start_new_thread = start_new_thread


# -------------------------------------------------------------------------- builtins


def _exit(*_args):
    raise SystemExit(0)


def _no_input(*_args):
    raise ForbiddenOperation("input() is not available in the sandbox: nobody is there to answer")


def sandbox_builtins() -> dict:
    table = dict(builtins.__dict__)
    for name in ("breakpoint", "help", "copyright", "credits", "license"):
        table.pop(name, None)
    table["exit"] = table["quit"] = _exit
    table["input"] = _no_input
    return table


# ---------------------------------------------------------------------------- stdout


class CapturedOutput(io.TextIOBase):
    """stdout/stderr of a step: keeps the first `keep` characters, counts the rest, and stops
    the step once `limit` characters were printed. Closing it does nothing, so code that closes
    sys.stdout cannot break later steps."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, keep: int, limit: int):
        super().__init__()
        self.keep = keep
        self.limit = limit
        self.parts: list[str] = []
        self.kept = 0
        self.total = 0

    def write(self, text) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        size = len(text)
        self.total += size
        if self.kept < self.keep:
            piece = text[: self.keep - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)
        if self.total > self.limit:
            raise OutputLimitExceeded(
                f"the code printed more than {self.limit:,} characters; the step was stopped"
            )
        return size

    def close(self) -> None:
        pass

    @property
    def closed(self) -> bool:
        return False

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def fileno(self) -> int:
        raise io.UnsupportedOperation("the sandbox's stdout has no file descriptor")

    def getvalue(self) -> str:
        return "".join(self.parts)

    @property
    def dropped(self) -> int:
        return self.total - self.kept
