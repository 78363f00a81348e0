"""Reading /proc: the process table, one process's identity, and this process's namespaces.

The one home of the sandbox's /proc readers, used on both sides: the template process finds
an interpreter family's processes by uid or working directory, the step process counts its
threads, the confinement code reads its own uid map and mount table, and the parent counts
its user's processes for the process limit. Every reader answers a neutral value (None,
"", 1, an empty list) for a process that is gone or unreadable instead of raising.
"""

from __future__ import annotations

import os


def all_pids() -> list[int]:
    """Every process id visible in this PID namespace."""
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def process_uid(pid: int) -> int | None:
    """The real uid of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def process_ppid(pid: int) -> int | None:
    """The parent process id of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
        return int(text.rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def process_cwd(pid: int) -> str:
    """The working directory of a process, or "" when it cannot be read."""
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def thread_count() -> int:
    """Threads of this process (1 when /proc cannot say)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def count_user_processes(uid: int) -> int:
    """Processes owned by `uid` (what RLIMIT_NPROC counts)."""
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def in_user_namespace() -> bool:
    """True when this process runs in a user namespace (its uid map is not the identity)."""
    try:
        with open("/proc/self/uid_map") as handle:
            fields = handle.read().split()
    except OSError:
        return False
    return fields[:3] != ["0", "0", "4294967295"]


def mountpoints() -> list[str]:
    """This process's mount points, in mount order, each once."""
    points = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) > 4:
                points.append(_unescape(fields[4]))
    return list(dict.fromkeys(points))


def _unescape(text: str) -> str:
    """Undo mountinfo's octal escapes (a space is written \\040)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 3 < len(text) and text[i + 1 : i + 4].isdigit():
            out.append(chr(int(text[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
