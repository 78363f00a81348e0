"""The Hugging Face Hub as trajkit talks to it: repo ids, branches, tokens, the client, errors.

Tokens come from `huggingface_hub` (the HF_TOKEN environment variable or the credential
store written by `hf auth login`); they are handed to the client and never printed, logged
or written by trajkit. Error messages are scrubbed of the token all the same.

`HF_ENDPOINT` is read when a function runs (not only when huggingface_hub is imported), so a
mirror or a local test server can be chosen per call; `endpoint=` overrides it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from trajkit.errors import InputError, ServiceError, TrajkitError

REPO_TYPE = "dataset"
DEFAULT_BRANCH = "main"
_NAME = r"[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"^(?:{_NAME}/)?{_NAME}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
TOKEN_FIX = "set HF_TOKEN or run `hf auth login` with a token that has write access"


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
    """The branch a push targets (main when none is given); a commit id or odd name is refused."""
    branch = revision or DEFAULT_BRANCH
    if _COMMIT.match(branch) or not re.fullmatch(r"[\w.\-/]+", branch) or ".." in branch or branch.startswith("/"):
        raise InputError(
            f"cannot push to revision {branch!r}",
            where="--revision",
            fix="give a branch name (letters, digits, '-', '_', '.', '/'); a push cannot target a commit",
        )
    return branch


def resolve_token(token: str | None = None, *, required: bool) -> str | None:
    """`token`, else the one huggingface_hub finds (HF_TOKEN, `hf auth login`); InputError if required and none."""
    if token:
        return token
    from huggingface_hub import get_token

    found = get_token()
    if found is None and required:
        raise InputError("no Hugging Face token found", where="HF_TOKEN", fix=TOKEN_FIX)
    return found


def resolve_endpoint(endpoint: str | None = None) -> str | None:
    """`endpoint`, else HF_ENDPOINT read now, else None (huggingface.co)."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or "").rstrip("/") or None


def hub_api(endpoint: str | None, token: str | None):
    """The huggingface_hub client for `endpoint` (None: HF_ENDPOINT or huggingface.co) and `token`."""
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
    """Whether `exc` (or what caused it) is a transport failure rather than an answer from the Hub."""
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


# ------------------------------------------------------------------------ reading


def remote_files(api, repo_id: str, commit: str) -> dict[str, object]:
    """Every file of the dataset repo at `commit`, by path (huggingface_hub RepoFile entries)."""
    from huggingface_hub.hf_api import RepoFile

    return {
        entry.path: entry
        for entry in api.list_repo_tree(repo_id, repo_type=REPO_TYPE, revision=commit, recursive=True)
        if isinstance(entry, RepoFile)
    }
