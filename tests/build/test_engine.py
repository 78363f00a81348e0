"""The rollout engine: a bounded pool of workers, one committer, each trajectory once."""

import asyncio

from tests.build.test_cot import ANSWER, cot_recipe
from trajkit.plan import plan_build, work_items
from trajkit.recipe import load_build_recipe
from trajkit.rollout import Engine, run_build
from trajkit.teachers.scripted_server import ScriptedBackend


class Gauge(ScriptedBackend):
    """Counts the generations in flight at once."""

    def __init__(self, responses):
        super().__init__(responses)
        self.now = self.most = self.calls = 0

    async def generate(self, request):
        self.now += 1
        self.calls += 1
        self.most = max(self.most, self.now)
        try:
            await asyncio.sleep(0.01)
            return await super().generate(request)
        finally:
            self.now -= 1


def _plan(tmp_path, task_file, **extra):
    recipe, raw = load_build_recipe(cot_recipe(tmp_path, task_file, extra=extra))
    return plan_build(recipe, raw, tool_infos=[])


def test_at_most_concurrency_rollouts_are_in_flight_and_tasks_are_not_coroutines(tmp_path, task_file):
    plan = _plan(tmp_path, task_file, concurrency=3, flush_every=5)
    backend = Gauge([ANSWER])
    started_tasks = []

    async def main():
        loop = asyncio.get_running_loop()
        factory = loop.get_task_factory()

        def counting(loop, coro, **kwargs):
            started_tasks.append(coro)
            return asyncio.Task(coro, loop=loop, **kwargs) if factory is None else factory(loop, coro, **kwargs)

        loop.set_task_factory(counting)
        return await run_build(plan, backend, None)

    dataset, stats = asyncio.run(main())
    assert len(dataset) == 24 and stats.done == 24 and backend.calls == 24
    assert backend.most == 3
    assert len(started_tasks) <= 3 + 8  # the workers (and thread hand-offs), not one per task
    assert 2 <= len(dataset.shard_paths()) <= 12  # committed in batches (of about flush_every), not one by one


def test_one_engine_bounds_concurrent_runs_together(tmp_path, task_file):
    plan = _plan(tmp_path, task_file, concurrency=4)
    backend = Gauge([ANSWER])
    engine = Engine(plan, backend, None)
    items, _ = work_items(plan.tasks, plan.provenance.fingerprint, 1, set())
    kept = []

    async def keep(trajectory):
        kept.append(trajectory.trajectory_id)

    async def main():  # two units at once on one engine, as on a Ray actor
        await asyncio.gather(engine.run(items[:12], keep), engine.run(items[12:], keep))

    asyncio.run(main())
    assert sorted(kept) == sorted(item.trajectory_id for item in items)
    assert backend.most == 4
