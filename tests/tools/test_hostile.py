"""Hostile code: every case is contained, reported as a typed error, and the parent and the
pool keep serving. `random._os` (the os module that `random` imports) is the usual way in for
code that may not import os itself."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.tools.conftest import FAKE_SECRETS

REPO = Path(__file__).resolve().parents[2]
MARKER = f"trajkit-hostile-{uuid.uuid4().hex[:8]}"
OS = "import random\nos = random._os\n"
SYS = OS + "sys = os.sys\n"

# (case id, code, accepted error types, text that must not appear in stdout)
CASES = [
    ("infinite-loop", "while True:\n    pass", {"timeout"}),
    ("sleep-forever", "import time\ntime.sleep(10 ** 6)", {"timeout"}),
    ("native-cpu-loop", "x = 10 ** (10 ** 9)", {"timeout", "memory_limit"}),
    ("fork-bomb", OS + "while True:\n    os.fork()", {"forbidden_operation"}),
    ("import-os", "import os\nos.system('id')", {"forbidden_import"}),
    ("huge-allocation", "blob = bytearray(10 ** 11)", {"memory_limit"}),
    ("numpy-huge-array", "import numpy as np\na = np.ones((10 ** 6, 10 ** 6))", {"memory_limit"}),
    (
        "growing-allocation",
        "keep = []\nwhile True:\n    keep.append(bytearray(10 ** 7))",
        {"memory_limit"},
    ),
    ("deep-recursion", "def f(n):\n    return f(n + 1)\nf(0)", {"execution_error"}),
    (
        "recursion-limit-raised",
        SYS + "sys.setrecursionlimit(10 ** 8)\ndef f(n):\n    return f(n + 1) + 1\nf(0)",
        {"execution_error", "memory_limit", "timeout"},
    ),
    ("os-system", OS + f"os.system('touch /tmp/{MARKER}')", {"forbidden_operation"}),
    ("subprocess", SYS + "sys.modules['subprocess'].run(['id'])", {"forbidden_operation"}),
    (
        "posix-spawn",
        OS + "os.posix_spawn('/bin/sh', ['sh', '-c', 'id'], {})",
        {"forbidden_operation"},
    ),
    ("exec-replaces-process", OS + "os.execv('/bin/sh', ['sh'])", {"forbidden_operation"}),
    (
        "raw-fork-exec",
        SYS + "sys.modules['_posixsubprocess'].fork_exec(*([None] * 23))",
        {"forbidden_operation"},
    ),
    (
        "write-outside-scratch",
        f"open({str(REPO / MARKER)!r}, 'w').write('x')",
        {"forbidden_operation"},
    ),
    ("write-tmp", f"open('/tmp/{MARKER}', 'w').write('x')", {"forbidden_operation"}),
    (
        "symlink-escape",
        OS + "os.symlink('/etc/passwd', 'link')\nopen('link').read()",
        {"forbidden_operation"},
    ),
    ("chdir-escape", OS + "os.chdir('/')\nopen('etc/hostname').read()", {"forbidden_operation"}),
    ("read-etc-shadow", "print(open('/etc/shadow').read())", {"forbidden_operation"}),
    ("read-etc-passwd", "print(open('/etc/passwd').read())", {"forbidden_operation"}),
    (
        "read-parent-environ",
        OS + f"print(open('/proc/{os.getpid()}/environ').read())",
        {"forbidden_operation"},
    ),
    ("list-root-home", OS + "print(os.listdir('/root'))", {"forbidden_operation"}),
    (
        "socket",
        SYS + "s = sys.modules['socket'].socket()\ns.connect(('127.0.0.1', 22))",
        {"forbidden_operation"},
    ),
    ("dns", SYS + "sys.modules['socket'].getaddrinfo('pypi.org', 443)", {"forbidden_operation"}),
    (
        "ctypes",
        SYS + "libc = sys.modules['ctypes'].CDLL(None)\nlibc.system(b'id')",
        {"forbidden_operation"},
    ),
    ("dunder-import", "__import__('os').system('id')", {"forbidden_import"}),
    ("import-importlib", "import importlib\nimportlib.import_module('os')", {"forbidden_import"}),
    (
        "importlib-from-sys-modules",
        SYS + "sub = sys.modules['importlib'].import_module('subprocess')\nsub.run(['id'])",
        {"forbidden_operation"},
    ),
    ("exec-string-import", "exec('import os', {})", {"forbidden_import"}),
    (
        "real-builtins-import",
        "import numpy\nnumpy.__dict__['__builtins__']['__import__']('os')",
        {"forbidden_import"},
    ),
    (
        "subclasses-escape",
        "wrap = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]\n"
        "wrap.__init__.__globals__['system']('id')",
        {"forbidden_operation"},
    ),
    (
        "signal-handlers-then-loop",
        SYS + "signal = sys.modules['signal']\n"
        "for s in (signal.SIGTERM, signal.SIGALRM, signal.SIGXCPU, signal.SIGINT):\n"
        "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass",
        {"timeout"},
    ),
    ("kill-parent", OS + f"os.kill({os.getpid()}, 9)", {"forbidden_operation"}),
    ("kill-interpreter", OS + "os.kill(os.getppid(), 9)", {"forbidden_operation"}),
    ("kill-self", OS + "os.kill(os.getpid(), 11)", {"forbidden_operation"}),
    ("print-gigabytes", "while True:\n    print('x' * 10 ** 6)", {"output_limit"}),
    ("print-one-huge-string", "print('y' * (3 * 10 ** 6))", {"output_limit"}),
    ("sys-exit", "import random\nrandom._os.sys.exit(3)", {"forbidden_operation"}),
    ("exit-builtin", "exit()", {"forbidden_operation"}),
    ("os-exit", OS + "os._exit(0)", {"forbidden_operation"}),
    (
        "threads",
        SYS + "sys.modules['threading'].Thread(target=print).start()",
        {"forbidden_operation"},
    ),
    (
        "raise-limits",
        SYS + "r = sys.modules['resource']\nr.setrlimit(r.RLIMIT_AS, (-1, -1))",
        {"forbidden_operation"},
    ),
    ("gc-walk", SYS + "sys.modules['gc'].get_objects()", {"forbidden_operation"}),
    ("input", "input('answer me: ')", {"forbidden_operation"}),
    (
        "channel-garbage",
        OS + "for fd in range(3, 64):\n    try:\n        os.write(fd, b'\\xff' * 64)\n"
        "    except OSError:\n        pass\nwhile True:\n    pass",
        {"sandbox_error"},
    ),
    ("base-exception-escape", "raise KeyboardInterrupt('stop')", {"execution_error"}),
]


@pytest.mark.parametrize(("code", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_code_is_contained(pool, code, expected):
    interp = pool.new_interpreter()
    try:
        interp.run("sentinel = 'alive'")
        result = interp.run(code, timeout=2)
        assert result.error is not None, f"not refused: {result}"
        assert result.error.type in expected, result.error
        assert result.error.message
        for secret in FAKE_SECRETS.values():
            assert secret not in result.stdout
        # the same interpreter keeps serving, with its earlier state
        assert interp.run("sentinel").value == "alive"
    finally:
        interp.close()
    # and the pool keeps serving other trajectories
    other = pool.new_interpreter()
    assert other.run("6 * 7").value == "42"
    other.close()
    assert not (REPO / MARKER).exists()
    assert not Path(f"/tmp/{MARKER}").exists()


def test_the_suite_is_large_enough():
    assert len(CASES) >= 25


def test_closing_stdout_does_not_break_the_interpreter(interp):
    result = interp.run(SYS + "sys.stdout.close()\nsys.stderr.close()\nprint('still here')")
    assert result.ok and result.stdout == "still here\n"
    assert interp.run("print('next step')").stdout == "next step\n"


def test_secrets_are_invisible(interp, secrets_in_parent):
    assert os.environ["OPENAI_API_KEY"] == secrets_in_parent["OPENAI_API_KEY"]  # parent has them
    result = interp.run(OS + "print(dict(os.environ))")
    assert result.ok
    for name, secret in secrets_in_parent.items():
        assert name not in result.stdout
        assert secret not in result.stdout
    assert "HOME" in result.stdout


def test_fork_bomb_after_caught_errors_keeps_pool_healthy(pool):
    victims = [pool.new_interpreter() for _ in range(3)]
    for victim in victims:
        result = victim.run(
            OS
            + "n = 0\nfor _ in range(100):\n    try:\n        os.fork()\n    except Exception:\n        n += 1\nn"
        )
        assert result.value == "100"  # every fork refused, and the refusal is catchable
    for victim in victims:
        victim.close()
    assert pool.new_interpreter().run("1").value == "1"
