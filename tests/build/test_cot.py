"""`trajkit build` with `mode: cot`: one generation per task, no tools, the same schema."""

import asyncio

import pytest
import yaml

from tests.build.conftest import STEP_1, STEP_2, write_recipe
from trajkit.agent.cot import cot_messages
from trajkit.agent.prompts import load_prompt
from trajkit.build import build
from trajkit.errors import ConfigError
from trajkit.plan import plan_build
from trajkit.query import sql
from trajkit.recipe import load_build_recipe
from trajkit.rollout import run_build
from trajkit.store import Dataset
from trajkit.teachers.scripted_server import ScriptedBackend
from trajkit.validate import validate_dataset

ANSWER = "Six times seven: 6 * 7 = 42.\nFinal answer: 42"


def cot_recipe(tmp_path, task_file, responses=(ANSWER,), output="cot", extra=None, name="cot.yaml"):
    """A CoT recipe: the build conftest's recipe with mode: cot, no agent or tools section."""
    path = write_recipe(
        tmp_path, task_file, teacher={"backend": "scripted", "responses": list(responses)},
        output=output, extra={"mode": "cot", "samples_per_task": 1, **(extra or {})}, name=name,
    )
    body = yaml.safe_load(path.read_text())
    for key in ("agent", "tools"):
        if key not in (extra or {}):
            body.pop(key)
    path.write_text(yaml.safe_dump(body))
    return path


@pytest.fixture
def no_tools(monkeypatch):
    """A CoT build opens neither the sandbox nor the retriever (the recipe's default tools
    would build the Wikipedia index)."""
    import trajkit.tools.toolbox

    def refuse(*args, **kwargs):
        raise AssertionError("a CoT build opened the toolbox")

    monkeypatch.setattr(trajkit.tools.toolbox, "open_toolbox", refuse)


def test_cot_build_writes_one_graded_single_step_answer_per_task(tmp_path, task_file, no_tools):
    dataset, stats = build(cot_recipe(tmp_path, task_file), show_progress=False)
    assert len(dataset) == 24 and stats.done == 24
    assert validate_dataset(dataset) == 24
    for traj in dataset.trajectories():
        (step,) = traj.steps
        assert step.thought == ANSWER and step.raw_output == ANSWER
        assert step.final_answer == "42" and step.code is None and step.observation is None
        assert step.tool_calls == [] and step.error is None and step.candidates == []
        assert traj.outcome.status == "answered" and traj.outcome.final_answer == "42"
        assert traj.usage.steps == 1 and traj.usage.model_calls == 1
    prov = next(dataset.trajectories()).provenance
    assert prov.prompt_template == load_prompt("cot").id
    assert prov.prompt_hash == load_prompt("cot").hash
    assert (prov.sag_n, prov.max_steps, prov.tools, prov.first_thought_prefix) == (1, 1, [], False)
    counts = sql([dataset.path], "SELECT correct, count(*) AS n FROM trajectories GROUP BY ALL ORDER BY correct").to_pylist()
    assert counts == [{"correct": False, "n": 8}, {"correct": True, "n": 16}]  # gold 41 for every third task
    assert sql([dataset.path], "SELECT count(*) AS n FROM tool_calls").to_pylist() == [{"n": 0}]


def test_the_teacher_gets_the_cot_prompt_and_the_task(tmp_path, task_file):
    recipe, raw = load_build_recipe(cot_recipe(tmp_path, task_file))
    plan = plan_build(recipe, raw, tool_infos=[])
    seen = []

    class Recording(ScriptedBackend):
        async def generate(self, request):
            seen.append((request.messages, request.sampling))
            return await super().generate(request)

    dataset, _ = asyncio.run(run_build(plan, Recording([ANSWER]), None))
    assert len(dataset) == 24 and len(seen) == 24  # one generation per task
    messages, sampling = seen[0]
    question = next(t.question for t in plan.tasks if messages[1]["content"].endswith(t.question))
    assert messages == cot_messages(load_prompt("cot").text, question)
    assert sampling.n == 1 and sampling.max_tokens == 64 and sampling.stop == recipe.sampling.stop


def test_no_answer_is_a_parse_error(tmp_path, task_file, no_tools):
    empty, _ = build(cot_recipe(tmp_path, task_file, responses=[" \n "], output="empty"), limit=3, show_progress=False)
    # cut at max_tokens (64 words) before any 'Final answer:' line: its last line is no answer
    rambling = "Let me think about this step by step. " * 30
    cut, _ = build(cot_recipe(tmp_path, task_file, responses=[rambling], output="cut", name="cut.yaml"), limit=3, show_progress=False)
    for dataset in (empty, cut):
        assert len(dataset) == 3
        for traj in dataset.trajectories():
            assert traj.outcome.status == "parse_error" and traj.outcome.final_answer is None
            assert traj.outcome.correct is False
            assert traj.steps[0].error.type == "parse_error" and traj.steps[0].final_answer is None
    kept = sql([cut.path], "SELECT count(*) AS n FROM trajectories WHERE correct AND status = 'answered'").to_pylist()
    assert kept == [{"n": 0}]
    # a last line that is an answer still counts when the generation ended on its own
    terse, _ = build(cot_recipe(tmp_path, task_file, responses=["6 * 7\n42"], output="terse", name="terse.yaml"), limit=3, show_progress=False)
    assert {t.outcome.final_answer for t in terse.trajectories()} == {"42"}


def test_resume_skips_done_tasks(tmp_path, task_file, no_tools):
    recipe = cot_recipe(tmp_path, task_file)
    first, _ = build(recipe, limit=5, show_progress=False)
    assert len(first) == 5
    second, stats = build(recipe, show_progress=False)
    assert stats.skipped == 5 and stats.done == 19
    assert len(second) == 24 and len(second.trajectory_ids()) == 24
    again, stats = build(recipe, show_progress=False)
    assert stats.skipped == 24 and stats.done == 0 and len(again) == 24


def test_cot_and_agent_builds_of_one_recipe_differ_in_provenance(tmp_path, task_file):
    agent = write_recipe(tmp_path, task_file, teacher={"backend": "scripted", "responses": [STEP_1, STEP_2]},
                         extra={"samples_per_task": 1}, output="same")
    body = yaml.safe_load(agent.read_text())
    cot = tmp_path / "same-cot.yaml"
    cot.write_text(yaml.safe_dump({**body, "mode": "cot"}))  # the same recipe, tools and all

    agent_ds, _ = build(agent, limit=2, show_progress=False)
    agent_prov = next(agent_ds.trajectories()).provenance
    cot_ds, _ = build(cot, output=str(tmp_path / "cot-out"), limit=2, show_progress=False)
    cot_prov = next(cot_ds.trajectories()).provenance
    assert agent_prov.fingerprint != cot_prov.fingerprint
    assert agent_prov.prompt_template.startswith("teacher/") and cot_prov.prompt_template.startswith("cot/")
    assert [t.name for t in agent_prov.tools] == ["python_interpreter"] and cot_prov.tools == []
    assert (agent_prov.max_steps, cot_prov.max_steps) == (3, 1)  # agent.max_steps: 3 is unused by CoT
    assert not agent_ds.trajectory_ids() & cot_ds.trajectory_ids()
    # resuming the agent dataset with the CoT recipe is refused, not mixed in
    with pytest.raises(ConfigError, match="different teacher, prompt"):
        build(cot, limit=2, show_progress=False)
    assert len(Dataset.open(agent_ds.path)) == 2


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"agent": {"candidates": 4}}, "agent.candidates"),
        ({"agent": {"first_thought_prefix": True}}, "agent.first_thought_prefix"),
        ({"agent": {"force_format": True}}, "agent.force_format"),
        ({"agent": {"force_final_answer": True}}, "agent.force_final_answer"),
        ({"prompt": "teacher"}, "prompt"),
    ],
)
def test_agent_only_options_are_refused_with_mode_cot(tmp_path, task_file, no_tools, extra, key):
    recipe = cot_recipe(tmp_path, task_file, extra=extra)
    with pytest.raises(ConfigError) as raised:
        build(recipe, show_progress=False)
    assert raised.value.where == f"{recipe}: {key}"
    assert "mode" in raised.value.what and raised.value.fix
    assert not (tmp_path / "cot").exists()


def test_cot_options_that_fit_are_accepted(tmp_path, task_file, no_tools):
    recipe = cot_recipe(tmp_path, task_file, extra={"prompt": "cot", "agent": {"max_steps": 1, "candidates": 1}})
    dataset, _ = build(recipe, limit=2, show_progress=False)
    assert len(dataset) == 2


def test_cli_reports_a_bad_cot_recipe_in_one_line(tmp_path, task_file, cli):
    recipe = cot_recipe(tmp_path, task_file, extra={"agent": {"candidates": 8}})
    result = cli("build", str(recipe))
    assert result.returncode == 2
    assert "agent.candidates" in result.stderr and "mode is cot" in result.stderr
    assert "Traceback" not in result.stderr


def test_each_sample_of_a_task_samples_with_its_own_seed(tmp_path, task_file):
    # with one seed for every sample, a seeded server (llama.cpp, vLLM) answers a task's samples
    # identically: rejection sampling over several samples would then keep copies of one answer
    extra = {"samples_per_task": 3, "sampling": {"temperature": 0.7, "max_tokens": 64, "seed": 5}}
    recipe, raw = load_build_recipe(cot_recipe(tmp_path, task_file, extra=extra))
    plan = plan_build(recipe, raw, tool_infos=[])
    seeds: dict[str, list[int]] = {}

    class Recording(ScriptedBackend):
        async def generate(self, request):
            seeds.setdefault(request.messages[1]["content"], []).append(request.sampling.seed)
            return await super().generate(request)

    dataset, _ = asyncio.run(run_build(plan, Recording([ANSWER]), None))
    assert len(dataset) == 72
    assert all(sorted(found) == [5, 6, 7] for found in seeds.values()) and len(seeds) == 24
    by_sample = sql([dataset.path], "SELECT sample_index, count(*) AS n FROM trajectories GROUP BY ALL ORDER BY ALL").to_pylist()
    assert by_sample == [{"sample_index": i, "n": 24} for i in range(3)]


def test_agent_samples_get_their_own_seed_too(tmp_path, task_file):
    path = write_recipe(tmp_path, task_file, extra={"samples_per_task": 2, "sampling": {"temperature": 0.7, "max_tokens": 64, "seed": 0}})
    recipe, raw = load_build_recipe(path)
    plan = plan_build(recipe, raw, tool_infos=[])
    seen = set()

    class Recording(ScriptedBackend):
        async def generate(self, request):
            seen.add(request.sampling.seed)
            return await super().generate(request)

    from trajkit.tools.toolbox import open_toolbox

    toolbox = open_toolbox(recipe.tools)
    try:
        dataset, _ = asyncio.run(run_build(plan, Recording([STEP_1, STEP_2]), toolbox))
    finally:
        toolbox.close()
    assert seen == {0, 1} and len(dataset) == 48
