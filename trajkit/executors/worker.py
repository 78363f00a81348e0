"""The rollout worker a Ray actor wraps: one teacher backend and one sandbox pool for its
lifetime, many rollouts in flight (asyncio), one work unit in, its trajectories out.

It is a plain class (Ray wraps it with `ray.remote` in `ray_driver`), so this module imports no
Ray. The worker never writes the dataset: it returns each unit's trajectories as one Arrow table
and the driver commits them (the single writer of the manifest), which is what makes results
exactly-once.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trajkit.errors import ConfigError
from trajkit.plan import BuildPlan

if TYPE_CHECKING:
    from trajkit.executors.units import WorkUnit
    from trajkit.schema import ToolInfo, Trajectory


@dataclass
class UnitResult:
    unit_id: str
    table: Any  # pyarrow.Table in the storage schema
    counts: dict[str, int]  # done, answered, correct, failed, step_errors, completion_tokens
    worker: str  # "node-id/pid" of the actor that ran it


def shippable(plan: BuildPlan) -> BuildPlan:
    """The plan without its task list (units carry their own tasks)."""
    return dataclasses.replace(plan, tasks=[])


class RolloutWorker:
    def __init__(self, plan: BuildPlan, cwd: str | None = None):
        # A failure here (bad teacher block, missing index) is kept and raised by `ready()`:
        # the driver then sees the original TrajkitError, not a dead actor to replace.
        self.toolbox = self.backend = None
        self.where = f"{_node_id()}/{os.getpid()}"
        try:
            self._start(plan, cwd)
            self._init_error: BaseException | None = None
        except Exception as exc:  # noqa: BLE001  (handed to the driver as is)
            self._init_error = exc

    def _start(self, plan: BuildPlan, cwd: str | None) -> None:
        from trajkit.rollout import Engine
        from trajkit.teachers import make_backend

        if cwd and os.path.isdir(cwd):
            os.chdir(cwd)  # relative paths in the recipe mean the same on every node (shared FS)
        self.plan = plan
        if plan.recipe.mode != "cot":
            from trajkit.tools.toolbox import open_toolbox

            self.toolbox = open_toolbox(plan.recipe.tools)
            _check_same_tools(self.toolbox.infos, plan.provenance.tools)
        self.backend = make_backend(plan.recipe.teacher)
        self.engine = Engine(plan, self.backend, self.toolbox)  # `concurrency` rollouts per actor, all units together

    def ready(self) -> int:
        """The actor's pid once it holds its backend and tools; raises what its start raised."""
        if self._init_error is not None:
            raise self._init_error
        return os.getpid()

    async def run_unit(self, unit: WorkUnit) -> UnitResult:
        """Run the unit's rollouts (`concurrency` at a time) and return them, in the unit's
        order, as one table; the driver commits it."""
        import pyarrow as pa

        from trajkit.rollout import BuildStats
        from trajkit.schema import arrow_schema

        stats = BuildStats()
        finished: dict[str, Trajectory] = {}

        async def keep(trajectory: Trajectory) -> None:
            stats.count(trajectory)
            finished[trajectory.trajectory_id] = trajectory

        await self.engine.run(unit.items, keep)
        trajectories = [finished[item.trajectory_id] for item in unit.items]
        table = pa.Table.from_pylist([t.model_dump() for t in trajectories], schema=arrow_schema())
        counts = {k: getattr(stats, k) for k in COUNTS}
        return UnitResult(unit.unit_id, table, counts, self.where)

    async def close(self) -> None:
        try:
            if self.backend is not None:
                await self.backend.aclose()
        finally:
            if self.toolbox is not None:
                self.toolbox.close()


COUNTS = ("done", "answered", "correct", "failed", "step_errors", "completion_tokens")


def _check_same_tools(here: list[ToolInfo], planned: list[ToolInfo]) -> None:
    if list(here) != list(planned):
        raise ConfigError(
            f"this node's tools differ from the driver's ({[t.model_dump() for t in here]} vs "
            f"{[t.model_dump() for t in planned]})",
            where=f"actor on {_node_id()}",
            fix="give every node the same trajkit version, sandbox policy and retrieval index (shared filesystem)",
        )


def _node_id() -> str:
    ray = sys.modules.get("ray")  # inside an actor Ray is loaded; never start it from here
    if ray is not None and ray.is_initialized():
        return ray.get_runtime_context().get_node_id()[:12]
    return os.uname().nodename
