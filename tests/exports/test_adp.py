"""Agent Data Protocol: export, import, round trip; ADP records from elsewhere."""

from __future__ import annotations

import json

from tests.exports.conftest import trajectories
from trajkit.exports.adp import ADP_VERSION, to_adp
from trajkit.importers import import_file
from trajkit.importers.adp import from_adp

ACTIONS = {"code_action", "api_action", "message_action"}


def _check_adp_rules(record: dict) -> None:
    """The checks of ADP's pydantic Trajectory model (schema/trajectory.py, 1.2.0)."""
    assert record["schema_version"] == ADP_VERSION and isinstance(record["id"], str)
    actions, observations = {}, {}
    for index, item in enumerate(record["content"]):
        assert item["class_"] in ACTIONS | {"text_observation"}
        if item["class_"] == "text_observation":
            assert item["source"] in ("user", "environment")
        link = item.get("tool_call_id")
        following = record["content"][index + 1] if index + 1 < len(record["content"]) else None
        if item["class_"] in ("code_action", "api_action") and following and following["class_"].endswith("observation"):
            assert link is not None, "a tool action followed by its result needs tool_call_id"
        if link is None:
            continue
        assert item["class_"] != "message_action"
        if item["class_"] in ACTIONS:
            assert link not in actions
            actions[link] = index
        else:
            assert link in actions and link not in observations
            observations[link] = index
    assert set(actions) == set(observations)
    languages = {i["language"] for i in record["content"] if i["class_"] == "code_action"}
    assert set(record.get("available_code_languages") or []) == languages


def test_round_trip_is_exact(tmp_path):
    rows = trajectories()
    for traj in rows:
        record = json.loads(json.dumps(to_adp(traj)))
        _check_adp_rules(record)
        back = from_adp(record)
        assert back.model_dump() == traj.model_dump()


def test_fields_adp_has_survive_without_trajkit_details():
    traj = trajectories()[1]  # incorrect, with an execution error at step 0
    record = to_adp(traj)
    record["details"] = {"dataset": "elsewhere"}
    back = from_adp(record)
    assert back.task.question == traj.task.question and back.task.source == "elsewhere"
    assert [s.thought for s in back.steps] == [s.thought for s in traj.steps]
    assert [s.code for s in back.steps] == [s.code for s in traj.steps]
    assert back.steps[1].observation == (traj.steps[1].observation or "")
    assert "NameError" in back.steps[0].observation  # the error text the model was shown
    assert back.outcome.score == traj.outcome.score
    # and exporting the import again gives the same ADP content
    assert to_adp(back)["content"] == record["content"]


def test_foreign_adp_with_api_and_message_actions(tmp_path):
    record = {
        "schema_version": "1.2.0",
        "id": "ex1",
        "content": [
            {"class_": "text_observation", "content": "Weather in Paris?", "source": "user"},
            {"class_": "api_action", "function": "get_weather", "kwargs": {"city": "Paris"},
             "description": "look it up", "tool_call_id": "c1"},
            {"class_": "text_observation", "content": "sunny", "source": "environment", "tool_call_id": "c1"},
            {"class_": "message_action", "content": "It is sunny.", "description": None},
        ],
        "details": {"dataset": "weather"},
    }
    path = tmp_path / "adp.jsonl"
    path.write_text(json.dumps(record) + "\n")
    ds = import_file(path, tmp_path / "ds", format="adp", source_name="reference")
    (traj,) = list(ds.trajectories())
    assert traj.task.question == "Weather in Paris?"
    assert traj.steps[0].code == "get_weather(city='Paris')" and traj.steps[0].observation == "sunny"
    assert traj.steps[0].tool_calls[0].name == "get_weather"
    assert traj.outcome.status == "answered" and traj.outcome.final_answer == "It is sunny."


def test_cli_export_then_import(dataset, tmp_path, cli):
    out = tmp_path / "adp"
    result = cli("export", str(dataset), str(out), "--format", "adp")
    assert result.returncode == 0, result.stderr
    back = cli("import", str(out / "adp.jsonl"), str(tmp_path / "back"), "--format", "adp")
    assert back.returncode == 0, back.stderr
    from trajkit.store import Dataset

    original = {t.trajectory_id: t.model_dump() for t in Dataset.open(dataset).trajectories()}
    imported = {t.trajectory_id: t.model_dump() for t in Dataset.open(tmp_path / "back").trajectories()}
    assert imported == original
