"""OS-level confinement of the sandbox processes (Linux). This is the security boundary.

Runs only in sandbox processes: the template ("zygote") process calls `prepare_template`
once, as soon as it starts; each interpreter process calls `confine_interpreter` right after
it is forked from the template.

What is set up, where the OS allows it (the parent launches the template under
`unshare --net --mount --pid --fork --mount-proc`, adding `--map-root-user` when it is not
root; see `trajkit.tools.launch.launchers`):

- network: an empty network namespace (only a loopback device, which is down), so no
  connection can be made, not even to 127.0.0.1;
- processes: a private PID namespace, in which the template is PID 1 - the parent and every
  other host process are invisible and cannot be signalled, and when the template exits the
  kernel kills everything left in the namespace;
- filesystem: a private mount namespace with fresh size-limited tmpfs on /tmp, /var/tmp,
  /dev/shm and /run/lock, home directories (/root, /home, $HOME) hidden under empty tmpfs
  (the Python installation and trajkit, if they live under /tmp or a home, are bind-mounted
  back read-only), and every other mount remounted read-only;
- identity: when the parent is root, each interpreter family (an interpreter and its forks)
  runs as its own unprivileged uid/gid with no supplementary groups; in every mode all
  capabilities are dropped, no_new_privs is set and the process is not dumpable;
- limits (setrlimit): address space, CPU seconds per step, processes per family, open
  files, file size, no core dumps;
- environment: rebuilt from scratch (no API keys, tokens or proxies are inherited).

`protections` in the template's report says which of these are in force; anything that
could not be set up is reported, never silently assumed.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import socket
import sys
import tempfile

from trajkit.tools import procfs

MiB = 1024 * 1024

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SECBIT_NOROOT = 1 << 0
SECBIT_NOROOT_LOCKED = 1 << 1
SECBIT_NO_CAP_AMBIENT_RAISE = 1 << 6
SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED = 1 << 7

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21

_STATVFS_TO_MS = {
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}
_CAPSET_SYSCALL = {"x86_64": 126, "aarch64": 91, "ppc64le": 184, "s390x": 185, "riscv64": 91}
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

WORLD_WRITABLE_DIRS = ("/var/tmp", "/dev/shm", "/run/lock")
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"

_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> None:
    fn = libc().prctl
    fn.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if fn(option, arg2, arg3, arg4, arg5) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}): {os.strerror(err)}")


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
):
    fn = libc().mount
    fn.argtypes = [
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_ulong,
        ctypes.c_char_p,
    ]
    encode = lambda s: None if s is None else os.fsencode(s)  # noqa: E731
    if fn(encode(source), encode(target), encode(fstype), flags, encode(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


# --------------------------------------------------------------------- the template


def prepare_template(config: dict) -> tuple[dict, str]:
    """Set up the template process. Returns (protections report, scratch root)."""
    report: dict[str, str] = {}
    in_userns = procfs.in_user_namespace()
    pid_ns = os.getpid() == 1
    report["processes"] = (
        "private PID namespace: host processes are invisible; everything is killed when the "
        "sandbox closes"
        if pid_ns
        else "shared PID namespace: host processes are visible to sandboxed code"
    )
    if not pid_ns:
        try:
            prctl(PR_SET_CHILD_SUBREAPER, 1)
        except OSError:
            pass
    report["network"] = _network_report()

    scratch_root = None
    if config.get("private_mounts"):
        try:
            hidden, exposed, readonly_failures = _setup_mounts(config)
            scratch_root = "/tmp/trajkit"
            os.mkdir(scratch_root, 0o711)
            text = (
                "private mount namespace: fresh tmpfs on /tmp and the other world-writable "
                f"directories; hidden: {', '.join(hidden) or 'none'}"
            )
            if exposed:
                text += f" (Python bind-mounted back read-only: {', '.join(exposed)})"
            text += "; every other mount read-only"
            if readonly_failures:
                text += f" except {', '.join(readonly_failures)}"
            report["filesystem"] = text
        except OSError as exc:
            report["filesystem"] = f"shared filesystem (private mounts failed: {exc})"
    if scratch_root is None:
        scratch_root = tempfile.mkdtemp(prefix="trajkit-sandbox-")
        os.chmod(scratch_root, 0o711)
        report.setdefault(
            "filesystem",
            "shared filesystem: writes outside scratch are refused by file permissions "
            "(when the uid is separate) and the Python guard only",
        )

    switch_uid = os.geteuid() == 0 and not in_userns and config.get("uid_base") is not None
    if switch_uid:
        report["identity"] = (
            "each interpreter family runs as its own unprivileged uid "
            f"(from {config['uid_base']}), no groups, no capabilities, no_new_privs"
        )
    elif in_userns:
        report["identity"] = (
            "same uid as the parent, mapped inside a user namespace; all capabilities dropped, "
            "no_new_privs"
        )
    else:
        report["identity"] = "same uid as the parent; no_new_privs"
    _scrub_environment(config.get("environment") or {})
    return report, scratch_root


def _network_report() -> str:
    reachable = []
    for address in (("192.0.2.1", 9), ("127.0.0.1", 9)):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.connect(address)  # UDP connect only looks up a route; nothing is sent
            reachable.append(address[0])
        except OSError:
            pass
        finally:
            probe.close()
    try:
        names = [name for _index, name in socket.if_nameindex()]
    except OSError:
        names = []
    if not reachable:
        return f"empty network namespace (interfaces: {', '.join(names) or 'none'}; no routes, not even loopback)"
    return (
        "NOT isolated: no network namespace could be created; only the Python guard refuses "
        f"sockets (routes exist to {', '.join(reachable)})"
    )


def network_isolated(report: dict) -> bool:
    return report.get("network", "").startswith("empty network namespace")


def _setup_mounts(config: dict) -> tuple[list[str], list[str], list[str]]:
    tmpfs_mb = int(config.get("tmpfs_mb", 256))
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    hidden = [
        d
        for d in dict.fromkeys(os.path.realpath(p) for p in config.get("hide_dirs", []))
        if d != "/" and not _within("/tmp", d) and os.path.isdir(d)
    ]
    hidden = [d for d in hidden if not any(_within(o, d) and o != d for o in hidden)]
    covered = ["/tmp", *hidden]
    needed = _outermost(
        os.path.realpath(p) for p in config.get("needed_roots", []) if os.path.exists(p)
    )
    # The Python installation may live under a covered directory (a venv in a home or in
    # /tmp). Handles opened before the tmpfs mounts still reach the original directories,
    # and bind-mounting /proc/self/fd/N puts them back read-only at their old paths.
    exposed = [r for r in needed if any(_within(c, r) for c in covered)]
    handles = [os.open(root, os.O_PATH | os.O_DIRECTORY) for root in exposed]
    try:
        _tmpfs("/tmp", tmpfs_mb, 0o1777)
        for directory in hidden:
            _tmpfs(directory, 4, 0o755)
        for root, handle in zip(exposed, handles, strict=True):
            os.makedirs(root, exist_ok=True)
            _mount(f"/proc/self/fd/{handle}", root, None, MS_BIND | MS_REC)
            _remount_readonly(root)
    finally:
        for handle in handles:
            os.close(handle)

    ours = {*covered, *exposed}
    failures = []
    for mountpoint in procfs.mountpoints():
        if mountpoint in ours or mountpoint.startswith(("/proc", "/sys", "/dev")):
            continue
        inside_exposed = any(_within(root, mountpoint) for root in exposed)
        if not inside_exposed and any(_within(c, mountpoint) for c in covered):
            continue
        try:
            _remount_readonly(mountpoint)
        except OSError:
            failures.append(mountpoint)
    for directory in WORLD_WRITABLE_DIRS:
        if os.path.isdir(directory) and not os.path.islink(directory):
            try:
                _tmpfs(directory, tmpfs_mb, 0o1777)
            except OSError:
                failures.append(directory)
    return hidden, exposed, failures


def _tmpfs(target: str, size_mb: int, mode: int) -> None:
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,mode={mode:o}")


def _remount_readonly(target: str) -> None:
    flags = os.statvfs(target).f_flag
    keep = 0
    for st_flag, ms_flag in _STATVFS_TO_MS.items():
        if flags & st_flag:
            keep |= ms_flag
    _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | keep)


def _within(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _outermost(paths) -> list[str]:
    unique = sorted(set(paths), key=len)
    result: list[str] = []
    for path in unique:
        if not any(_within(r, path) for r in result):
            result.append(path)
    return result


def _scrub_environment(extra: dict) -> None:
    os.environ.clear()
    os.environ.update(
        {
            "PATH": SANDBOX_PATH,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": "/nonexistent",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "NUMEXPR_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    os.environ.update({str(k): str(v) for k, v in extra.items()})


# ------------------------------------------------------------------ the interpreters


def confine_interpreter(uid: int | None, config: dict, scratch: str) -> None:
    """Called in a freshly forked interpreter process, before any model code runs."""
    os.setsid()
    _lock_securebits()
    _drop_bounding_set()
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    _drop_capabilities()
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    prctl(PR_SET_DUMPABLE, 0)
    os.chdir(scratch)
    os.environ["HOME"] = scratch
    os.environ["TMPDIR"] = scratch
    tempfile.tempdir = scratch
    apply_limits(config)


def apply_limits(config: dict) -> None:
    memory = int(config["memory_mb"]) * MiB
    cpu_hard = int(config["cpu_time_s"] * 2 + 5)
    limits = {
        resource.RLIMIT_AS: memory,
        resource.RLIMIT_NOFILE: int(config["max_open_files"]),
        resource.RLIMIT_FSIZE: int(config["max_file_mb"]) * MiB,
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_CPU: cpu_hard,
    }
    nproc = config.get("nproc_limit")
    if nproc:
        limits[resource.RLIMIT_NPROC] = int(nproc)
    for kind, value in limits.items():
        _, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))


def set_step_cpu_limit(seconds: float) -> None:
    """Soft CPU limit for the step about to run (SIGXCPU ends it)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(used + seconds) + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _lock_securebits() -> None:
    try:
        prctl(
            PR_SET_SECUREBITS,
            SECBIT_NOROOT
            | SECBIT_NOROOT_LOCKED
            | SECBIT_NO_CAP_AMBIENT_RAISE
            | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
        )
    except OSError:
        pass  # needs CAP_SETPCAP; without it there are no capabilities to keep anyway


def _drop_bounding_set() -> None:
    for cap in range(64):
        try:
            prctl(PR_CAPBSET_DROP, cap)
        except OSError:
            break


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _drop_capabilities() -> None:
    number = _CAPSET_SYSCALL.get(platform.machine())
    if number is None:
        return
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc().syscall(number, ctypes.byref(header), ctypes.byref(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capset: {os.strerror(err)}")


def set_parent_death_signal(signum: int) -> None:
    prctl(PR_SET_PDEATHSIG, signum)


def python_roots() -> list[str]:
    """Directories the sandboxed interpreter must be able to read (stdlib, site-packages)."""
    import sysconfig

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            roots.add(sysconfig.get_paths()[key])
        except KeyError:
            pass
    for entry in sys.path:
        if (
            entry
            and os.path.isdir(entry)
            and ("site-packages" in entry or "dist-packages" in entry)
        ):
            roots.add(entry)
    import trajkit

    roots.add(os.path.dirname(os.path.abspath(trajkit.__file__)))
    roots.add(os.path.dirname(os.path.realpath(sys.executable)))
    return sorted(os.path.realpath(r) for r in roots if r)
