"""`trajkit pull`: a dataset published with `trajkit push` back into a trajkit dataset directory.

Only the `trajectories` config is read; every downloaded shard is checked as trajkit data of a
readable schema version, and the new dataset is written atomically with `pull` lineage.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from trajkit.errors import DatasetError, InputError, SchemaError
from trajkit.hub.client import (
    DEFAULT_BRANCH,
    REPO_TYPE,
    check_repo_id,
    hub_api,
    hub_errors,
    remote_files,
    resolve_endpoint,
    resolve_token,
)
from trajkit.manifest import Lineage
from trajkit.shards import read_shard
from trajkit.store import Dataset, create_atomic
from trajkit.validate import validate_table

Progress = Callable[[str], None]


@dataclass
class PullResult:
    """What a pull fetched (`commit` is the exact commit read) and the dataset it wrote."""

    repo_id: str
    revision: str
    commit: str
    files: list[str]
    dataset: Dataset


def pull_dataset(
    repo_id: str,
    destination: str | Path,
    *,
    revision: str | None = None,
    overwrite: bool = False,
    endpoint: str | None = None,
    token: str | None = None,
    progress: Progress | None = None,
) -> PullResult:
    """Download the `trajectories` config of a Hub dataset into a new trajkit dataset (atomic)."""
    say = progress or (lambda _message: None)
    repo_id = check_repo_id(repo_id)
    destination = Path(destination)
    if destination.exists() and not overwrite:
        raise DatasetError("output path already exists", where=str(destination), fix="choose a new path or pass --overwrite")
    token = resolve_token(token, required=False)
    endpoint = resolve_endpoint(endpoint)
    api = hub_api(endpoint, token)
    wanted = revision or DEFAULT_BRANCH

    def errors(stage: str):
        return hub_errors(stage, repo_id=repo_id, endpoint=endpoint, token=token)

    with errors("read the repository"):
        commit = api.repo_info(repo_id, repo_type=REPO_TYPE, revision=wanted).sha
        files = sorted(
            path for path in remote_files(api, repo_id, commit) if path.startswith("trajectories/") and path.endswith(".parquet")
        )
    if not files:
        raise InputError(
            "the repository has no `trajectories` config (no trajectories/*.parquet)",
            where=f"{repo_id}@{wanted}",
            fix="pull a repository published with `trajkit push` including the trajectories config",
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{destination.name}.pull-", dir=destination.parent) as tmp:
        tables = []
        for path in files:
            say(f"downloading {path}")
            with errors(f"download {path}"):
                local = api.hf_hub_download(repo_id, path, repo_type=REPO_TYPE, revision=commit, local_dir=tmp)
            tables.append(_read_trajectories(Path(local), where=f"{repo_id}@{commit[:12]}:{path}"))
        import pyarrow as pa

        table = pa.concat_tables(tables)
        params = {"repo_id": repo_id, "revision": wanted, "commit": commit, "files": len(files)}
        if endpoint:
            params["endpoint"] = endpoint
        dataset = create_atomic(
            destination, table, lineage=Lineage(operation="pull", params=params), overwrite=overwrite
        )
    return PullResult(repo_id=repo_id, revision=wanted, commit=commit, files=files, dataset=dataset)


def _read_trajectories(path: Path, *, where: str):
    """One downloaded shard, checked as trajkit data of a readable schema version."""
    try:
        table = read_shard(path)
    except (DatasetError, SchemaError) as exc:
        raise type(exc)(exc.what, where=where, fix=exc.fix) from None
    return validate_table(table, where=where)
