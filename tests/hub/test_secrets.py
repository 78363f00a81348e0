"""The Hub token never lands in a file or a log line: not in the pushed repo, the datasets, the
exported folder, the HF_HOME cache (beyond the credential store's own token file), nor in any
log record or stdout/stderr, on success and on failure."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.hub.conftest import USER
from trajkit.errors import TrajkitError
from trajkit.hub.pull import pull_dataset
from trajkit.hub.push import push_dataset
from trajkit.hub.repo_folder import export_dataset

pytestmark = pytest.mark.server


class Records(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def all_logs():
    """Every log record at DEBUG, including huggingface_hub's (which does not propagate)."""
    from huggingface_hub.utils import logging as hf_logging

    handler = Records()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(exc_text)s"))
    loggers = [logging.getLogger(), logging.getLogger("huggingface_hub"), logging.getLogger("trajkit")]
    levels = [lg.level for lg in loggers]
    hf_level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_debug()
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
        hf_logging.set_verbosity(hf_level)


def files_holding(root: Path, secret: bytes, *, except_paths=()) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and path not in except_paths and secret in path.read_bytes():
            found.append(str(path))
    return found


def server_blobs(hub) -> list[bytes]:
    blobs = []
    for repo in hub.state.repos.values():
        blobs += list(repo.lfs.values())
        for commit in repo.commits.values():
            blobs += [b.data for b in commit.files.values() if b.data is not None]
            blobs.append(commit.summary.encode())
    return blobs


def test_token_is_in_no_file_and_no_log_line(hub, dataset, tmp_path, tokens, all_logs, capfd):
    token = tokens["write"]
    secret = token.encode()
    result = push_dataset(dataset, f"{USER}/runs")
    push_dataset(dataset, f"{USER}/runs")  # the idempotent path too
    pulled = pull_dataset(f"{USER}/runs", tmp_path / "pulled")
    export_dataset(dataset, tmp_path / "export", repo_id=f"{USER}/runs")
    # failure paths: a rejected token and a dropped commit
    with pytest.raises(TrajkitError) as rejected:
        push_dataset(dataset, f"{USER}/other", token="hf_" + "1" * 34)
    assert "hf_" + "1" * 34 not in str(rejected.value)
    hub.fail_next("commit", "drop")
    with pytest.raises(TrajkitError) as dropped:
        push_dataset(dataset, f"{USER}/runs", configs=["sft"])
    assert token not in str(dropped.value)

    assert result.committed and len(pulled.dataset) == len(dataset)
    assert all_logs, "logging was not captured"
    assert [line for line in all_logs if token in line] == []
    out, err = capfd.readouterr()
    assert token not in out and token not in err
    assert [blob for blob in server_blobs(hub) if secret in blob] == []
    # tmp_path holds the dataset, the pulled dataset, the export and HF_HOME
    assert hub.home.is_relative_to(tmp_path)
    assert files_holding(tmp_path, secret) == []


def test_cli_with_the_credential_store_keeps_the_token_out_of_files_and_output(hub, dataset, tmp_path, tokens, monkeypatch):
    token = tokens["write"]
    token_file = hub.home / "token"
    token_file.write_text(token)  # where `hf auth login` stores it
    env = {**hub.env, "HF_DEBUG": "1", "HF_HUB_VERBOSITY": "debug"}
    env.pop("HF_TOKEN")
    monkeypatch.delenv("HF_TOKEN")  # the token comes from the credential store only
    runs = [
        run_cli("push", str(dataset.path), f"{USER}/cli-runs", "--private", env=env),
        run_cli("push", str(dataset.path), f"{USER}/cli-runs", env=env),
        run_cli("pull", f"{USER}/cli-runs", str(tmp_path / "pulled"), env=env),
        run_cli("export", str(dataset.path), str(tmp_path / "export"), env=env),
        run_cli("push", str(dataset.path), "bad repo id", env=env),
    ]
    assert [r.returncode for r in runs] == [0, 0, 0, 0, 2], [r.stderr[-2000:] for r in runs]
    assert "up to date" in runs[1].stdout
    assert hub.repo(f"{USER}/cli-runs").private
    for run in runs:
        assert token not in run.stdout and token not in run.stderr
    assert [blob for blob in server_blobs(hub) if token.encode() in blob] == []
    assert files_holding(tmp_path, token.encode(), except_paths={token_file}) == []
