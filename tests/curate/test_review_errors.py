"""Clear errors for the things a user gets wrong with Argilla: server, key, dataset settings."""

from __future__ import annotations

import pytest

from tests.curate.conftest import make_dataset
from tests.factories import make_trajectories
from trajkit.curate.client import Target, resolve_target
from trajkit.curate.push import push
from trajkit.curate.server import free_port
from trajkit.errors import ConfigError, QueryError, ServiceError


def test_unreachable_server(tmp_path):
    source = make_dataset(tmp_path / "ds", make_trajectories(2))
    with pytest.raises(ServiceError, match="cannot reach the Argilla server") as info:
        push(source.path, Target(f"http://127.0.0.1:{free_port()}", "some-key"), vectors=False)
    assert "trajkit review serve" in info.value.one_line()


def test_no_server_configured(tmp_path, monkeypatch):
    monkeypatch.delenv("ARGILLA_API_URL", raising=False)
    monkeypatch.delenv("ARGILLA_API_KEY", raising=False)
    with pytest.raises(ServiceError, match="no Argilla server to talk to"):
        resolve_target(home=tmp_path)
    with pytest.raises(ConfigError, match="no API key"):
        resolve_target(api_url="http://127.0.0.1:1", home=tmp_path)


def test_bad_where_fails_before_contacting_the_server(tmp_path):
    source = make_dataset(tmp_path / "ds", make_trajectories(2))
    with pytest.raises(QueryError):
        push(source.path, Target("http://127.0.0.1:9", "x"), where="no_such_column = 1")


@pytest.mark.server
def test_wrong_api_key(argilla, tmp_path):
    source = make_dataset(tmp_path / "ds", make_trajectories(2))
    with pytest.raises(ServiceError, match="refused the API key"):
        push(source.path, Target(argilla.info.url, "not-the-key"), vectors=False)


@pytest.mark.server
def test_local_server_is_found_without_options(argilla, monkeypatch):
    monkeypatch.delenv("ARGILLA_API_URL", raising=False)
    monkeypatch.delenv("ARGILLA_API_KEY", raising=False)
    target = resolve_target(home=argilla.home)
    assert (target.api_url, target.api_key, target.local) == (argilla.info.url, argilla.info.api_key, True)


@pytest.mark.server
def test_dataset_with_other_settings_is_refused(argilla, sdk, tmp_path):
    import argilla as rg

    settings = rg.Settings(
        fields=[rg.TextField(name="text", client=sdk)],
        questions=[rg.LabelQuestion(name="label", labels=["a", "b"], client=sdk)],
    )
    rg.Dataset(name="foreign", settings=settings, client=sdk).create()
    source = make_dataset(tmp_path / "ds", make_trajectories(2))
    with pytest.raises(ConfigError, match="not made by `trajkit review push`") as info:
        push(source.path, Target(argilla.info.url, argilla.info.api_key), name="foreign", vectors=False)
    assert "fields" in str(info.value) and "--name" in info.value.one_line()
    assert len(list(sdk.datasets(name="foreign").records(with_responses=False))) == 0


def test_nothing_to_push_is_an_error(tmp_path):
    from trajkit.errors import InputError

    source = make_dataset(tmp_path / "ds", make_trajectories(2))
    with pytest.raises(InputError, match="no trajectories to push match"):
        push(source.path, Target("http://127.0.0.1:9", "x"), where="n_steps > 100")


def test_serve_on_a_busy_port_is_refused(tmp_path):
    import socket

    from tests.curate.conftest import server_available
    from trajkit.curate.server import LocalArgilla

    if reason := server_available():
        pytest.skip(reason)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ServiceError, match=f"port {port} .* already in use"):
            LocalArgilla(home=tmp_path / "home", port=port).start()
    assert not (tmp_path / "home" / "server.json").exists()


@pytest.mark.server
def test_a_second_serve_on_the_same_home_is_refused(argilla):
    from trajkit.curate.server import LocalArgilla

    with pytest.raises(ServiceError, match="already running for this home at http://127.0.0.1"):
        LocalArgilla(home=argilla.home).start()
    # the running one is untouched: its state and its scratch folder (the UI is served from there)
    assert (argilla.home / "server.json").is_file() and (argilla.home / "tmp").is_dir()
