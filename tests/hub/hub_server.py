"""A local Hugging Face Hub server for tests, driven by the real `huggingface_hub` client.

It implements the endpoints that `HfApi` and the download functions call for dataset repos,
with the payloads read from the installed client's source (hf_api.py, _commit_api.py, lfs.py,
file_download.py):

    GET  /api/whoami-v2                                     token -> user and role
    GET  /api/agent-harnesses                               the client's telemetry registry (empty)
    POST /api/repos/create                                  {name, organization, type, visibility}
    POST /api/validate-yaml                                 README metadata check
    GET  /api/datasets/NS/NAME[/revision/REV]               repo info (sha, siblings)
    POST /api/datasets/NS/NAME/preupload/REV                upload mode (lfs / regular) + remote oid
    POST /api/datasets/NS/NAME/commit/REV                   NDJSON commit: header, file, lfsFile,
                                                            deletedFile, deletedFolder (atomic)
    GET  /api/datasets/NS/NAME/tree/REV[/PATH]              listing (recursive)
    POST /api/datasets/NS/NAME/paths-info/REV               listing of given paths
    POST /api/datasets/NS/NAME/branch/BRANCH                create a branch
    GET  /api/datasets/NS/NAME/refs                         branches
    POST /datasets/NS/NAME.git/info/lfs/objects/batch       LFS batch (basic transfer)
    PUT  /lfs/NS/NAME/OID                                   LFS object upload (checked: size, sha256)
    POST /lfs-verify/NS/NAME                                LFS verify
    HEAD/GET /datasets/NS/NAME/resolve/REV/PATH             file metadata and download

Uploads go through the plain LFS protocol: the client must run with Xet disabled
(`HF_HUB_DISABLE_XET=1`, or `huggingface_hub.constants.HF_HUB_DISABLE_XET = True`), since the
client picks Xet by itself whenever the `hf_xet` package is installed.

Commits are atomic: a commit either applies every operation or none. `fail_next(route, mode)`
injects one fault: "drop" closes the connection after reading the request and before applying
it, "drop_after" applies it and closes the connection without answering, an int answers with
that status. Requests are recorded as (method, route, status) without headers or bodies, so
nothing secret is kept; tokens are only compared.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

LFS_SUFFIXES = (".parquet", ".png", ".arrow", ".bin", ".jpg", ".jpeg", ".gz", ".zst")
LFS_MIN_SIZE = 10 * 1024 * 1024
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


def _now() -> str:
    """The Hub's date format (what huggingface_hub.utils.parse_datetime expects)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(oid: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()


@dataclass
class Blob:
    size: int
    git_oid: str  # git sha1 of the stored content (the pointer file for LFS blobs)
    lfs_oid: str | None = None  # sha256 of the content for LFS blobs
    data: bytes | None = None  # content of regular blobs

    @property
    def pointer_size(self) -> int:
        return len(lfs_pointer(self.lfs_oid or "", self.size))


@dataclass
class Commit:
    oid: str
    parent: str | None
    summary: str
    files: dict[str, Blob]
    at: str


@dataclass
class Repo:
    repo_id: str
    private: bool
    owner: str
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    lfs: dict[str, bytes] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: _now())

    def resolve(self, revision: str) -> Commit | None:
        if revision in self.branches:
            return self.commits[self.branches[revision]]
        if COMMIT_RE.match(revision) and revision in self.commits:
            return self.commits[revision]
        return None

    def history(self, branch: str = "main") -> list[Commit]:
        commits = []
        oid: str | None = self.branches.get(branch)
        while oid is not None:
            commits.append(self.commits[oid])
            oid = self.commits[oid].parent
        return commits

    def read(self, path: str, revision: str = "main") -> bytes:
        commit = self.resolve(revision)
        assert commit is not None, revision
        blob = commit.files[path]
        return self.lfs[blob.lfs_oid] if blob.lfs_oid else blob.data  # type: ignore[return-value]


class HubState:
    def __init__(self, tokens: dict[str, tuple[str, str]]):
        self.tokens = tokens  # token -> (user, role: "write" | "read")
        self.repos: dict[str, Repo] = {}
        self.lock = threading.RLock()
        self.requests: list[tuple[str, str, int]] = []
        self.unhandled: list[tuple[str, str]] = []
        self.faults: dict[str, list[object]] = {}
        self._counter = 0

    def new_commit_oid(self, *parts: str) -> str:
        self._counter += 1
        return hashlib.sha1("\0".join([*parts, str(self._counter)]).encode()).hexdigest()

    def create_repo(self, repo_id: str, owner: str, private: bool) -> Repo:
        repo = Repo(repo_id=repo_id, private=private, owner=owner)
        # Like the Hub, a new repo starts with one commit holding .gitattributes.
        attributes = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n*.png filter=lfs diff=lfs merge=lfs -text\n"
        oid = self.new_commit_oid(repo_id, "initial")
        repo.commits[oid] = Commit(
            oid=oid,
            parent=None,
            summary="initial commit",
            files={".gitattributes": Blob(size=len(attributes), git_oid=git_blob_sha1(attributes), data=attributes)},
            at=_now(),
        )
        repo.branches["main"] = oid
        self.repos[repo_id] = repo
        return repo


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


class _Drop(Exception):
    """Close the connection without an answer."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HubServer

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - keep test output quiet
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.state.lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.state.lock:
            self.server.connections.discard(self.connection)
        super().finish()

    # -------------------------------------------------------------------- plumbing

    def do_GET(self):
        self._handle("GET")

    def do_HEAD(self):
        self._handle("HEAD")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def _handle(self, method: str) -> None:
        state = self.server.state
        split = urlsplit(self.path)
        segments = [unquote(s) for s in split.path.split("/")[1:]]
        self.query = parse_qs(split.query)
        self._body: bytes | None = None
        route = "unknown"
        status = 500
        try:
            route, handler = self._route(method, segments)
            fault = self._take_fault(route)
            if fault == "drop":
                self.body()
                raise _Drop
            if isinstance(fault, int):
                raise HubError(fault, f"injected failure ({fault})")
            if fault == "drop_after":
                self.wfile = io.BytesIO()  # apply the request, lose the answer
            status = handler() or 200
            if fault == "drop_after":
                raise _Drop
        except _Drop:
            status = 0
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        except HubError as exc:
            status = exc.status
            self._send_error(exc)
        finally:
            with state.lock:
                state.requests.append((method, route, status))

    def _take_fault(self, route: str):
        state = self.server.state
        with state.lock:
            queue = state.faults.get(route)
            return queue.pop(0) if queue else None

    def body(self) -> bytes:
        if self._body is not None:
            return self._body
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self._body = b"".join(chunks)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            self._body = self.rfile.read(length) if length else b""
        return self._body

    def json_body(self):
        try:
            return json.loads(self.body() or b"null")
        except ValueError:
            raise HubError(400, "malformed JSON body") from None

    def send_json(self, payload, status: int = 200, headers: dict | None = None) -> int:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return status

    def _send_error(self, exc: HubError) -> None:
        self.body()  # drain the request so the connection stays usable
        data = json.dumps({"error": exc.message}).encode()
        self.send_response(exc.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Error-Message", exc.message)
        if exc.code:
            self.send_header("X-Error-Code", exc.code)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    # ----------------------------------------------------------------------- auth

    def user(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        found = self.server.state.tokens.get(header[len("Bearer "):])
        if found is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return found

    def require_user(self) -> tuple[str, str]:
        user = self.user()
        if user is None:
            raise HubError(401, "You must be authenticated to access this resource")
        return user

    def require_write(self, repo: Repo | None = None, namespace: str | None = None) -> str:
        name, role = self.require_user()
        if role != "write":
            raise HubError(403, "You don't have the rights to write with this token")
        owner = repo.owner if repo is not None else namespace
        if owner is not None and owner != name:
            raise HubError(403, f"You don't have the rights to write to {owner}")
        return name

    def repo(self, namespace: str, name: str, *, write: bool = False) -> Repo:
        repo_id = f"{namespace}/{name}"
        repo = self.server.state.repos.get(repo_id)
        user = self.user()
        if repo is None or (repo.private and (user is None or user[0] != repo.owner)):
            raise HubError(404, "Repository not found", code="RepoNotFound")
        if write:
            self.require_write(repo)
        return repo

    def commit(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {revision}", code="RevisionNotFound")
        return commit

    # ---------------------------------------------------------------------- routes

    def _route(self, method: str, s: list[str]):
        routes = [
            ("GET", ["api", "whoami-v2"], "whoami", self.whoami),
            ("POST", ["api", "repos", "create"], "create_repo", self.create_repo),
            ("POST", ["api", "validate-yaml"], "validate_yaml", self.validate_yaml),
            ("GET", ["api", "agent-harnesses"], "agent_harnesses", self.agent_harnesses),
        ]
        for verb, pattern, name, handler in routes:
            if method == verb and s == pattern:
                return name, handler
        if len(s) >= 4 and s[:2] == ["api", "datasets"]:
            ns, name, rest = s[2], s[3], s[4:]
            if method == "GET" and not rest:
                return "info", lambda: self.info(ns, name, "main")
            if method == "GET" and len(rest) == 2 and rest[0] == "revision":
                return "info", lambda: self.info(ns, name, rest[1])
            if method == "POST" and len(rest) == 2 and rest[0] == "preupload":
                return "preupload", lambda: self.preupload(ns, name, rest[1])
            if method == "POST" and len(rest) == 2 and rest[0] == "commit":
                return "commit", lambda: self.do_commit(ns, name, rest[1])
            if method == "GET" and len(rest) >= 2 and rest[0] == "tree":
                return "tree", lambda: self.tree(ns, name, rest[1], "/".join(rest[2:]))
            if method == "POST" and len(rest) == 2 and rest[0] == "paths-info":
                return "paths_info", lambda: self.paths_info(ns, name, rest[1])
            if method == "POST" and len(rest) == 2 and rest[0] == "branch":
                return "create_branch", lambda: self.create_branch(ns, name, rest[1])
            if method == "GET" and rest == ["refs"]:
                return "refs", lambda: self.refs(ns, name)
        if (
            method == "POST"
            and len(s) == 7
            and s[0] == "datasets"
            and s[2].endswith(".git")
            and s[3:] == ["info", "lfs", "objects", "batch"]
        ):
            return "lfs_batch", lambda: self.lfs_batch(s[1], s[2][: -len(".git")])
        if method == "PUT" and len(s) == 4 and s[0] == "lfs":
            return "lfs_upload", lambda: self.lfs_upload(s[1], s[2], s[3])
        if method == "POST" and len(s) == 3 and s[0] == "lfs-verify":
            return "lfs_verify", lambda: self.lfs_verify(s[1], s[2])
        if method in ("GET", "HEAD") and len(s) >= 6 and s[0] == "datasets" and s[3] == "resolve":
            return "resolve", lambda: self.resolve(s[1], s[2], s[4], "/".join(s[5:]))
        with self.server.state.lock:
            self.server.state.unhandled.append((method, "/".join(s)))
        raise HubError(404, f"no route for {method} /{'/'.join(s)}")

    def whoami(self):
        name, role = self.require_user()
        return self.send_json(
            {
                "type": "user",
                "id": hashlib.sha1(name.encode()).hexdigest()[:24],
                "name": name,
                "fullname": name,
                "email": None,
                "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": role}},
            }
        )

    def agent_harnesses(self):
        # The client's best-effort telemetry registry (utils/_detect_agent.py): nothing to detect.
        return self.send_json({"standardEnvVars": [], "harnesses": {}})

    def create_repo(self):
        payload = self.json_body() or {}
        if payload.get("type", "model") != "dataset":
            raise HubError(400, "this test server only hosts dataset repos")
        user = self.require_user()[0]
        namespace = payload.get("organization") or user
        name = payload.get("name") or ""
        if not re.fullmatch(r"[\w.-]{1,96}", name):
            raise HubError(400, f"invalid repo name {name!r}")
        self.require_write(namespace=namespace)
        state = self.server.state
        repo_id = f"{namespace}/{name}"
        with state.lock:
            if repo_id in state.repos:
                raise HubError(409, "You already created this dataset repo")
            state.create_repo(repo_id, owner=namespace, private=payload.get("visibility") == "private")
        return self.send_json({"url": f"{self.endpoint}/datasets/{repo_id}", "name": repo_id, "id": repo_id})

    def validate_yaml(self):
        import yaml

        payload = self.json_body() or {}
        content = payload.get("content", "")
        match = re.match(r"^---\n(.*?)\n---\n", content, re.DOTALL)
        if match:
            try:
                data = yaml.safe_load(match.group(1))
            except yaml.YAMLError as exc:
                return self.send_json({"errors": [{"message": f"invalid YAML: {exc}"}]}, status=400)
            if not isinstance(data, dict):
                return self.send_json({"errors": [{"message": "metadata must be a mapping"}]}, status=400)
        return self.send_json({"errors": [], "warnings": []})

    def info(self, ns: str, name: str, revision: str):
        repo = self.repo(ns, name)
        commit = self.commit(repo, revision)
        return self.send_json(
            {
                "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
                "id": repo.repo_id,
                "author": repo.owner,
                "sha": commit.oid,
                "private": repo.private,
                "gated": False,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "createdAt": repo.created_at,
                "lastModified": commit.at,
                "siblings": [{"rfilename": path} for path in sorted(commit.files)],
            }
        )

    def preupload(self, ns: str, name: str, revision: str):
        repo = self.repo(ns, name, write=True)
        commit = self.commit(repo, revision)
        payload = self.json_body() or {}
        files = []
        for item in payload.get("files", []):
            path = item["path"]
            sample = base64.b64decode(item.get("sample", ""))
            lfs = path.endswith(LFS_SUFFIXES) or item.get("size", 0) >= LFS_MIN_SIZE or b"\0" in sample
            existing = commit.files.get(path)
            oid = None
            if existing is not None:
                oid = existing.lfs_oid if lfs else existing.git_oid
            files.append({"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
        return self.send_json({"files": files, "commitOid": commit.oid})

    def lfs_batch(self, ns: str, name: str):
        repo = self.repo(ns, name, write=True)
        payload = self.json_body() or {}
        if payload.get("operation") != "upload":
            raise HubError(400, "only uploads are supported")
        objects = []
        for obj in payload.get("objects", []):
            oid, size = obj["oid"], obj["size"]
            entry: dict = {"oid": oid, "size": size}
            if oid not in repo.lfs:
                entry["actions"] = {
                    "upload": {"href": f"{self.endpoint}/lfs/{ns}/{name}/{oid}", "header": {}},
                    "verify": {"href": f"{self.endpoint}/lfs-verify/{ns}/{name}", "header": {}},
                }
            objects.append(entry)
        return self.send_json({"transfer": "basic", "objects": objects}, headers={"Content-Type": "application/vnd.git-lfs+json"})

    def lfs_upload(self, ns: str, name: str, oid: str):
        # Like S3 presigned URLs, the upload URL itself is the credential: no token is sent.
        repo = self.repo_by_id(f"{ns}/{name}")
        data = self.body()
        if hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, "uploaded content does not match its sha256")
        with self.server.state.lock:
            repo.lfs[oid] = data
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.send_header("ETag", f'"{oid}"')
        self.end_headers()
        return 200

    def repo_by_id(self, repo_id: str) -> Repo:
        repo = self.server.state.repos.get(repo_id)
        if repo is None:
            raise HubError(404, "Repository not found", code="RepoNotFound")
        return repo

    def lfs_verify(self, ns: str, name: str):
        repo = self.repo(ns, name, write=True)
        payload = self.json_body() or {}
        data = repo.lfs.get(payload.get("oid", ""))
        if data is None or len(data) != payload.get("size"):
            raise HubError(404, "object not uploaded")
        return self.send_json({"success": True})

    def do_commit(self, ns: str, name: str, revision: str):
        repo = self.repo(ns, name, write=True)
        if "create_pr" in self.query:
            raise HubError(400, "pull requests are not supported by this test server")
        lines = [json.loads(line) for line in self.body().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "the commit payload must start with a header line")
        header = lines[0]["value"]
        state = self.server.state
        with state.lock:
            if revision not in repo.branches:
                raise HubError(404, f"Invalid rev id: {revision}", code="RevisionNotFound")
            head = repo.commits[repo.branches[revision]]
            parent = header.get("parentCommit")
            if parent is not None and parent != head.oid:
                raise HubError(412, "A commit has happened since. Please refresh and try again.")
            files = dict(head.files)
            for line in lines[1:]:
                self._apply(repo, files, line["key"], line["value"])
            oid = state.new_commit_oid(repo.repo_id, head.oid, header.get("summary", ""))
            repo.commits[oid] = Commit(
                oid=oid, parent=head.oid, summary=header.get("summary", ""), files=files, at=_now()
            )
            repo.branches[revision] = oid
        return self.send_json(
            {
                "success": True,
                "commitOid": oid,
                "commitUrl": f"{self.endpoint}/datasets/{repo.repo_id}/commit/{oid}",
                "hookOutput": "",
                "pullRequestUrl": None,
            }
        )

    def _apply(self, repo: Repo, files: dict[str, Blob], key: str, value: dict) -> None:
        path = value["path"]
        if key == "file":
            data = base64.b64decode(value["content"])
            files[path] = Blob(size=len(data), git_oid=git_blob_sha1(data), data=data)
        elif key == "lfsFile":
            oid = value["oid"]
            data = repo.lfs.get(oid)
            if data is None:
                raise HubError(422, f"LFS object {oid} of {path} was never uploaded")
            files[path] = Blob(size=len(data), git_oid=git_blob_sha1(lfs_pointer(oid, len(data))), lfs_oid=oid)
        elif key == "deletedFile":
            if path not in files:
                raise HubError(404, f"A file with this name doesn't exist: {path}", code="EntryNotFound")
            del files[path]
        elif key == "deletedFolder":
            prefix = path.rstrip("/") + "/"
            for existing in [p for p in files if p.startswith(prefix)]:
                del files[existing]
        else:
            raise HubError(400, f"unknown commit operation {key!r}")

    def _entry(self, path: str, blob: Blob) -> dict:
        entry = {"type": "file", "oid": blob.git_oid, "size": blob.size, "path": path}
        if blob.lfs_oid:
            entry["lfs"] = {"oid": blob.lfs_oid, "size": blob.size, "pointerSize": blob.pointer_size}
        return entry

    def _folders(self, files: dict[str, Blob]) -> set[str]:
        folders = set()
        for path in files:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                folders.add("/".join(parts[:i]))
        return folders

    def tree(self, ns: str, name: str, revision: str, path: str):
        repo = self.repo(ns, name)
        commit = self.commit(repo, revision)
        recursive = self.query.get("recursive", ["false"])[0].lower() == "true"
        prefix = path.rstrip("/") + "/" if path else ""
        folders = self._folders(commit.files)
        if path and path not in folders:
            raise HubError(404, f"{path} does not exist", code="EntryNotFound")
        entries = []
        for folder in sorted(folders):
            if folder.startswith(prefix) and (recursive or "/" not in folder[len(prefix):]):
                entries.append({"type": "directory", "oid": hashlib.sha1(folder.encode()).hexdigest(), "size": 0, "path": folder})
        for file_path, blob in sorted(commit.files.items()):
            if file_path.startswith(prefix) and (recursive or "/" not in file_path[len(prefix):]):
                entries.append(self._entry(file_path, blob))
        return self.send_json(entries)

    def paths_info(self, ns: str, name: str, revision: str):
        repo = self.repo(ns, name)
        commit = self.commit(repo, revision)
        form = parse_qs(self.body().decode())
        folders = self._folders(commit.files)
        entries = []
        for path in form.get("paths", []):
            if path in commit.files:
                entries.append(self._entry(path, commit.files[path]))
            elif path in folders:
                entries.append({"type": "directory", "oid": hashlib.sha1(path.encode()).hexdigest(), "size": 0, "path": path})
        return self.send_json(entries)

    def create_branch(self, ns: str, name: str, branch: str):
        repo = self.repo(ns, name, write=True)
        payload = self.json_body() or {}
        with self.server.state.lock:
            if branch in repo.branches:
                raise HubError(409, "Reference already exists")
            start = self.commit(repo, payload.get("startingPoint") or "main")
            repo.branches[branch] = start.oid
        return self.send_json({})

    def refs(self, ns: str, name: str):
        repo = self.repo(ns, name)
        branches = [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": oid} for b, oid in sorted(repo.branches.items())]
        return self.send_json({"branches": branches, "converts": [], "tags": []})

    def resolve(self, ns: str, name: str, revision: str, path: str):
        repo = self.repo(ns, name)
        commit = self.commit(repo, revision)
        blob = commit.files.get(path)
        if blob is None:
            raise HubError(404, "Entry not found", code="EntryNotFound")
        data = repo.lfs[blob.lfs_oid] if blob.lfs_oid else blob.data or b""
        etag = blob.lfs_oid or blob.git_oid
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", f'"{etag}"')
        self.send_header("X-Repo-Commit", commit.oid)
        if blob.lfs_oid:
            self.send_header("X-Linked-Etag", f'"{etag}"')
            self.send_header("X-Linked-Size", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return 200


class HubServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, tokens: dict[str, tuple[str, str]]):
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = HubState(tokens)
        self.connections: set[socket.socket] = set()
        self.endpoint = f"http://127.0.0.1:{self.server_address[1]}"
        self._thread: threading.Thread | None = None

    def start(self) -> HubServer:
        self._thread = threading.Thread(target=self.serve_forever, name="hub-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        with self.state.lock:  # keep-alive connections would otherwise still be served
            for connection in list(self.connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        if self._thread is not None:
            self._thread.join(timeout=10)

    # ------------------------------------------------------------------ test helpers

    def fail_next(self, route: str, mode: object) -> None:
        with self.state.lock:
            self.state.faults.setdefault(route, []).append(mode)

    def count(self, route: str, method: str | None = None) -> int:
        with self.state.lock:
            return sum(1 for m, r, _ in self.state.requests if r == route and (method is None or m == method))

    def reset_log(self) -> None:
        with self.state.lock:
            self.state.requests.clear()

    def repo(self, repo_id: str) -> Repo:
        return self.state.repos[repo_id]


def main() -> None:  # pragma: no cover - manual use: python -m tests.hub.hub_server TOKEN
    import sys

    token = sys.argv[1] if len(sys.argv) > 1 else "hf_local"
    server = HubServer({token: ("local", "write")}).start()
    print(server.endpoint, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
