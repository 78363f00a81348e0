import json

import pyarrow as pa
import pytest
from pydantic import ValidationError

from tests.conftest import REPO
from tests.factories import make_provenance, make_task, make_trajectory
from trajkit.cli.schemafiles import check_schema, schema_text
from trajkit.errors import SchemaVersionError
from trajkit.schema import (
    SCHEMA_VERSION,
    Outcome,
    Provenance,
    Trajectory,
    arrow_schema,
    check_version,
    json_schema,
    trajectory_id,
)


def test_trajectory_id_is_deterministic_and_sensitive_to_each_part():
    base = trajectory_id("t1", "fp", 0)
    assert base == trajectory_id("t1", "fp", 0)
    assert len({base, trajectory_id("t2", "fp", 0), trajectory_id("t1", "fp2", 0), trajectory_id("t1", "fp", 1)}) == 4


def test_fingerprint_covers_sampling_and_prompt():
    a = Provenance(kind="teacher", backend="local", model="m").with_fingerprint()
    b = Provenance(kind="teacher", backend="local", model="m", prompt_hash="x").with_fingerprint()
    c = a.model_copy(update={"sampling": a.sampling.model_copy(update={"temperature": 0.7})})
    assert a.fingerprint != b.fingerprint
    assert c.compute_fingerprint() != a.fingerprint
    assert a.compute_fingerprint() == a.fingerprint


def test_new_fills_fingerprint_and_id():
    traj = Trajectory.new(
        task=make_task(1), provenance=Provenance(kind="teacher", backend="local", model="m"),
        outcome=Outcome(status="max_steps"), sample_index=2,
    )
    assert traj.provenance.fingerprint
    assert traj.trajectory_id == trajectory_id("synthetic:1", traj.provenance.fingerprint, 2)


def test_arrow_schema_roundtrips_a_full_trajectory():
    traj = make_trajectory(3, n_steps=4, error_at=1, candidates=2)
    table = pa.Table.from_pylist([traj.model_dump()], schema=arrow_schema())
    back = Trajectory.model_validate(table.to_pylist()[0])
    assert back == traj
    assert table.schema.metadata[b"trajkit.schema_version"] == str(SCHEMA_VERSION).encode()


@pytest.mark.parametrize(
    "bad",
    [
        {"task": {"task_id": "", "source": "s", "question": "q"}},
        {"task": {"task_id": "t", "source": "s", "question": "q", "metadata": "{not json"}},
        {"outcome": {"status": "finished-ish"}},
        {"provenance": {"kind": "robot", "backend": "b", "model": "m"}},
        {"schema_version": 99},
        {"unexpected": 1},
    ],
)
def test_invalid_values_are_rejected(bad):
    row = make_trajectory(0).model_dump()
    for key, value in bad.items():
        row[key] = value
    with pytest.raises((ValidationError, SchemaVersionError)):
        Trajectory.model_validate(row)


def test_version_check_messages():
    with pytest.raises(SchemaVersionError, match="upgrade trajkit"):
        check_version(SCHEMA_VERSION + 1, where="x")
    with pytest.raises(SchemaVersionError, match="not a version"):
        check_version(0, where="x")
    with pytest.raises(SchemaVersionError, match="not an integer"):
        check_version("1", where="x")
    check_version(SCHEMA_VERSION, where="x")


def test_json_schema_validates_a_real_row():
    schema = json_schema()
    assert schema["title"].endswith(f"v{SCHEMA_VERSION})")
    assert {"task", "provenance", "steps", "outcome"} <= set(schema["properties"])
    row = json.loads(make_trajectory(1).model_dump_json())
    assert Trajectory.model_validate(row).trajectory_id == row["trajectory_id"]


def test_published_schema_is_not_stale():
    """Fails when schema.py changed without `trajkit schema export schemas`."""
    check_schema(REPO / "schemas")
    assert (REPO / "schemas" / f"trajectory.v{SCHEMA_VERSION}.json").read_text() == schema_text()


def test_provenance_fingerprint_of_factory_is_stable():
    assert make_provenance().fingerprint == make_provenance().fingerprint
