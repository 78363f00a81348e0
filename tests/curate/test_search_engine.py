"""trajkit's SQLite search engine inside the real Argilla server: the searches the UI and SDK make."""

from __future__ import annotations

import pytest

from tests.curate.conftest import create_annotator, make_dataset, record_ids, respond
from tests.factories import make_trajectories
from trajkit.curate.client import Target
from trajkit.curate.push import push

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def pushed(argilla, sdk, tmp_path_factory):
    trajectories = make_trajectories(12, seed=7)
    source = make_dataset(tmp_path_factory.mktemp("engine") / "ds", trajectories, name="engine-checks")
    push(source.path, Target(argilla.info.url, argilla.info.api_key))
    dataset = sdk.datasets(name="engine-checks")
    return trajectories, dataset, record_ids(sdk, "engine-checks")


def search(client, dataset_id, body, me: bool = True, limit: int = 50):
    path = f"/api/v1/me/datasets/{dataset_id}/records/search" if me else f"/api/v1/datasets/{dataset_id}/records/search"
    response = client.post(path, json=body, params={"limit": limit})
    assert response.status_code == 200, response.text
    return response.json()


def terms(scope: dict, values: list) -> dict:
    return {"filters": {"and": [{"type": "terms", "scope": scope, "values": values}]}}


def test_metadata_and_suggestion_filters(pushed, owner):
    trajectories, dataset, _ = pushed
    correct = sum(1 for t in trajectories if t.outcome.correct)
    by_metadata = search(owner, dataset.id, terms({"entity": "metadata", "metadata_property": "correct"}, ["true"]))
    assert by_metadata["total"] == correct
    by_suggestion = search(
        owner, dataset.id, terms({"entity": "suggestion", "question": "verdict", "property": "value"}, ["accept"])
    )
    assert by_suggestion["total"] == correct
    long_runs = sum(1 for t in trajectories if len(t.steps) >= 3)
    body = {"filters": {"and": [{"type": "range", "scope": {"entity": "metadata", "metadata_property": "n_steps"}, "ge": 3}]}}
    assert search(owner, dataset.id, body)["total"] == long_runs


def test_sdk_query_text_and_sort(pushed, sdk):
    import argilla as rg

    trajectories, dataset, _ = pushed
    incorrect = dataset.records(query=rg.Query(filter=rg.Filter(("metadata.correct", "==", "false"))), with_responses=False)
    assert {str(r.id) for r in incorrect} == {t.trajectory_id for t in trajectories if t.outcome.correct is False}
    found = list(dataset.records(query=rg.Query(query="Velmora3"), with_responses=False))
    assert [str(r.id) for r in found] == [trajectories[3].trajectory_id]


def test_sort_by_metadata(pushed, owner):
    trajectories, dataset, _ = pushed
    body = {"sort": [{"scope": {"entity": "metadata", "metadata_property": "n_steps"}, "order": "desc"}]}
    items = search(owner, dataset.id, body, limit=50)["items"]
    steps = [item["record"]["metadata"]["n_steps"] for item in items]
    assert steps == sorted(steps, reverse=True) and len(steps) == len(trajectories)


def test_similarity_search(pushed, owner):
    trajectories, dataset, ids = pushed
    anchor = ids[trajectories[0].trajectory_id]
    body = {"query": {"vector": {"name": "question_embedding", "record_id": anchor}}}
    result = search(owner, dataset.id, body, limit=5)
    scores = [item["query_score"] for item in result["items"]]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert anchor not in {item["record"]["id"] for item in result["items"]}


def test_pending_is_per_user_and_progress_follows_responses(pushed, argilla, sdk, owner):
    trajectories, dataset, ids = pushed
    carol = create_annotator(argilla, sdk, "carol")
    first, second = (ids[t.trajectory_id] for t in trajectories[:2])
    respond(carol, first, "submitted", verdict="accept")
    respond(carol, second, "draft", verdict="reject")
    pending_scope = {"entity": "response", "property": "status"}
    assert search(carol, dataset.id, terms(pending_scope, ["pending"]))["total"] == len(trajectories) - 2
    assert search(owner, dataset.id, terms(pending_scope, ["pending"]))["total"] == len(trajectories)
    assert search(carol, dataset.id, terms(pending_scope, ["draft"]))["total"] == 1
    mine = owner.get(f"/api/v1/me/datasets/{dataset.id}/metrics")
    assert mine.status_code == 200
    metrics = carol.get(f"/api/v1/me/datasets/{dataset.id}/metrics").json()
    assert (metrics["responses"]["submitted"], metrics["responses"]["draft"]) == (1, 1)
    metadata_id = next(p["id"] for p in owner.get(f"/api/v1/me/datasets/{dataset.id}/metadata-properties").json()["items"] if p["name"] == "domain")
    domain_terms = owner.get(f"/api/v1/metadata-properties/{metadata_id}/metrics").json()
    assert domain_terms["values"] == [{"term": "qa", "count": len(trajectories)}]
