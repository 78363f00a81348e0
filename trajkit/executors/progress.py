"""The driver's view of a cluster build: the build counters plus work units and actors."""

from __future__ import annotations

from dataclasses import dataclass, field

from trajkit.progress import BuildProgress
from trajkit.rollout import BuildStats


@dataclass
class ClusterStats(BuildStats):
    units_total: int = 0
    units_done: int = 0
    units_retried: int = 0
    actors: int = 0
    actors_replaced: int = 0
    workers: set[str] = field(default_factory=set)  # "node/pid" of every actor that returned a unit
    commits: list[tuple[float, int]] = field(default_factory=list)  # (perf_counter, trajectories done)

    def steady_rate(self) -> float | None:
        """Trajectories/s between the first and the last commit (actor start-up left out)."""
        if len(self.commits) < 2:
            return None
        (t0, n0), (t1, n1) = self.commits[0], self.commits[-1]
        return (n1 - n0) / max(t1 - t0, 1e-9)

    def add(self, counts: dict[str, int]) -> None:
        for key, value in counts.items():
            setattr(self, key, getattr(self, key) + value)

    def summary(self) -> dict:
        return {
            **super().summary(),
            "units": f"{self.units_done}/{self.units_total}",
            "units retried": self.units_retried,
            "actors": f"{self.actors} (+{self.actors_replaced} replaced)",
            "nodes": len({w.split("/")[0] for w in self.workers}),
        }


class ClusterProgress(BuildProgress):
    """The build bar (traj/s, tok/s, correct %, errors) with units done / retried and actors."""

    def rates(self, stats) -> str:
        return (
            f"{super().rates(stats)}  units {stats.units_done}/{stats.units_total} "
            f"retried {stats.units_retried}  actors {stats.actors}"
        )
