"""Starting the sandbox's template process (parent side).

`launchers()` lists the ways to start it, strongest first: under `unshare` with new network,
mount and PID namespaces ("namespaces"), with a new network namespace only
("network-namespace"), or as a plain child process ("plain"). `start_template` runs the
template (`trajkit.tools.template.main`) with one of them: a fresh Python (`-E -s`, no
inherited environment, cwd "/") that gets its end of a socket pair, receives its
configuration (the policy plus what this machine needs: the Python roots to keep readable,
the uid range, the process limit) and answers `ready` with what protections are in force.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from trajkit.tools import procfs
from trajkit.tools.channel import Channel, ProtocolError
from trajkit.tools.confine import python_roots
from trajkit.tools.policy import SandboxPolicy
from trajkit.tools.protocol import SandboxError

START_TIMEOUT_S = 90.0
TEMPLATE_MODULE = "trajkit.tools.template"


@dataclass
class StartedTemplate:
    """A running template process, its control channel and its `ready` report."""

    process: subprocess.Popen
    control: Channel
    protections: dict[str, str]
    missing_modules: list[str]


def start_template(
    launcher: str, prefix: list[str], policy: SandboxPolicy, uid_base: int
) -> StartedTemplate:
    """Start the template with one launcher; SandboxError says why it did not start."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    package_root = str(Path(__file__).resolve().parents[2])
    boot = (
        "import sys; sys.dont_write_bytecode = True; "
        f"sys.path.insert(0, {package_root!r}); "
        f"from {TEMPLATE_MODULE} import main; main(sys.argv[1:])"
    )
    debug = bool(os.environ.get("TRAJKIT_SANDBOX_DEBUG"))
    command = [*prefix, sys.executable, "-E", "-s", "-c", boot, str(theirs.fileno())]
    try:
        process = subprocess.Popen(
            command,
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=None if debug else subprocess.DEVNULL,
            env=launch_environment(),
            start_new_session=True,
            cwd="/",
        )
    except OSError as exc:
        ours.close()
        theirs.close()
        raise SandboxError(f"cannot run {command[0]}: {exc}") from None
    theirs.close()
    control = Channel(ours)
    try:
        control.send({"op": "init", "config": template_config(policy, launcher, debug, uid_base)})
        reply, _ = control.recv(timeout=START_TIMEOUT_S)
    except (EOFError, TimeoutError, ProtocolError, OSError) as exc:
        terminate(process)
        control.close()
        raise SandboxError(f"the sandbox process did not start ({type(exc).__name__})") from None
    if reply.get("op") != "ready":
        terminate(process)
        control.close()
        raise SandboxError(str(reply.get("error", reply)))
    return StartedTemplate(
        process=process,
        control=control,
        protections={str(k): str(v) for k, v in (reply.get("protections") or {}).items()},
        missing_modules=list(reply.get("missing_modules") or []),
    )


def template_config(policy: SandboxPolicy, launcher: str, debug: bool, uid_base: int) -> dict:
    """The template's configuration: the policy plus what this machine and launcher need."""
    roots = python_roots()
    config = policy.to_config()
    config.update(
        {
            "private_mounts": launcher == "namespaces",
            "hide_dirs": sorted({"/root", "/home", os.path.expanduser("~")}),
            "needed_roots": roots,
            "read_roots": roots,
            "uid_base": uid_base if os.geteuid() == 0 else None,
            "nproc_limit": policy.max_processes,
            "tmpfs_mb": max(64, 4 * policy.max_file_mb),
            "debug": debug,
        }
    )
    if launcher == "plain" and os.geteuid() != 0:
        # RLIMIT_NPROC counts every process of the user here, not only the sandbox's
        config["nproc_limit"] = procfs.count_user_processes(os.getuid()) + policy.max_processes
    return config


def launchers() -> list[tuple[str, list[str]]]:
    """Ways to start the template, strongest first: (name, command prefix)."""
    unshare = shutil.which("unshare") or next(
        (p for p in ("/usr/bin/unshare", "/bin/unshare") if os.path.exists(p)), None
    )
    if not sys.platform.startswith("linux"):
        return [("plain", [])]
    options = []
    user = [] if os.geteuid() == 0 else ["--map-root-user"]
    if unshare:
        options.append(
            (
                "namespaces",
                [
                    unshare,
                    *user,
                    "--net",
                    "--mount",
                    "--pid",
                    "--fork",
                    "--kill-child",
                    "--mount-proc",
                ],
            )
        )
        options.append(("network-namespace", [unshare, *user, "--net"]))
    options.append(("plain", []))
    return options


def launch_environment() -> dict[str, str]:
    """The template's whole environment."""
    # Nothing from the parent's environment: no API keys, tokens, proxies or paths.
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def terminate(process: subprocess.Popen) -> None:
    """Kill a process and wait for it (at most 5 s)."""
    try:
        process.kill()
        process.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        pass
