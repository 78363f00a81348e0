"""`trajkit push`: publish a dataset to a Hugging Face Hub dataset repo in one atomic commit.

Push builds the repository layout (trajkit.hub.repo_folder) in a temporary folder, compares every
file with the remote one (sha256 of LFS files, git blob sha1 of regular files, as the Hub's
tree listing reports them) and sends one commit holding exactly the changed files plus the
deletion of stale files that push owns (`trajectories/`, `sft/` and trajkit's chart images);
other files of the repository are kept, and README.md is regenerated.
Pushing the same dataset again therefore sends nothing and makes no commit.

The commit itself is huggingface_hub's `HfApi.create_commit` (CommitOperationAdd/Delete: LFS
upload, the commit payload). Its `upload_folder` is not used: with hf_xet installed it may split
a large folder into several commits, and a push must land whole or not at all.

Safety of interrupted pushes: the Hub applies a commit whole or not at all, so a push that
dies anywhere leaves the repository at its previous commit. LFS objects uploaded before the
failure stay in the Hub's storage and are not sent again by the next push (the LFS batch
endpoint reports them present). The commit names its parent, so a concurrent change makes
it fail instead of being silently merged. When the connection drops while committing, push
re-reads the repository: if the commit landed it reports success, otherwise it says that
nothing was published and that running the same command again resumes.

Tokens, endpoints and error messages: see trajkit.hub.client.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from trajkit.errors import ServiceError
from trajkit.hub.client import (
    DEFAULT_BRANCH,
    REPO_TYPE,
    check_branch,
    check_repo_id,
    hub_api,
    hub_errors,
    remote_files,
    resolve_endpoint,
    resolve_token,
)
from trajkit.hub.layout import CARD, is_managed
from trajkit.store import Dataset

Progress = Callable[[str], None]


@dataclass
class PushResult:
    """What a push did: the commit it made (or the head it found up to date) and the files."""

    repo_id: str
    revision: str
    commit: str
    url: str
    created: bool  # the repository was created by this push
    private: bool | None
    uploaded: list[str] = field(default_factory=list)  # files added or changed by the commit
    deleted: list[str] = field(default_factory=list)  # stale files removed by the commit
    unchanged: list[str] = field(default_factory=list)
    rows: int = 0
    configs: list[str] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)
    recovered: bool = False  # the commit's answer was lost, the repository shows it landed

    @property
    def committed(self) -> bool:
        return bool(self.uploaded or self.deleted)


# -------------------------------------------------------------------------- files


@dataclass(frozen=True)
class FileHash:
    size: int
    sha256: str
    git_sha1: str


def file_hash(path: Path) -> FileHash:
    size = path.stat().st_size
    sha256 = hashlib.sha256()
    git = hashlib.sha1(b"blob %d\0" % size)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha256.update(block)
            git.update(block)
    return FileHash(size=size, sha256=sha256.hexdigest(), git_sha1=git.hexdigest())


def same_content(local: FileHash, remote) -> bool:
    if remote is None or remote.size != local.size:
        return False
    if remote.lfs is not None:
        return remote.lfs.sha256 == local.sha256
    return remote.blob_id == local.git_sha1


@dataclass
class Plan:
    upload: list[str]
    delete: list[str]
    unchanged: list[str]


def plan_changes(root: Path, local: list[str], remote: dict[str, object]) -> Plan:
    upload, unchanged = [], []
    for path in local:
        (unchanged if same_content(file_hash(root / path), remote.get(path)) else upload).append(path)
    wanted = set(local)
    delete = sorted(path for path in remote if path not in wanted and is_managed(path))
    return Plan(upload=upload, delete=delete, unchanged=unchanged)


# --------------------------------------------------------------------------- push


def push_dataset(
    source: str | Path | Dataset,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    configs: Iterable[str] | None = None,
    license: str = "other",
    pretty_name: str | None = None,
    message: str | None = None,
    template: str | Path | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    progress: Progress | None = None,
) -> PushResult:
    """Publish a dataset to a Hub dataset repo (created when missing); see the module doc."""
    from trajkit.hub.repo_folder import build_layout, open_valid

    say = progress or (lambda _message: None)
    repo_id = check_repo_id(repo_id)
    branch = check_branch(revision)
    dataset = open_valid(source)  # invalid data fails here, before any network call
    token = resolve_token(token, required=True)
    endpoint = resolve_endpoint(endpoint)
    api = hub_api(endpoint, token)

    def errors(stage: str):
        return hub_errors(stage, repo_id=repo_id, endpoint=endpoint, token=token)

    with errors("check the token"):
        user = api.whoami()
        role = ((user.get("auth") or {}).get("accessToken") or {}).get("role")
        if role == "read":
            raise ServiceError(
                "cannot push: the token is read-only",
                where=f"{endpoint or 'https://huggingface.co'} ({repo_id})",
                fix="use a token with write access (huggingface.co/settings/tokens)",
            )
    if "/" not in repo_id:
        repo_id = f"{user['name']}/{repo_id}"

    created = False
    with errors("create the repository"):
        from huggingface_hub.errors import RepositoryNotFoundError

        try:
            info = api.repo_info(repo_id, repo_type=REPO_TYPE)
        except RepositoryNotFoundError:
            say(f"creating dataset repo {repo_id}")
            api.create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True)
            info = api.repo_info(repo_id, repo_type=REPO_TYPE)
            created = True
    if branch != DEFAULT_BRANCH:
        with errors(f"create branch {branch}"):
            refs = api.list_repo_refs(repo_id, repo_type=REPO_TYPE)
            if branch not in {ref.name for ref in refs.branches}:
                say(f"creating branch {branch}")
                api.create_branch(repo_id, branch=branch, repo_type=REPO_TYPE, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="trajkit-push-") as tmp:
        root = Path(tmp)
        say("building Parquet shards, charts and the dataset card")
        layout = build_layout(
            dataset, root, configs=configs, repo_id=repo_id, license=license, pretty_name=pretty_name, template=template
        )
        local = layout.files()
        with errors("read the repository"):
            head = api.repo_info(repo_id, repo_type=REPO_TYPE, revision=branch).sha
            plan = plan_changes(root, local, remote_files(api, repo_id, head))
        result = PushResult(
            repo_id=repo_id,
            revision=branch,
            commit=head,
            url=_repo_url(api, repo_id, branch),
            created=created,
            private=getattr(info, "private", None),
            unchanged=plan.unchanged,
            rows=len(dataset),
            configs=layout.configs,
            splits=layout.splits,
        )
        if not plan.upload and not plan.delete:
            say("the repository is up to date: nothing to upload")
            return result
        say(f"uploading {len(plan.upload)} file(s), removing {len(plan.delete)} stale file(s)")
        commit_message = message or f"trajkit push: {dataset.name} ({len(dataset)} trajectories)"
        try:
            with errors("commit"):
                commit = _commit(api, repo_id, branch, head, root, plan, commit_message)
        except ServiceError as exc:
            landed = _landed_after_failure(api, repo_id, branch, head, root, local, token=token, endpoint=endpoint)
            if landed is None:
                # Commits are atomic: the repository holds none of this push's changes.
                raise ServiceError(f"{exc.what}; nothing of this push was published", where=exc.where, fix=exc.fix) from None
            commit, result.recovered = landed, True
        result.commit = commit
        result.uploaded, result.deleted = plan.upload, plan.delete
        return result


def _commit(api, repo_id: str, branch: str, head: str, root: Path, plan: Plan, message: str) -> str:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    operations = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=root / path) for path in plan.upload]
    operations += [CommitOperationDelete(path_in_repo=path) for path in plan.delete]
    # The card goes last so a reader never sees a card whose configs point at missing files
    # (the commit is atomic anyway; the order only matters for humans reading the payload).
    operations.sort(key=lambda op: (op.path_in_repo == CARD, op.path_in_repo))
    info = api.create_commit(
        repo_id,
        operations,
        commit_message=message,
        repo_type=REPO_TYPE,
        revision=branch,
        parent_commit=head,
    )
    return info.oid


def _landed_after_failure(api, repo_id, branch, head, root, local, *, token, endpoint) -> str | None:
    """After a failed commit: the new head when the repository holds exactly our files, else None."""
    try:
        with hub_errors("re-read the repository", repo_id=repo_id, endpoint=endpoint, token=token):
            now = api.repo_info(repo_id, repo_type=REPO_TYPE, revision=branch).sha
            if now == head:
                return None
            plan = plan_changes(root, local, remote_files(api, repo_id, now))
    except ServiceError:
        return None
    return now if not plan.upload and not plan.delete else None


def _repo_url(api, repo_id: str, branch: str) -> str:
    base = f"{api.endpoint.rstrip('/')}/datasets/{repo_id}"
    return base if branch == DEFAULT_BRANCH else f"{base}/tree/{branch}"
