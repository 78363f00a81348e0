"""One conversation, three consumers: what `trajkit train` trains on, what `trajkit eval` shows the
student, and what the Hub's `sft` config holds are the same tokens for the same trajectory (and
train and Hub carry the same loss masks), under the embedded student's tokenizer and template."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.factories import make_trajectory
from trajkit.agent.format import conversation
from trajkit.agent.prompts import load_prompt
from trajkit.sft.masks import LossTurn, tokenize_with_masks
from trajkit.sft.synthetic import synthetic_trajectories
from trajkit.store import Dataset


def _trajectories():
    plain = make_trajectory(1, n_steps=3)
    with_error = make_trajectory(2, n_steps=4, error_at=1)  # an error step: shown, carries no loss
    not_trained = make_trajectory(3, n_steps=3)
    not_trained.steps[1].train = False
    prefixed = make_trajectory(4, n_steps=2)  # a first-thought prefix (it carries loss by default)
    prefixed.steps[0].thought = "The city was founded long ago. I will search for the year."
    prefixed.steps[0].prefix = "Thought: The city was founded long ago."
    long_output = make_trajectory(5, n_steps=3)  # an observation cut at 4,000 characters
    long_output.steps[0].observation = ("Velmora archive entry. " * 200).strip()
    failed = make_trajectory(6, n_steps=2, correct=False)  # dropped by train and by the card's filter
    return [plain, with_error, not_trained, prefixed, long_output, failed, *synthetic_trajectories(4, seed=7)]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A dataset of varied trajectories, and the rows of its exported Hub `sft` config."""
    from trajkit.hub.repo_folder import export_dataset

    root = tmp_path_factory.mktemp("renderings")
    dataset = Dataset.create(root / "ds", name="renderings")
    dataset.append(_trajectories())
    export_dataset(dataset, root / "hub", configs=["sft"])
    table = pa.concat_tables([pq.read_table(path) for path in sorted((root / "hub/sft").glob("*.parquet"))])
    return dataset, {row["trajectory_id"]: row for row in table.to_pylist()}


@pytest.fixture(scope="module")
def trained(published, tmp_path_factory):
    """The examples `trajkit train` prepares from the dataset (its data path, up to the trainer)."""
    from trajkit.sft.recipe import Recipe
    from trajkit.sft.train import prepare

    dataset, _ = published
    out = tmp_path_factory.mktemp("train-out")
    recipe = Recipe.model_validate(
        {"model": "embedded", "dataset": [str(dataset.path)], "training": {"max_length": 8192}, "output_dir": str(out)}
    )
    prepared = prepare(recipe)
    assert prepared.report.truncated == 0  # nothing shortened: every example is the whole trajectory
    return prepared


def _hub_tokens(tokenizer, row):
    messages = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
    turns = [LossTurn(i) for i, m in enumerate(row["messages"]) if m["train"]]
    return tokenize_with_masks(tokenizer, messages, turns)


def _eval_prompt_ids(tokenizer, system_prompt, traj, k):
    """The token ids the local backend feeds the student before step k, as `trajkit eval` runs it."""
    from trajkit.teachers.chat_template import render_chat

    prompt = render_chat(tokenizer, conversation(system_prompt, traj.task.question, traj.steps[:k]))
    return tokenizer(prompt, add_special_tokens=False)["input_ids"]


def test_the_hub_sft_config_is_what_trajkit_train_trains_on(published, trained):
    _, rows = published
    # the card's filter (not graded incorrect, some turn carries loss) keeps exactly what train keeps
    kept = {tid for tid, row in rows.items() if row["correct"] is not False and any(m["train"] for m in row["messages"])}
    assert kept == {example.trajectory_id for example in trained.examples}
    assert trained.system_prompt.id == rows[next(iter(kept))]["system_prompt_id"]
    for example in trained.examples:
        row = rows[example.trajectory_id]
        assert [{"role": m["role"], "content": m["content"]} for m in row["messages"]] == example.messages
        hub = _hub_tokens(trained.tokenizer, row)
        assert hub.input_ids == example.input_ids
        assert hub.assistant_masks == example.assistant_masks


def test_what_eval_shows_the_student_is_what_it_was_trained_on(published, trained):
    dataset, rows = published
    by_id = {t.trajectory_id: t for t in dataset.trajectories()}
    eval_prompt = load_prompt("student").text  # recipes/eval-*.yaml: prompt: student
    assert eval_prompt == trained.system_prompt.text
    checked = 0
    for example in trained.examples:
        traj = by_id[example.trajectory_id]
        hub = _hub_tokens(trained.tokenizer, rows[example.trajectory_id])
        assistant = [i for i, m in enumerate(example.messages) if m["role"] == "assistant"]
        for k, index in enumerate(assistant):
            shown = _eval_prompt_ids(trained.tokenizer, eval_prompt, traj, k)
            start = example.turn_starts[index]
            assert example.input_ids[:start] == shown  # trajkit train
            assert hub.input_ids[: hub.turn_starts[index]] == shown  # the Hub sft config
            checked += 1
    assert checked >= 15


class _Replay:
    """A backend that answers each step with the recorded action (as a model stopped at
    `<end_code>` would) and records every request; and interpreters that give back each step's
    recorded result."""

    def __init__(self, traj):
        self.traj = traj
        self.requests = []

    async def generate(self, request):
        from trajkit.agent.format import END_CODE, step_assistant_text
        from trajkit.teachers.base import Choice, GenerationResponse

        self.requests.append(request)
        step = self.traj.steps[sum(m["role"] == "assistant" for m in request.messages)]
        text = step_assistant_text(step).removesuffix(END_CODE)
        return GenerationResponse(choices=[Choice(text=text, finish_reason="stop")], prompt_tokens=0,
                                  completion_tokens=0, latency_ms=0.0)

    def new_interpreter(self):
        return _ReplayInterpreter([step for step in self.traj.steps if step.code])


class _ReplayInterpreter:
    def __init__(self, steps):
        self.steps = list(steps)

    def run(self, code):
        from trajkit.tools.protocol import ExecResult

        step = self.steps.pop(0)
        assert step.code == code
        answered = step.final_answer is not None and step.error is None
        return ExecResult(stdout=step.observation or "", error=step.error, answered=answered,
                          final_answer=step.final_answer if answered else None)

    def fork(self):
        return self

    def close(self):
        pass


def test_the_agent_loop_shows_the_student_the_prompts_it_was_trained_on(published, trained):
    """`trajkit eval` runs the agent loop; replaying each trajectory through it, the prompt the
    backend receives before step k, rendered as the local backend renders it, is the training
    example's tokens before assistant turn k."""
    import asyncio

    from trajkit.agent.config import AgentConfig, AgentSettings
    from trajkit.agent.loop import run_agent
    from trajkit.schema import Sampling
    from trajkit.teachers.chat_template import render_chat

    dataset, _ = published
    by_id = {t.trajectory_id: t for t in dataset.trajectories()}
    tokenizer = trained.tokenizer
    for example in trained.examples:
        traj = by_id[example.trajectory_id]
        replay = _Replay(traj)
        settings = AgentSettings(agent=AgentConfig(max_steps=len(traj.steps)), system_prompt=load_prompt("student").text,
                                 sampling=Sampling(temperature=0.0, max_tokens=64))
        result = asyncio.run(run_agent(traj.task, replay, replay.new_interpreter, settings))
        assert len(result.steps) == len(traj.steps) and result.outcome.status == "answered"
        assistant = [i for i, m in enumerate(example.messages) if m["role"] == "assistant"]
        assert len(replay.requests) == len(assistant)
        for request, index in zip(replay.requests, assistant, strict=True):
            prompt = render_chat(tokenizer, request.messages, request.assistant_prefix)
            shown = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            assert shown == example.input_ids[: example.turn_starts[index]]
