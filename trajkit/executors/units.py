"""Deterministic work units: the plan's remaining rollouts cut into fixed pieces.

Units follow the plan's task order; a unit holds `unit_size` tasks with all their samples, and
its id hashes the trajectory ids it will produce, so the same recipe over the same committed
data always gives the same units. Rollouts already committed are left out, so a re-run after a
driver died only schedules what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trajkit.plan import WorkItem, work_items
from trajkit.schema import Task, stable_hash


@dataclass
class WorkUnit:
    index: int
    items: list[WorkItem]
    attempts: int = 0
    unit_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.unit_id = stable_hash([tid for _, _, tid in self.items])

    @property
    def trajectory_ids(self) -> list[str]:
        return [tid for _, _, tid in self.items]

    def __len__(self) -> int:
        return len(self.items)


def plan_units(
    tasks: list[Task], fingerprint: str, samples_per_task: int, done_ids: set[str], unit_size: int
) -> tuple[list[WorkUnit], int]:
    """The units still to run and how many rollouts are already committed."""
    units: list[WorkUnit] = []
    skipped = 0
    for start in range(0, len(tasks), unit_size):
        items, done = work_items(tasks[start : start + unit_size], fingerprint, samples_per_task, done_ids)
        skipped += done
        if items:
            units.append(WorkUnit(index=start // unit_size, items=items))
    return units, skipped
