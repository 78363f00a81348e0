"""Fixtures for curation tests: a real local Argilla server (session-wide) and small datasets."""

from __future__ import annotations

import httpx
import pytest

from trajkit.store import Dataset


def server_available() -> str | None:
    """Why the local Argilla server cannot start here, or None."""
    import shutil

    from trajkit.curate.server import server_python
    from trajkit.errors import ServiceError

    try:
        server_python()
    except ServiceError as exc:
        return exc.one_line()
    if shutil.which("redis-server") is None:
        return "redis-server is not installed"
    return None


@pytest.fixture(scope="session")
def argilla(tmp_path_factory):
    """A real argilla-server + rq worker + redis on free ports, in a temporary home."""
    reason = server_available()
    if reason:
        pytest.skip(f"local Argilla server unavailable ({reason}); run `make setup-services`")
    from trajkit.curate.server import LocalArgilla

    server = LocalArgilla(home=tmp_path_factory.mktemp("argilla-home"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def owner(argilla):
    """HTTP client authenticated as the server's owner."""
    with httpx.Client(base_url=argilla.info.url, headers={"X-Argilla-Api-Key": argilla.info.api_key}) as client:
        yield client


def make_dataset(path, trajectories, name: str | None = None) -> Dataset:
    dataset = Dataset.create(path, name=name)
    dataset.append(trajectories)
    return dataset


@pytest.fixture(scope="session")
def sdk(argilla):
    """The official SDK, logged in as the owner."""
    import argilla as rg

    return rg.Argilla(api_url=argilla.info.url, api_key=argilla.info.api_key)


def create_annotator(argilla, sdk, username: str, workspace: str = "argilla") -> httpx.Client:
    """Create an annotator in `workspace` with the SDK; return an HTTP client using *their own*
    API key, which they read after logging in with their password (as the UI does)."""
    import argilla as rg

    password = f"{username}-secret-pw"
    user = rg.User(username=username, password=password, role="annotator", client=sdk).create()
    user.add_to_workspace(sdk.workspaces(workspace))
    token = httpx.post(f"{argilla.info.url}/api/v1/token", data={"username": username, "password": password})
    token.raise_for_status()
    me = httpx.get(
        f"{argilla.info.url}/api/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    ).json()
    assert me["role"] == "annotator"
    return httpx.Client(base_url=argilla.info.url, headers={"X-Argilla-Api-Key": me["api_key"]})


def record_ids(sdk, name: str) -> dict[str, str]:
    """trajectory id (external id) -> Argilla record id, read with the SDK."""
    dataset = sdk.datasets(name=name)
    return {str(r.id): str(r._server_id) for r in dataset.records(with_responses=False, with_suggestions=False)}


def respond(client: httpx.Client, record_id: str, status: str, **values) -> None:
    body = {"status": status, "values": {k: {"value": v} for k, v in values.items()} or None}
    response = client.post(f"/api/v1/records/{record_id}/responses", json=body)
    assert response.status_code == 201, response.text
