"""Review round trip through a real Argilla server: push, annotators respond, pull."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from tests.curate.conftest import create_annotator, make_dataset, record_ids, respond
from tests.factories import make_trajectories, make_trajectory
from trajkit.curate.client import Target
from trajkit.curate.pull import pull
from trajkit.curate.push import push
from trajkit.curate.records import EMBEDDING_DIM, FIELD_NAMES, QUESTION_NAMES, VECTOR_NAME
from trajkit.store import Dataset

pytestmark = pytest.mark.server


def tree_digest(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError("condition not reached in time")


def test_push_twice_respond_and_pull(argilla, sdk, tmp_path):
    target = Target(argilla.info.url, argilla.info.api_key)
    trajectories = make_trajectories(8, seed=3)
    trajectories[5] = make_trajectory(5, n_steps=3, correct=False, error_at=1)
    never_pushed = make_trajectory(40)
    source = make_dataset(tmp_path / "run", [*trajectories, never_pushed], name="roundtrip")

    # ---- first push: creates the dataset, one record per selected trajectory
    first = push(source.path, target, where=f"trajectory_id <> '{never_pushed.trajectory_id}'")
    assert first.created and first.pushed == 8 and first.name == "roundtrip"
    remote = sdk.datasets(name="roundtrip")
    assert {f.name for f in remote.settings.fields} == set(FIELD_NAMES)
    assert {q.name for q in remote.settings.questions} == set(QUESTION_NAMES)
    assert remote.settings.vectors[VECTOR_NAME].dimensions == EMBEDDING_DIM
    records = {str(r.id): r for r in remote.records(with_suggestions=True, with_vectors=True, with_responses=False)}
    assert set(records) == {t.trajectory_id for t in trajectories}
    failing = records[trajectories[5].trajectory_id]
    assert failing.fields["question"] == trajectories[5].task.question
    assert failing.metadata["correct"] == "false"
    assert failing.metadata["error_types"] == ["execution_error"]
    assert failing.metadata["n_steps"] == 3
    assert [s.value for s in failing.suggestions if s.question_name == "verdict"] == ["reject"]
    assert "bad_code" in next(s.value for s in failing.suggestions if s.question_name == "error_tags")
    assert len(failing.vectors[VECTOR_NAME]) == EMBEDDING_DIM
    roles = [m["role"] if isinstance(m, dict) else m.role for m in failing.fields["steps"]]
    assert roles[0] == "assistant" and "user" in roles

    # ---- second push of a changed version: updates in place, no duplicates
    changed = trajectories[0].model_copy(deep=True)
    changed.outcome.final_answer = "a corrected final answer"
    again = make_dataset(tmp_path / "run-v2", [changed, *trajectories[1:]], name="roundtrip")
    second = push(again.path, target)
    assert not second.created and second.pushed == 8
    ids = record_ids(sdk, "roundtrip")
    assert len(ids) == 8
    updated = next(r for r in sdk.datasets(name="roundtrip").records(with_responses=False) if str(r.id) == changed.trajectory_id)
    assert updated.fields["final_answer"] == "a corrected final answer"

    # ---- two annotators respond with their own API keys
    alice = create_annotator(argilla, sdk, "alice")
    bob = create_annotator(argilla, sdk, "bob")
    t = [traj.trajectory_id for traj in trajectories]
    respond(alice, ids[t[0]], "submitted", verdict="accept", quality=4, error_tags=["inefficient"])
    respond(bob, ids[t[0]], "submitted", verdict="accept", quality=2)
    respond(alice, ids[t[1]], "submitted", verdict="reject", corrected_answer="1802", comment="off by one")
    respond(bob, ids[t[1]], "submitted", verdict="accept")  # a tie: no consensus
    respond(alice, ids[t[2]], "draft", verdict="accept")
    respond(alice, ids[t[3]], "discarded")
    respond(bob, ids[t[4]], "discarded", verdict="reject")
    respond(alice, ids[t[4]], "draft", comment="still thinking")
    wait_for(lambda: sdk.datasets(name="roundtrip").progress()["completed"] == 2)  # the rq worker ran

    # ---- pull into a new version
    before = tree_digest(source.path)
    result = pull(source.path, tmp_path / "reviewed", target)
    assert tree_digest(source.path) == before  # the source is not touched
    assert result.records == 8 and result.rows == 9 and result.not_pushed == 1
    assert result.status_counts == {"submitted": 2, "draft": 2, "discarded": 1, "pending": 3}
    assert result.annotators == ["alice", "bob"]

    reviewed = Dataset.open(tmp_path / "reviewed")
    by_id = {traj.trajectory_id: traj for traj in reviewed.trajectories()}
    agreed = by_id[t[0]].review
    assert (agreed.status, agreed.label, agreed.rating, agreed.tags) == ("submitted", "accept", 3.0, ["inefficient"])
    assert agreed.annotator == "alice, bob" and len(agreed.responses) == 2 and agreed.at is not None
    tie = by_id[t[1]].review
    assert (tie.label, tie.corrected_answer, tie.comment) == ("reject", "1802", "alice: off by one")
    draft = by_id[t[2]].review
    assert draft.status == "draft" and draft.label is None
    assert [(r.annotator, r.status, r.label) for r in draft.responses] == [("alice", "draft", "accept")]
    assert by_id[t[3]].review.status == "discarded"
    mixed = by_id[t[4]].review
    assert mixed.status == "draft" and mixed.label is None
    assert {(r.annotator, r.status) for r in mixed.responses} == {("alice", "draft"), ("bob", "discarded")}
    assert by_id[t[6]].review.status == "pending" and by_id[t[6]].review.responses == []
    assert by_id[never_pushed.trajectory_id].review is None

    # nothing but `review` differs, row for row
    assert reviewed.to_arrow().drop_columns(["review"]).equals(source.to_arrow().drop_columns(["review"]))
    lineage = reviewed.manifest.lineage[-1]
    assert lineage.operation == "review_pull"
    assert lineage.parents[0].path == str(source.path.resolve())
    assert lineage.params["argilla_dataset"] == "roundtrip"
    assert argilla.info.api_key not in reviewed.path.joinpath("trajkit.json").read_text()

    # the reviewed version works with the presets: accepted = reviewed and accepted
    from trajkit.curate.presets import PRESETS
    from trajkit.query import sql

    accepted = sql([reviewed.path], f"SELECT trajectory_id FROM trajectories WHERE {PRESETS['accepted'].where}")
    assert accepted.column(0).to_pylist() == [t[0]]


def test_pull_refuses_existing_output_before_contacting_server(argilla, tmp_path):
    source = make_dataset(tmp_path / "ds", make_trajectories(2), name="never-pushed")
    (tmp_path / "out").mkdir()
    from trajkit.errors import DatasetError

    with pytest.raises(DatasetError, match="already exists"):
        pull(source.path, tmp_path / "out", Target("http://127.0.0.1:9", "x"))


def test_pull_of_unknown_dataset_is_a_clear_error(argilla, tmp_path):
    from trajkit.errors import ConfigError

    source = make_dataset(tmp_path / "ds", make_trajectories(2), name="never-pushed")
    with pytest.raises(ConfigError, match="no Argilla dataset named 'never-pushed'"):
        pull(source.path, tmp_path / "out", Target(argilla.info.url, argilla.info.api_key))
    assert not (tmp_path / "out").exists()
