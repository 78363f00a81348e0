"""One rollout: a task and a sample index in, one graded `Trajectory` out.

The local build (`trajkit.build.run_build`) and the Ray executor's actors
(`trajkit.executors.worker`) run the same two functions, so a trajectory is the same whichever
executor made it: `make_runner` picks the agent loop or the CoT generation for a plan, and
`rollout` runs it, grades the answer and wraps the result with the plan's provenance.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from trajkit.schema import Task, Trajectory

if TYPE_CHECKING:
    from trajkit.build import BuildPlan

Runner = Callable[[Task], Awaitable[Any]]  # task -> AgentResult


def make_runner(plan: BuildPlan, backend, toolbox) -> Runner:
    """The CodeAct agent loop, or one CoT generation when the plan's mode is cot (then
    `toolbox` may be None)."""
    if plan.recipe.mode == "cot":
        from trajkit.agent.cot import run_cot

        async def cot_runner(task: Task):
            return await run_cot(task, backend, plan.system_prompt, plan.recipe.sampling)

        return cot_runner
    from trajkit.agent.loop import run_agent
    from trajkit.build import agent_settings

    settings = agent_settings(plan)

    async def agent_runner(task: Task):
        return await run_agent(task, backend, toolbox.new_interpreter, settings)

    return agent_runner


async def rollout(plan: BuildPlan, runner: Runner, task: Task, sample: int) -> Trajectory:
    """Run one rollout and grade it."""
    from trajkit.tasks.grading import agrade

    result = await runner(task)
    outcome = result.outcome
    if outcome.status == "answered":
        grade = await agrade(
            task, outcome.final_answer, plan.recipe.grading.grader,
            math_timeout_s=plan.recipe.grading.math_timeout_s,
        )
        outcome = grade.apply(outcome)
    elif task.gold_answer is not None:
        outcome = outcome.model_copy(update={"correct": False, "score": 0.0})
    return Trajectory.new(
        task=task, provenance=plan.provenance, outcome=outcome,
        steps=result.steps, sample_index=sample, usage=result.usage,
    )
