"""What loading tasks did: the `LoadReport` (counts, skips, repairs, warnings) and the
`TaskSet` it comes with.

Nothing defective is fatal to a load: each skipped or repaired record is counted here, with one
warning per kind of defect (`summarize_defects`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from trajkit.schema import Task


@dataclass(frozen=True)
class Defect:
    where: str  # file or dataset
    record: str  # id or position of the record
    reason: str


@dataclass
class LoadReport:
    """What loading did: counts, a warning per kind of defect, each skipped record."""

    source: str
    counts: Counter = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    skipped: list[Defect] = field(default_factory=list)
    repaired: list[Defect] = field(default_factory=list)

    def skip(self, where: str, record: Any, reason: str) -> None:
        self.counts["skipped"] += 1
        self.counts[f"skipped: {reason}"] += 1
        self.skipped.append(Defect(where, str(record), reason))

    def repair(self, where: str, record: Any, what: str) -> None:
        self.counts["repaired"] += 1
        self.counts[f"repaired: {what}"] += 1
        self.repaired.append(Defect(where, str(record), what))

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def summarize_defects(self) -> None:
        """One warning per kind of skip or repair, with a few examples."""
        for verb, defects in (("skipped", self.skipped), ("repaired", self.repaired)):
            groups: dict[tuple[str, str], list[str]] = defaultdict(list)
            for defect in defects:
                groups[(defect.where, defect.reason)].append(defect.record)
            for (where, reason), records in groups.items():
                examples = ", ".join(records[:3]) + (", ..." if len(records) > 3 else "")
                noun = "record" if len(records) == 1 else "records"
                self.warn(f"{where}: {len(records)} {noun} {verb} ({reason}): {examples}")

    @property
    def ok(self) -> bool:
        return not self.skipped and not self.warnings


@dataclass
class TaskSet:
    tasks: list[Task]
    report: LoadReport

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self):
        return iter(self.tasks)

    def breakdown(self) -> list[tuple[str, str, str, int]]:
        """(source, split, domain, count), sorted."""
        counts = Counter((t.source, t.split, t.domain) for t in self.tasks)
        return sorted((s, sp, d, n) for (s, sp, d), n in counts.items())
