"""Publishing to the Hugging Face Hub: `trajkit push` and `trajkit pull`.

Push builds the repository layout (trajkit.hub.build) in a temporary folder, compares every
file with the remote one (sha256 of LFS files, git blob sha1 of regular files, as the Hub's
tree listing reports them) and sends one commit holding exactly the changed files plus the
deletion of stale files that push owns (`trajectories/`, `sft/` and trajkit's chart images);
other files of the repository are kept, and README.md is regenerated.
Pushing the same dataset again therefore sends nothing and makes no commit.

Safety of interrupted pushes: the Hub applies a commit whole or not at all, so a push that
dies anywhere leaves the repository at its previous commit. LFS objects uploaded before the
failure stay in the Hub's storage and are not sent again by the next push (the LFS batch
endpoint reports them present). The commit names its parent, so a concurrent change makes
it fail instead of being silently merged. When the connection drops while committing, push
re-reads the repository: if the commit landed it reports success, otherwise it says that
nothing was published and that running the same command again resumes.

Tokens come from `huggingface_hub` (the HF_TOKEN environment variable or the credential
store written by `hf auth login`); they are handed to the client and never printed, logged
or written by trajkit. Error messages are scrubbed of the token all the same.

`HF_ENDPOINT` is read when a function runs (not only when huggingface_hub is imported), so a
mirror or a local test server can be chosen per call; `endpoint=` overrides it.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from trajkit.errors import InputError, ServiceError, TrajkitError
from trajkit.hub.layout import CARD, is_managed
from trajkit.store import Dataset

REPO_TYPE = "dataset"
DEFAULT_BRANCH = "main"
_NAME = r"[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"^(?:{_NAME}/)?{_NAME}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
TOKEN_FIX = "set HF_TOKEN or run `hf auth login` with a token that has write access"

Progress = Callable[[str], None]


@dataclass
class PushResult:
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


@dataclass
class PullResult:
    repo_id: str
    revision: str
    commit: str
    files: list[str]
    dataset: Dataset


# ------------------------------------------------------------------------- inputs


def check_repo_id(repo_id: str) -> str:
    """A repo id as the Hub accepts it: NAME or NAMESPACE/NAME."""
    text = (repo_id or "").strip()
    problem = None
    if not _REPO_ID.match(text):
        problem = "use letters, digits, '-', '_' and '.', as NAMESPACE/NAME (each part at most 96 characters)"
    elif "--" in text or ".." in text or text.endswith(".git"):
        problem = "'--', '..' and a '.git' ending are not allowed"
    if problem:
        raise InputError(f"invalid Hub repo id {repo_id!r}: {problem}", where="REPO_ID", fix="e.g. alice/my-trajectories")
    return text


def check_branch(revision: str | None) -> str:
    branch = revision or DEFAULT_BRANCH
    if _COMMIT.match(branch) or not re.fullmatch(r"[\w.\-/]+", branch) or ".." in branch or branch.startswith("/"):
        raise InputError(
            f"cannot push to revision {branch!r}",
            where="--revision",
            fix="give a branch name (letters, digits, '-', '_', '.', '/'); a push cannot target a commit",
        )
    return branch


def resolve_token(token: str | None = None, *, required: bool) -> str | None:
    if token:
        return token
    from huggingface_hub import get_token

    found = get_token()
    if found is None and required:
        raise InputError("no Hugging Face token found", where="HF_TOKEN", fix=TOKEN_FIX)
    return found


def resolve_endpoint(endpoint: str | None = None) -> str | None:
    return (endpoint or os.environ.get("HF_ENDPOINT") or "").rstrip("/") or None


def _api(endpoint: str | None, token: str | None):
    from trajkit.errors import require

    require("huggingface_hub", "hub", "publishing to the Hugging Face Hub")
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint, token=token, library_name="trajkit")


# ------------------------------------------------------------------------- errors


def _transport_errors() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError"), ("requests", "ConnectionError")):
        try:
            found.append(getattr(__import__(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def is_connection_error(exc: BaseException) -> bool:
    from huggingface_hub.errors import HfHubHTTPError

    transport = _transport_errors()
    for item in _chain(exc):
        if isinstance(item, HfHubHTTPError):
            return False
        if isinstance(item, transport) or isinstance(item, (ConnectionError, TimeoutError)):
            return True
    return False


@contextmanager
def hub_errors(stage: str, *, repo_id: str, endpoint: str | None, token: str | None) -> Iterator[None]:
    """Turn huggingface_hub and transport failures into ServiceError/InputError, token scrubbed."""
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalTokenNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{endpoint or 'https://huggingface.co'} ({repo_id})"

    def scrub(text: str) -> str:
        return text.replace(token, "***") if token else text

    try:
        yield
    except TrajkitError:
        raise
    except OfflineModeIsEnabled:
        raise ServiceError(f"cannot {stage}: HF_HUB_OFFLINE is set", where=where, fix="unset HF_HUB_OFFLINE") from None
    except LocalTokenNotFoundError:
        raise InputError("no Hugging Face token found", where="HF_TOKEN", fix=TOKEN_FIX) from None
    except Exception as exc:
        http = next((e for e in _chain(exc) if isinstance(e, HfHubHTTPError)), None)
        if http is not None and http.response is not None:
            status = http.response.status_code
            server_says = scrub(http.server_message or http.response.headers.get("X-Error-Message") or "")
            detail = f" ({server_says.strip()})" if server_says.strip() else ""
            if isinstance(http, RevisionNotFoundError):
                raise InputError(f"cannot {stage}: no such revision{detail}", where=where, fix="check --revision") from None
            if status == 401 and not isinstance(http, RepositoryNotFoundError):
                raise ServiceError(f"cannot {stage}: the Hub rejected the token (401){detail}", where=where, fix=TOKEN_FIX) from None
            if status == 403:
                raise ServiceError(
                    f"cannot {stage}: the token has no write access here (403){detail}",
                    where=where,
                    fix="use a token with write permission for this namespace (huggingface.co/settings/tokens)",
                ) from None
            if isinstance(http, RepositoryNotFoundError) or status == 404:
                raise ServiceError(
                    f"cannot {stage}: repository or file not found ({status}){detail}",
                    where=where,
                    fix="check the repo id; a private repo needs a token of its owner",
                ) from None
            if status == 412:
                raise ServiceError(
                    f"cannot {stage}: the repository changed during the push (412)",
                    where=where,
                    fix="run the same command again",
                ) from None
            raise ServiceError(
                f"cannot {stage}: the Hub answered {status}{detail}", where=where, fix="try again later; push resumes"
            ) from None
        if is_connection_error(exc):
            raise ServiceError(
                f"cannot {stage}: connection to the Hub failed ({scrub(_short(exc))})",
                where=where,
                fix="check the network and HF_ENDPOINT, then run the same command again "
                "(it resumes: files already uploaded are not sent twice)",
            ) from None
        raise ServiceError(f"cannot {stage}: {scrub(_short(exc))}", where=where, fix="run the same command again") from None


def _short(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


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


def remote_files(api, repo_id: str, commit: str) -> dict[str, object]:
    from huggingface_hub.hf_api import RepoFile

    return {
        entry.path: entry
        for entry in api.list_repo_tree(repo_id, repo_type=REPO_TYPE, revision=commit, recursive=True)
        if isinstance(entry, RepoFile)
    }


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
    from trajkit.hub.build import build_layout, open_valid

    say = progress or (lambda _message: None)
    repo_id = check_repo_id(repo_id)
    branch = check_branch(revision)
    dataset = open_valid(source)  # invalid data fails here, before any network call
    token = resolve_token(token, required=True)
    endpoint = resolve_endpoint(endpoint)
    api = _api(endpoint, token)

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


# --------------------------------------------------------------------------- pull


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
    from trajkit.errors import DatasetError
    from trajkit.manifest import Lineage
    from trajkit.store import create_atomic

    say = progress or (lambda _message: None)
    repo_id = check_repo_id(repo_id)
    destination = Path(destination)
    if destination.exists() and not overwrite:
        raise DatasetError("output path already exists", where=str(destination), fix="choose a new path or pass --overwrite")
    token = resolve_token(token, required=False)
    endpoint = resolve_endpoint(endpoint)
    api = _api(endpoint, token)
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
    from trajkit.errors import DatasetError, SchemaError
    from trajkit.shards import read_shard
    from trajkit.validate import validate_table

    try:
        table = read_shard(path)
    except (DatasetError, SchemaError) as exc:
        raise type(exc)(exc.what, where=where, fix=exc.fix) from None
    return validate_table(table, where=where)
