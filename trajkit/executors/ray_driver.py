"""The Ray executor's driver: actors over work units, exactly-once commits into one dataset.

Design. The driver is the only writer of the dataset. It cuts the remaining rollouts into
deterministic units (`units.plan_units`), starts actors (`worker.RolloutWorker`: one teacher
backend and one sandbox pool each, for their lifetime), keeps `units_in_flight` units queued on
every ready actor, and commits each finished unit as one atomic shard (`Dataset.append_new`,
which also skips ids already stored). Hence:

- exactly once: a trajectory reaches the dataset only through the driver's commit, and a
  commit is one atomic rename; `append_new` drops ids already committed;
- an actor (or its node) that dies loses only its uncommitted units: they are re-queued
  (`unit.attempts`, at most `max_unit_retries` times) and a replacement actor is started,
  wherever Ray finds resources;
- a driver that dies takes its actors with it (Ray owns them through the driver); re-running
  the same command re-plans the units from the committed ids and runs only what is missing.

Errors raised inside an actor (a bad recipe, a missing index) are not retried: they end the
build with the original message.
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from trajkit.errors import ConfigError, ServiceError, TrajkitError, require
from trajkit.executors.config import ExecutorConfig
from trajkit.executors.progress import ClusterProgress, ClusterStats
from trajkit.executors.units import WorkUnit, plan_units
from trajkit.executors.worker import RolloutWorker, UnitResult, shippable
from trajkit.plan import BuildPlan, open_output
from trajkit.store import Dataset

WAIT_S = 0.5  # how long one ray.wait blocks before the progress bar is redrawn


@dataclass
class Slot:
    """One actor as the driver sees it."""

    handle: Any
    ready_ref: Any
    ready: bool = False
    in_flight: set = field(default_factory=set)  # unit refs
    dead: bool = False


def run_on_ray(
    plan: BuildPlan, config: ExecutorConfig, *, retry_failed: bool = False, show_progress: bool = True, label: str = "build"
) -> tuple[Dataset, ClusterStats]:
    """Run every remaining rollout of `plan` on a Ray cluster; returns (dataset, stats)."""
    ray = require("ray", "ray", "the Ray executor (--executor ray)")
    started_here = connect(ray, config.address)
    try:
        dataset = open_output(plan, retry_failed=retry_failed)
        units, skipped = plan_units(
            plan.tasks, plan.provenance.fingerprint, plan.recipe.samples_per_task,
            dataset.trajectory_ids(), config.unit_size,
        )
        stats = ClusterStats(
            total=sum(len(u) for u in units) + skipped, skipped=skipped, units_total=len(units)
        )
        if units:
            if show_progress:
                with ClusterProgress(description=f"{label} {plan.output.name} (ray)") as bar:
                    Dispatcher(ray, plan, config, dataset, stats, bar.update).run(units)
            else:
                Dispatcher(ray, plan, config, dataset, stats, None).run(units)
        return Dataset.open(plan.output), stats
    finally:
        if started_here:
            ray.shutdown()


def connect(ray, address: str | None) -> bool:
    """Join the cluster at `address` (or start one on this machine); True when we started Ray."""
    if ray.is_initialized():
        return False
    try:
        ray.init(
            address=address, logging_level="WARNING", log_to_driver=True,
            **({} if address else {"include_dashboard": False}),
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ServiceError(
            f"cannot connect to the Ray cluster ({_first_line(exc)})",
            where=f"--address {address}",
            fix="start one with `ray start --head` (then --address auto), pass ray://HOST:10001, "
            "or leave --address out to run Ray on this machine",
        ) from None
    return True


class Dispatcher:
    """Keeps every ready actor busy with units and commits what they return."""

    def __init__(self, ray, plan: BuildPlan, config: ExecutorConfig, dataset: Dataset, stats: ClusterStats, progress):
        self.ray = ray
        self.config = config
        self.dataset = dataset
        self.stats = stats
        self.progress = progress
        self.plan_blob = ray.put(shippable(plan))
        self.actor_class = ray.remote(RolloutWorker)
        self.slots: list[Slot] = []
        self.pending: dict[Any, tuple[WorkUnit, Slot]] = {}

    # ----------------------------------------------------------------- main loop

    def run(self, units: list[WorkUnit]) -> None:
        queue = deque(units)
        for _ in range(self._actor_count(len(units))):
            self._start_actor()
        try:
            while queue or self.pending:
                self._assign(queue)
                refs = list(self.pending) + [s.ready_ref for s in self._live() if not s.ready]
                if not refs:  # every actor is being replaced
                    time.sleep(WAIT_S)
                    continue
                done, _ = self.ray.wait(refs, num_returns=1, timeout=WAIT_S)
                for ref in done:
                    self._settle(ref, queue)
                if self.progress is not None:
                    self.progress(self.stats)
        finally:
            self._stop_actors()

    def _assign(self, queue: deque) -> None:
        live = self._live()
        # queue units ahead on an actor only when there are more units than actors, so that
        # the first actor to start does not take work the others could run now
        ahead = self.config.units_in_flight if len(queue) > len(live) else 1
        for slot in live:
            while slot.ready and queue and len(slot.in_flight) < ahead:
                unit = queue.popleft()
                unit.attempts += 1
                ref = slot.handle.run_unit.remote(unit)
                slot.in_flight.add(ref)
                self.pending[ref] = (unit, slot)

    def _settle(self, ref, queue: deque) -> None:
        if ref not in self.pending:  # an actor became ready
            slot = next(s for s in self.slots if s.ready_ref == ref)
            try:
                self.ray.get(ref)
                slot.ready = True
            except self._actor_died() as exc:
                self._replace(slot, exc)
            except self.ray.exceptions.RayTaskError as exc:
                raise _unwrap(exc) from None
            return
        unit, slot = self.pending.pop(ref)
        slot.in_flight.discard(ref)
        try:
            result: UnitResult = self.ray.get(ref)
        except self._actor_died() as exc:
            self._retry(unit, exc, queue)
            self._replace(slot, exc)
            return
        except self.ray.exceptions.RayTaskError as exc:
            raise _unwrap(exc) from None
        self.dataset.append_new(result.table)
        self.stats.add(result.counts)
        self.stats.units_done += 1
        self.stats.workers.add(result.worker)
        self.stats.commits.append((time.perf_counter(), self.stats.done))

    # ------------------------------------------------------------------- faults

    def _actor_died(self) -> tuple[type[BaseException], ...]:
        errors = self.ray.exceptions
        return (errors.RayActorError, errors.WorkerCrashedError, errors.ObjectLostError, errors.NodeDiedError)

    def _retry(self, unit: WorkUnit, exc: BaseException, queue: deque) -> None:
        if unit.attempts > self.config.max_unit_retries:
            raise ServiceError(
                f"work unit {unit.index} ({len(unit)} rollouts) lost its actor {unit.attempts} times "
                f"(last: {_first_line(exc)})",
                where="ray cluster",
                fix="check node health and memory (`ray status`); raise executor.max_unit_retries; "
                "re-running the same command resumes",
            )
        self.stats.units_retried += 1
        queue.appendleft(unit)

    def _replace(self, slot: Slot, exc: BaseException) -> None:
        if slot.dead:
            return
        slot.dead = True
        self.stats.actors -= 1
        try:
            self.ray.kill(slot.handle, no_restart=True)
        except Exception:  # noqa: BLE001  (already gone)
            pass
        if getattr(exc, "actor_init_failed", False):
            raise ServiceError(f"a Ray actor failed to start ({_first_line(exc)})", where="ray cluster") from None
        self.stats.actors_replaced += 1
        self._start_actor()

    # ------------------------------------------------------------------- actors

    def _start_actor(self) -> None:
        options = {**self.config.ray_options(), "max_restarts": 0, "max_task_retries": 0}
        if self.config.spread:
            options["scheduling_strategy"] = "SPREAD"
        handle = self.actor_class.options(**options).remote(self.plan_blob, os.getcwd())
        self.slots.append(Slot(handle=handle, ready_ref=handle.ready.remote()))
        self.stats.actors += 1

    def _live(self) -> list[Slot]:
        return [s for s in self.slots if not s.dead]

    def _actor_count(self, units: int) -> int:
        resources = self.ray.cluster_resources()
        fitting = fitting_actors(resources, self.config)
        if fitting == 0:
            have = ", ".join(f"{k} {v:g}" for k, v in sorted(resources.items()) if not k.startswith("node:"))
            raise ConfigError(
                f"no actor fits on this Ray cluster: each asks for {self.config.actor_resources}, the cluster has {have}",
                where="executor.actor_resources",
                fix="lower the per-actor resources, or add nodes that have them",
            )
        return self.config.actors or max(1, min(units, fitting))

    def _stop_actors(self) -> None:
        live = self._live()
        closing = [s.handle.close.remote() for s in live if s.ready]
        if closing:
            try:
                self.ray.wait(closing, num_returns=len(closing), timeout=30)
            except Exception:  # noqa: BLE001  (best effort: the actors are killed next)
                pass
        for slot in live:
            try:
                self.ray.kill(slot.handle, no_restart=True)
            except Exception:  # noqa: BLE001
                pass


def fitting_actors(resources: dict[str, float], config: ExecutorConfig) -> int:
    """How many actors of `config.actor_resources` the cluster's totals hold."""
    names = {"num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}
    counts = []
    for key, need in config.actor_resources.items():
        if need and need > 0:
            counts.append(int(resources.get(names.get(key, key), 0) // need))
    return min(counts) if counts else 1


def _unwrap(exc) -> BaseException:
    """The exception raised inside an actor: a TrajkitError as it was, anything else as a
    ServiceError with its first line."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, TrajkitError):
        return cause
    return ServiceError(f"a rollout failed inside a Ray actor ({_first_line(cause or exc)})", where="ray cluster")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
