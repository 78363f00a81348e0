"""Connecting to an Argilla 2.x server with the official SDK, with errors a user can act on.

Where the server is, in order: --api-url/--api-key (or ARGILLA_API_URL / ARGILLA_API_KEY), else
the local server that `trajkit review serve` is running for the home folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from trajkit.errors import ConfigError, ServiceError, require

DEFAULT_WORKSPACE = "argilla"


@dataclass(frozen=True)
class Target:
    api_url: str
    api_key: str
    local: bool = False


def resolve_target(api_url: str | None = None, api_key: str | None = None, home: Path | str | None = None) -> Target:
    api_url = api_url or os.environ.get("ARGILLA_API_URL")
    api_key = api_key or os.environ.get("ARGILLA_API_KEY")
    if api_url and api_key:
        return Target(api_url.rstrip("/"), api_key)
    from trajkit.curate.server import default_home, running_server

    local = running_server(Path(home) if home else None)
    if local is not None and (not api_url or api_url.rstrip("/") == local.url):
        return Target(local.url, api_key or local.api_key, local=True)
    if api_url and not api_key:
        raise ConfigError(
            f"no API key for {api_url}",
            fix="pass --api-key or set ARGILLA_API_KEY (Argilla UI: My settings → API key)",
        )
    raise ServiceError(
        "no Argilla server to talk to: no --api-url given and no local server is running",
        where=str(Path(home) if home else default_home()),
        fix="start one with `trajkit review serve` (in another terminal), or pass --api-url and --api-key",
    )


def connect(target: Target):
    """An `argilla.Argilla` client, after checking the server answers and accepts the key."""
    import httpx

    rg = require("argilla", "argilla", "review in Argilla")
    from argilla._exceptions import ArgillaCredentialsError, ArgillaError

    try:
        return rg.Argilla(api_url=target.api_url, api_key=target.api_key, timeout=120, retries=2)
    except ArgillaCredentialsError:
        raise ServiceError(
            "the Argilla server refused the API key",
            where=target.api_url,
            fix="check --api-key / ARGILLA_API_KEY (the key `trajkit review serve` printed, or My settings → API key in the UI)",
        ) from None
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise ServiceError(
            f"cannot reach the Argilla server ({exc})",
            where=target.api_url,
            fix="start it with `trajkit review serve`, or check --api-url",
        ) from None
    except (httpx.HTTPError, ArgillaError) as exc:
        raise ServiceError(
            f"the server did not answer like Argilla 2.x ({type(exc).__name__}: {str(exc)[:200]})",
            where=target.api_url,
            fix="check --api-url points at an Argilla 2.x server",
        ) from None


def find_dataset(client, name: str, workspace: str | None):
    """The remote dataset, or None."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK warns when a dataset is not found
        return client.datasets(name=name, workspace=workspace) if workspace else client.datasets(name=name)


def ensure_workspace(client, name: str):
    import warnings

    rg = require("argilla", "argilla", "review in Argilla")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workspace = client.workspaces(name=name)
    if workspace is None:
        workspace = rg.Workspace(name=name, client=client).create()
    return workspace


def api_error(exc: Exception, where: str, doing: str) -> ServiceError:
    """A ServiceError for an SDK/HTTP failure during `doing`."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ServiceError(f"Argilla failed while {doing}: {text[:300]}", where=where)
