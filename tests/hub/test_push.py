"""`trajkit push` / `trajkit pull` against a local Hub server, with the real huggingface_hub client."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.factories import make_trajectory
from tests.hub.conftest import USER, sorted_rows
from trajkit.errors import DatasetError, InputError, SchemaError, ServiceError
from trajkit.hub.pull import pull_dataset
from trajkit.hub.push import push_dataset
from trajkit.hub.repo_folder import export_dataset

pytestmark = pytest.mark.server

REPO = f"{USER}/agent-runs"


def files_at_head(hub, repo_id=REPO, branch="main"):
    repo = hub.repo(repo_id)
    head = repo.commits[repo.branches[branch]]
    return {path: repo.read(path, branch) for path in head.files}


def test_push_then_pull_round_trips_rows_exactly(hub, dataset, tmp_path):
    result = push_dataset(dataset, REPO)
    assert result.created and result.committed
    assert result.repo_id == REPO and result.revision == "main"
    assert result.splits == {"train": 14, "test": 4}
    repo = hub.repo(REPO)
    assert len(repo.history()) == 2  # the repo's initial commit + one commit with everything
    assert result.commit == repo.branches["main"]

    # the pushed files are exactly what `trajkit export` writes
    export_dataset(dataset, tmp_path / "export", repo_id=REPO)
    remote = files_at_head(hub)
    local = {p.relative_to(tmp_path / "export").as_posix(): p.read_bytes() for p in (tmp_path / "export").rglob("*") if p.is_file()}
    assert {k: v for k, v in remote.items() if k != ".gitattributes"} == local
    assert sorted(result.uploaded) == sorted(local)
    # Parquet and PNG went through LFS, the card as a regular file
    head = repo.commits[repo.branches["main"]]
    assert head.files["trajectories/train-00000-of-00001.parquet"].lfs_oid is not None
    assert head.files["README.md"].lfs_oid is None
    assert hub.count("lfs_upload", "PUT") == 6

    pulled = pull_dataset(REPO, tmp_path / "pulled")
    assert pulled.commit == result.commit
    assert len(pulled.dataset) == len(dataset)
    original, copy = sorted_rows(dataset.to_arrow()), sorted_rows(pulled.dataset.to_arrow())
    assert copy.equals(original)
    assert copy.to_pylist() == original.to_pylist()
    lineage = pulled.dataset.manifest.lineage[-1]
    assert lineage.operation == "pull"
    assert lineage.params["repo_id"] == REPO and lineage.params["commit"] == result.commit
    assert hub.state.unhandled == []


def test_pushing_the_same_dataset_again_uploads_nothing(hub, dataset):
    first = push_dataset(dataset, REPO)
    hub.reset_log()
    again = push_dataset(dataset, REPO)
    assert not again.committed and again.commit == first.commit
    assert len(again.unchanged) == 7
    assert hub.count("commit") == 0
    assert hub.count("lfs_batch") == 0 and hub.count("lfs_upload") == 0 and hub.count("preupload") == 0
    assert len(hub.repo(REPO).history()) == 2


def test_changed_dataset_uploads_changed_files_and_removes_stale_shards_in_one_commit(hub, dataset, make_dataset):
    push_dataset(dataset, REPO)
    before = files_at_head(hub)
    # a new version: only the train split, with one more trajectory
    rows = [t for t in dataset.trajectories() if t.task.split == "train"] + [make_trajectory(500)]
    smaller = make_dataset(rows)
    hub.reset_log()
    result = push_dataset(smaller, REPO)
    assert sorted(result.deleted) == [
        "sft/test-00000-of-00001.parquet",
        "trajectories/test-00000-of-00001.parquet",
    ]
    assert "trajectories/train-00000-of-00001.parquet" in result.uploaded
    assert hub.count("commit") == 1
    after = files_at_head(hub)
    assert not any("/test-" in path for path in after)
    assert after["trajectories/train-00000-of-00001.parquet"] != before["trajectories/train-00000-of-00001.parquet"]
    card = after["README.md"].decode()
    assert "path: trajectories/test-*.parquet" not in card
    assert len(hub.repo(REPO).history()) == 3


def test_files_push_does_not_own_are_kept(hub, dataset, monkeypatch):
    from huggingface_hub import CommitOperationAdd, HfApi

    from trajkit.hub import charts

    push_dataset(dataset, REPO)
    HfApi().create_commit(
        REPO,
        [CommitOperationAdd("LICENSE", b"my license\n"), CommitOperationAdd("assets/logo.png", b"\x89PNG logo")],
        commit_message="add license and logo",
        repo_type="dataset",
    )
    monkeypatch.setattr(charts, "matplotlib_available", lambda: False)
    result = push_dataset(dataset, REPO, configs=["trajectories"])
    assert sorted(result.deleted) == [
        "assets/accuracy_by_domain.png",
        "assets/steps_histogram.png",
        "sft/test-00000-of-00001.parquet",
        "sft/train-00000-of-00001.parquet",
    ]
    after = files_at_head(hub)
    assert after["LICENSE"] == b"my license\n" and after["assets/logo.png"] == b"\x89PNG logo"


def test_push_to_a_branch(hub, dataset):
    push_dataset(dataset, REPO)
    main_head = hub.repo(REPO).branches["main"]
    result = push_dataset(dataset, REPO, revision="v2", configs=["sft"])
    repo = hub.repo(REPO)
    assert repo.branches["main"] == main_head
    assert repo.branches["v2"] == result.commit
    assert result.url.endswith(f"/datasets/{REPO}/tree/v2")
    assert not any(p.startswith("trajectories/") for p in files_at_head(hub, branch="v2"))
    pulled_main = files_at_head(hub, branch="main")
    assert "trajectories/train-00000-of-00001.parquet" in pulled_main


def test_repo_name_without_namespace_goes_to_the_token_owner(hub, dataset):
    result = push_dataset(dataset, "agent-runs")
    assert result.repo_id == REPO
    assert REPO in hub.state.repos


def test_private_repo(hub, dataset, tmp_path, tokens, monkeypatch):
    push_dataset(dataset, REPO, private=True)
    assert hub.repo(REPO).private
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(ServiceError, match="not found"):
        pull_dataset(REPO, tmp_path / "anonymous")
    assert not (tmp_path / "anonymous").exists()
    pulled = pull_dataset(REPO, tmp_path / "owner", token=tokens["write"])
    assert len(pulled.dataset) == len(dataset)


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "repo_id",
    ["", "alice/", "/name", "a/b/c", "alice/bad name", "alice/-dash", "alice/ends.git", "alice/two--dashes", "alice/x..y", "a" * 97],
)
def test_invalid_repo_ids_fail_before_any_request(hub, dataset, repo_id, tmp_path):
    with pytest.raises(InputError, match="invalid Hub repo id"):
        push_dataset(dataset, repo_id)
    with pytest.raises(InputError, match="invalid Hub repo id"):
        pull_dataset(repo_id, tmp_path / "pulled")
    assert hub.state.requests == []


def test_push_to_a_commit_is_refused(hub, dataset):
    with pytest.raises(InputError, match="cannot push to revision"):
        push_dataset(dataset, REPO, revision="a" * 40)
    assert hub.state.requests == []


def test_missing_token(hub, dataset, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(InputError, match="no Hugging Face token found") as info:
        push_dataset(dataset, REPO)
    assert "HF_TOKEN" in str(info.value) and "hf auth login" in str(info.value)
    assert hub.state.requests == []


def test_unknown_token_is_rejected(hub, dataset):
    with pytest.raises(ServiceError, match="rejected the token \\(401\\)"):
        push_dataset(dataset, REPO, token="hf_" + "0" * 34)
    assert hub.state.repos == {}


def test_read_only_token_is_refused_before_uploading(hub, dataset, tokens):
    with pytest.raises(ServiceError, match="read-only"):
        push_dataset(dataset, REPO, token=tokens["read"])
    assert hub.state.repos == {}
    assert hub.count("create_repo") == 0


def test_token_without_write_access_to_the_namespace(hub, dataset, tokens):
    push_dataset(dataset, REPO)  # alice's repo
    head = hub.repo(REPO).branches["main"]
    other = make_trajectory(900)
    with pytest.raises(ServiceError, match="no write access here \\(403\\)"):
        push_dataset(dataset.path, REPO, token=tokens["bob"], message=f"bob {other.trajectory_id}", configs=["sft"])
    assert hub.repo(REPO).branches["main"] == head
    with pytest.raises(ServiceError, match="403"):
        push_dataset(dataset, "carol/new-repo", token=tokens["bob"])
    assert "carol/new-repo" not in hub.state.repos


def test_invalid_dataset_is_not_published(hub, dataset):
    shard = dataset.shard_paths()[0]
    table = pq.read_table(shard)
    ids = table.column("trajectory_id").to_pylist()
    ids[0] = ""
    pq.write_table(table.set_column(1, "trajectory_id", pa.array(ids, pa.string())), shard)
    with pytest.raises(SchemaError, match="trajectory_id"):
        push_dataset(dataset.path, REPO)
    assert hub.state.requests == []


def test_unreachable_hub(hub, dataset, tmp_path):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.raises(ServiceError, match="connection to the Hub failed") as info:
        push_dataset(dataset, REPO, endpoint=endpoint)
    assert endpoint in str(info.value) and "run the same command again" in str(info.value)
    with pytest.raises(ServiceError, match="connection to the Hub failed"):
        pull_dataset(REPO, tmp_path / "pulled", endpoint=endpoint)
    assert not (tmp_path / "pulled").exists()


def test_empty_dataset_is_not_published(hub, tmp_path):
    from trajkit.store import Dataset

    Dataset.create(tmp_path / "empty")
    with pytest.raises(DatasetError, match="empty"):
        push_dataset(tmp_path / "empty", REPO)
    assert hub.state.requests == []


def test_connection_dropped_during_commit_publishes_nothing_and_a_retry_completes(hub, dataset):
    push_dataset(dataset, REPO, configs=["trajectories"])
    before = files_at_head(hub)
    head = hub.repo(REPO).branches["main"]
    hub.fail_next("commit", "drop")
    with pytest.raises(ServiceError, match="nothing of this push was published") as info:
        push_dataset(dataset, REPO)
    assert "run the same command again" in str(info.value)
    assert hub.repo(REPO).branches["main"] == head
    assert files_at_head(hub) == before
    uploaded_before_retry = hub.count("lfs_upload")
    assert uploaded_before_retry > 0  # the sft shards and charts reached LFS storage before the drop

    result = push_dataset(dataset, REPO)
    assert hub.count("lfs_upload") == uploaded_before_retry  # nothing is uploaded twice
    repo = hub.repo(REPO)
    assert repo.branches["main"] == result.commit
    assert repo.commits[result.commit].parent == head  # one commit holds all the changes
    assert {"sft/train-00000-of-00001.parquet", "sft/test-00000-of-00001.parquet"} <= set(files_at_head(hub))


def test_commit_whose_answer_is_lost_is_recognised(hub, dataset):
    hub.fail_next("commit", "drop_after")
    result = push_dataset(dataset, REPO)
    assert result.recovered and result.committed
    assert hub.repo(REPO).branches["main"] == result.commit
    assert push_dataset(dataset, REPO).committed is False


def test_server_error_during_upload_then_retry(hub, dataset):
    hub.fail_next("lfs_batch", 403)
    with pytest.raises(ServiceError, match="403"):
        push_dataset(dataset, REPO)
    assert len(hub.repo(REPO).history()) == 1  # created, nothing committed
    result = push_dataset(dataset, REPO)
    assert result.committed and len(hub.repo(REPO).history()) == 2


def test_dropped_lfs_upload_is_survived(hub, dataset):
    hub.fail_next("lfs_upload", "drop")
    try:
        result = push_dataset(dataset, REPO)
    except ServiceError as exc:  # the client gave up: nothing was published, a retry completes
        assert "nothing of this push was published" in str(exc)
        result = push_dataset(dataset, REPO)
    assert result.committed
    digest = hashlib.sha256(files_at_head(hub)["trajectories/train-00000-of-00001.parquet"]).hexdigest()
    assert hub.repo(REPO).commits[result.commit].files["trajectories/train-00000-of-00001.parquet"].lfs_oid == digest


def test_concurrent_change_makes_the_commit_fail_cleanly(hub, dataset, monkeypatch):
    from huggingface_hub import CommitOperationAdd, HfApi

    from trajkit.hub import push as push_module

    push_dataset(dataset, REPO, configs=["trajectories"])
    original = push_module._commit

    def racing_commit(api, repo_id, branch, head, root, plan, message):
        HfApi().create_commit(REPO, [CommitOperationAdd("NOTES.md", b"meanwhile\n")], commit_message="x", repo_type="dataset")
        return original(api, repo_id, branch, head, root, plan, message)

    monkeypatch.setattr(push_module, "_commit", racing_commit)
    with pytest.raises(ServiceError, match="changed during the push"):
        push_dataset(dataset, REPO)
    monkeypatch.setattr(push_module, "_commit", original)
    assert push_dataset(dataset, REPO).committed


def test_pull_errors(hub, dataset, tmp_path):
    with pytest.raises(ServiceError, match="not found"):
        pull_dataset(f"{USER}/missing", tmp_path / "a")
    push_dataset(dataset, REPO, configs=["sft"])
    with pytest.raises(InputError, match="no `trajectories` config"):
        pull_dataset(REPO, tmp_path / "b")
    with pytest.raises(InputError, match="no such revision"):
        pull_dataset(REPO, tmp_path / "c", revision="nope")
    existing = tmp_path / "exists"
    existing.mkdir()
    with pytest.raises(DatasetError, match="already exists"):
        pull_dataset(REPO, existing)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_pull_refuses_foreign_parquet(hub, tmp_path):
    import io

    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi()
    api.create_repo("alice/foreign", repo_type="dataset")
    buffer = io.BytesIO()
    pq.write_table(pa.table({"text": ["hello"]}), buffer)
    api.create_commit(
        "alice/foreign",
        [CommitOperationAdd("trajectories/train-00000-of-00001.parquet", buffer.getvalue())],
        commit_message="foreign data",
        repo_type="dataset",
    )
    with pytest.raises(SchemaError, match="without trajkit schema metadata") as info:
        pull_dataset("alice/foreign", tmp_path / "pulled")
    assert "alice/foreign@" in str(info.value)
    assert not (tmp_path / "pulled").exists()


def test_pull_a_revision(hub, dataset, make_dataset, tmp_path):
    first = push_dataset(dataset, REPO)
    push_dataset(make_dataset([make_trajectory(700)]), REPO)
    old = pull_dataset(REPO, tmp_path / "old", revision=first.commit)
    new = pull_dataset(REPO, tmp_path / "new")
    assert len(old.dataset) == 18 and len(new.dataset) == 1
