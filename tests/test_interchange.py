import json

from tests.factories import make_trajectories, make_trajectory
from trajkit.agent.tool_calls import tool_call_messages
from trajkit.interchange import read_jsonl, write_jsonl


def test_jsonl_roundtrip_is_exact(tmp_path):
    rows = make_trajectories(8)
    assert write_jsonl(rows, tmp_path / "t.jsonl") == 8
    assert list(read_jsonl(tmp_path / "t.jsonl")) == rows


def test_messages_follow_openai_tool_calls():
    traj = make_trajectory(2, n_steps=3, error_at=1)
    out = tool_call_messages(traj, system_prompt="sys")
    roles = [m["role"] for m in out["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant", "tool"]
    first_call = out["messages"][2]["tool_calls"][0]
    assert first_call["function"]["name"] == "python_interpreter"
    assert json.loads(first_call["function"]["arguments"]) == {"code": traj.steps[0].code}
    assert out["messages"][3]["tool_call_id"] == first_call["id"]
    assert out["messages"][3]["content"].startswith("Observation:")
    assert "NameError" in out["messages"][5]["content"]
    assert out["tools"][0]["function"]["name"] == "python_interpreter"


def test_cli_happy_paths(tmp_path, cli):
    write_jsonl(make_trajectories(10), tmp_path / "in.jsonl")
    assert cli("import", str(tmp_path / "in.jsonl"), str(tmp_path / "ds")).returncode == 0
    stats = cli("stats", str(tmp_path / "ds"))
    assert stats.returncode == 0 and "Outcome status" in stats.stdout
    csv = cli("sql", str(tmp_path / "ds"), "SELECT task_id, n_steps FROM trajectories ORDER BY task_id", "-f", "csv")
    assert csv.returncode == 0 and csv.stdout.splitlines()[0] == '"task_id","n_steps"'
    assert len(csv.stdout.splitlines()) == 11
    out = tmp_path / "q.parquet"
    assert cli("sql", str(tmp_path / "ds"), "SELECT * FROM steps", "-f", "parquet", "-o", str(out)).returncode == 0
    import pyarrow.parquet as pq

    assert pq.read_table(out).num_rows > 10
    filtered = cli("filter", str(tmp_path / "ds"), str(tmp_path / "ok"), "--preset", "correct", "--where", "n_steps > 1")
    assert filtered.returncode == 0, filtered.stderr
    assert cli("dump", str(tmp_path / "ok"), str(tmp_path / "m.jsonl"), "-f", "messages").returncode == 0
    first = json.loads((tmp_path / "m.jsonl").read_text().splitlines()[0])
    assert first["correct"] is True and first["messages"][0]["role"] == "user"
    shown = cli("show", str(tmp_path / "ds"))
    assert shown.returncode == 0 and "question" in shown.stdout
    assert cli("compact", str(tmp_path / "ds")).returncode == 0
    assert cli("validate", str(tmp_path / "ds")).returncode == 0
