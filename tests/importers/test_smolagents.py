"""Importing smolagents agent memory: a real CodeAgent run (scripted model) and its memory."""

from __future__ import annotations

import json

import pytest

smolagents = pytest.importorskip("smolagents")

SCRIPT = [
    "Thought: I will compute it.\n<code>\nx = 6 * 7\nprint(x)\n</code>",
    "Thought: check a name.\n<code>\nprint(undefined_name)\n</code>",
    "I am not writing code now.",
    "Thought: now answer.\n<code>\nfinal_answer(str(x))\n</code>",
]


def _run_agent():
    from smolagents import CodeAgent
    from smolagents.models import ChatMessage, MessageRole, Model
    from smolagents.monitoring import TokenUsage

    class Scripted(Model):
        """A model that answers from a script: the agent loop, parsing and execution are smolagents'."""

        def __init__(self):
            super().__init__(model_id="scripted")
            self.turn = 0

        def generate(self, messages, stop_sequences=None, response_format=None, tools_to_call_from=None, **kwargs):
            text = SCRIPT[self.turn]
            self.turn += 1
            return ChatMessage(role=MessageRole.ASSISTANT, content=text,
                               token_usage=TokenUsage(input_tokens=100, output_tokens=20))

    agent = CodeAgent(tools=[], model=Scripted(), max_steps=6, verbosity_level=0)
    assert agent.run("What is 6 times 7?") == "42"
    return agent


@pytest.fixture(scope="module")
def agent():
    return _run_agent()


def test_memory_object_becomes_a_trajectory(agent):
    from trajkit.importers.smolagents import from_smolagents

    traj = from_smolagents(agent.memory, model="scripted", gold_answer="42")
    assert traj.task.question == "What is 6 times 7?"
    assert traj.outcome.status == "answered" and traj.outcome.final_answer == "42"
    assert len(traj.steps) == 4
    first, failed, unparsed, last = traj.steps
    assert first.thought == "I will compute it." and first.code == "x = 6 * 7\nprint(x)"
    assert "42" in first.observation
    assert failed.error.type == "execution_error" and "undefined_name" in failed.error.message
    assert unparsed.error.type == "parse_error" and unparsed.code is None
    assert last.final_answer == "42" and "final_answer" in last.code
    assert first.prompt_tokens == 100 and traj.usage.completion_tokens == 80
    assert traj.provenance.kind == "import" and traj.provenance.backend == "smolagents-import"


def test_saved_full_steps_import_through_the_cli(agent, tmp_path, cli):
    path = tmp_path / "memory.json"
    path.write_text(json.dumps(agent.memory.get_full_steps(), default=str))
    result = cli("import", str(path), str(tmp_path / "ds"), "--format", "smolagents")
    assert result.returncode == 0, result.stderr
    from trajkit.store import Dataset

    (traj,) = list(Dataset.open(tmp_path / "ds").trajectories())
    assert traj.outcome.final_answer == "42" and len(traj.steps) == 4
