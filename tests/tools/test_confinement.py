"""The OS layer alone (Python guards off): network, secrets, files, identity, processes.

These tests show that the containment does not rest on the in-process Python guards."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from pathlib import Path

import pytest

from tests.tools.conftest import FAKE_SECRETS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def raw(unguarded_pool):
    interpreter = unguarded_pool.new_interpreter()
    yield interpreter
    interpreter.close()


def _isolated(pool) -> bool:
    return pool.launcher == "namespaces" and pool.isolated


def test_no_network_not_even_to_a_listening_local_server(raw, unguarded_pool):
    if not _isolated(unguarded_pool):
        pytest.skip(
            "no network namespace on this machine: " + unguarded_pool.protections["network"]
        )
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    try:
        result = raw.run(
            "import socket\ntry:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "    print('connected')\n"
            "except OSError as e:\n    print('refused', e.errno)\n"
            "try:\n    socket.getaddrinfo('pypi.org', 443)\n    print('resolved')\n"
            "except OSError:\n    print('no dns')"
        )
        assert result.ok, result.error
        assert "connected" not in result.stdout and "refused" in result.stdout
        assert "no dns" in result.stdout
        assert accepted == []
    finally:
        server.close()


def test_environment_and_parent_process_are_invisible(raw, unguarded_pool, secrets_in_parent):
    if not _isolated(unguarded_pool):
        pytest.skip("no PID namespace on this machine")
    result = raw.run(
        "import os\n"
        "print(sorted(os.environ))\n"
        "print(open('/proc/self/environ', 'rb').read() if os.access('/proc/self/environ', os.R_OK) else b'')\n"
        f"print(os.path.exists('/proc/{os.getpid()}'))\n"
        "print(max(int(p) for p in os.listdir('/proc') if p.isdigit()) < 10000)"
    )
    assert result.ok, result.error
    for name, secret in secrets_in_parent.items():
        assert name not in result.stdout and secret not in result.stdout
    lines = result.stdout.splitlines()
    assert lines[2] == "False"  # the parent's /proc entry does not exist in the sandbox


def test_parent_cannot_be_signalled(raw):
    result = raw.run(
        f"import os\ntry:\n    os.kill({os.getpid()}, 9)\n    print('sent')\nexcept OSError as e:\n    print('failed', type(e).__name__)"
    )
    assert result.ok
    assert "failed" in result.stdout
    assert os.getpid() > 0  # still here


def test_files_outside_scratch_cannot_be_written(raw, unguarded_pool):
    marker = f"trajkit-confine-{uuid.uuid4().hex[:8]}"
    outside = str(REPO / marker)
    result = raw.run(
        f"import os\nfor path in ({outside!r}, '/usr/{marker}', '/etc/{marker}'):\n"
        "    try:\n        open(path, 'w').write('x')\n        print('wrote', path)\n"
        "    except OSError as e:\n        print('refused', type(e).__name__)\n"
        f"open('/tmp/{marker}', 'w').write('private')\n"
        "open('scratch.txt', 'w').write('ok')\nprint(os.getcwd())"
    )
    assert result.ok, result.error
    assert "wrote" not in result.stdout
    assert result.stdout.count("refused") == 3
    assert not (REPO / marker).exists()
    if _isolated(unguarded_pool):
        assert not Path(f"/tmp/{marker}").exists()  # the sandbox's /tmp is its own tmpfs


def test_home_directories_are_hidden(raw, unguarded_pool):
    if unguarded_pool.launcher != "namespaces":
        pytest.skip("no private mount namespace on this machine")
    home = os.path.expanduser("~")
    # a home that is not there at all (e.g. one under the private /tmp) is hidden as well
    result = raw.run(f"import os\nprint(sorted(os.listdir({home!r})) if os.path.isdir({home!r}) else [])")
    assert result.ok, result.error
    visible = eval(result.stdout)  # a list of names
    real = sorted(os.listdir(home))
    assert len(visible) < len(real) or real == []
    for name in visible:  # only bind mounts of the Python installation remain
        assert name.startswith(".") or name in {"python", "venv"}


def test_identity_and_capabilities(raw):
    result = raw.run(
        "import os\nstatus = open('/proc/self/status').read()\n"
        "fields = dict(line.split(':', 1) for line in status.splitlines())\n"
        "print(os.getuid(), fields['CapEff'].strip(), fields['NoNewPrivs'].strip())"
    )
    assert result.ok, result.error
    uid, caps, no_new_privs = result.stdout.split()
    assert int(caps, 16) == 0
    assert no_new_privs == "1"
    if os.geteuid() == 0:
        assert int(uid) != 0


def test_process_count_is_limited_and_cleaned_up(unguarded_pool, policy):
    interp = unguarded_pool.new_interpreter()
    result = interp.run(
        "import os, time\nmade = 0\n"
        "while made < 500:\n"
        "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
        "    if pid == 0:\n        time.sleep(120)\n        os._exit(0)\n"
        "    made += 1\n"
        "print(made, os.getuid())"
    )
    assert result.ok, result.error
    made, uid = map(int, result.stdout.split())
    assert made < policy.max_processes
    interp.close()
    other = unguarded_pool.new_interpreter()  # another family is unaffected
    assert other.run("1 + 1").value == "2"
    other.close()
    if os.geteuid() == 0 and uid != 0:
        import time

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _processes_of(uid):
            time.sleep(0.1)
        assert _processes_of(uid) == []


def _processes_of(uid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    found.append(int(name))
            except OSError:
                pass
    return found


def test_memory_limit_is_enforced_by_the_os(raw):
    result = raw.run("block = bytearray(4 * 1024 ** 3)")
    assert result.error is not None and result.error.type == "memory_limit"
    assert raw.run("1").value == "1"


def test_plain_launch_states_what_is_not_protected(monkeypatch, policy):
    from trajkit.errors import ConfigError
    from trajkit.tools import sandbox

    monkeypatch.setattr(sandbox, "launchers", lambda: [("plain", [])])
    with sandbox.SandboxPool(policy) as plain:
        assert plain.launcher == "plain"
        assert plain.protections["network"].startswith("NOT isolated")
        assert "shared PID namespace" in plain.protections["processes"]
        interp = plain.new_interpreter()
        assert interp.run("import math\nmath.sqrt(16)").value == "4.0"
        assert interp.run("import os").error.type == "forbidden_import"
    with pytest.raises(ConfigError):
        sandbox.SandboxPool(policy.replace(require_isolation=True))


def test_secrets_absent_even_in_the_template_environment(unguarded_pool):
    interp = unguarded_pool.new_interpreter()
    result = interp.run(
        "import os\nprint(os.environ.get('OPENAI_API_KEY'), os.environ.get('HF_TOKEN'))"
    )
    assert result.stdout == "None None\n"
    assert FAKE_SECRETS["OPENAI_API_KEY"] in os.environ.get("OPENAI_API_KEY", "")
    interp.close()


def test_an_installation_under_tmp_stays_importable(tmp_path):
    """/tmp gets a fresh tmpfs inside the sandbox; code living there (a venv or a checkout in
    /tmp, as on CI runners) must be bind-mounted back, read-only."""
    import shutil
    import subprocess
    import sys

    site = tmp_path / "site"
    shutil.copytree(REPO / "trajkit", site / "trajkit", ignore=shutil.ignore_patterns("__pycache__"))
    probe = site / "trajkit" / "__init__.py"
    script = f"""
import sys
sys.path.insert(0, {str(site)!r})
import trajkit
assert trajkit.__file__.startswith({str(site)!r}), trajkit.__file__
from trajkit.tools.policy import SandboxPolicy
from trajkit.tools.sandbox import SandboxPool
with SandboxPool(SandboxPolicy(python_guards=False)) as pool:
    interp = pool.new_interpreter()
    result = interp.run("import numpy\\nprint(len(open({str(probe)!r}).read()))")
    print(pool.launcher, repr(result.stdout), result.error)
    write = interp.run("open({str(probe)!r}, 'a').write('x')")
    print("write:", write.error.type if write.error else "ok")
"""
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    launcher, stdout, error = completed.stdout.splitlines()[0].split(" ", 2)
    original = probe.read_text()
    assert stdout == repr(f"{len(original)}\n") and error == "None", completed.stdout
    if launcher == "namespaces":
        assert "write: ok" not in completed.stdout  # bound back read-only, even without guards
    assert probe.read_text() == original
