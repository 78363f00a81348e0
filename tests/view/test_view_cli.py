"""`trajkit view` as a user runs it: writes the folder, serves it, fails in one line."""

import re
import signal
import subprocess
import sys
import time

import httpx

from tests.factories import make_trajectory
from tests.view.conftest import make_dataset, newer_schema_dataset


def test_view_writes_the_page_and_says_where(tmp_path, cli, teacher_student):
    teacher, student = teacher_student
    result = cli("view", str(teacher), str(student), "--out", str(tmp_path / "v"))
    assert result.returncode == 0, result.stderr
    assert "trajectories: 11" in result.stdout and "tasks: 7" in result.stdout
    assert f"open {(tmp_path / 'v' / 'index.html').as_uri()}" in result.stdout
    assert (tmp_path / "v" / "data" / "index.js").is_file()


def test_view_default_folder_and_problem_lines(tmp_path, cli):
    good = make_dataset(tmp_path / "good", [make_trajectory(0)])
    newer = newer_schema_dataset(tmp_path / "newer")
    result = cli("view", str(good), str(newer), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "trajkit-view" / "index.html").is_file()
    assert "schema v2" in result.stderr and "newer" in result.stderr


def test_view_errors_are_one_line(tmp_path, cli):
    result = cli("view", str(tmp_path / "nope"), "--out", str(tmp_path / "v"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no such dataset" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "v").exists()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    good = make_dataset(tmp_path / "good", [make_trajectory(0)])
    result = cli("view", str(good), "--out", str(tmp_path / "busy"))
    assert result.returncode == 2 and "not a trajkit view" in result.stderr


def test_view_serve_on_localhost(tmp_path):
    good = make_dataset(tmp_path / "good", [make_trajectory(0)])
    process = subprocess.Popen(
        [sys.executable, "-m", "trajkit", "view", str(good), "--serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = None
        deadline = time.time() + 120
        while time.time() < deadline and url is None:
            line = process.stdout.readline()
            if not line:
                break
            found = re.search(r"serving (http://127\.0\.0\.1:\d+/index\.html)", line)
            url = found.group(1) if found else None
        assert url, process.stderr.read()
        page = httpx.get(url, timeout=30)
        assert page.status_code == 200 and "viewer.js" in page.text
        data = httpx.get(url.replace("index.html", "data/index.js"), timeout=30)
        assert data.text.startswith('trajkitData("index"')
        process.send_signal(signal.SIGTERM)  # (SIGINT is ignored by processes a script starts with &)
        assert process.wait(timeout=30) == 0
        assert "stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
