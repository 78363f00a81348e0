"""What a sandboxed interpreter may do: limits and the import allow-list.

A `SandboxPolicy` is a plain, JSON-serialisable value. The parent sends it to the sandbox
process once (`to_config`), and `describe` renders it for provenance (`ToolInfo.version`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from trajkit.errors import ConfigError

# The paper's CodeAct agent allowed exactly these modules (smolagents' authorized imports).
DEFAULT_ALLOWED_IMPORTS: tuple[str, ...] = (
    "collections",
    "datetime",
    "itertools",
    "math",
    "queue",
    "random",
    "re",
    "stat",
    "statistics",
    "time",
    "unicodedata",
    "numpy",
    "sympy",
)


@dataclass(frozen=True)
class SandboxPolicy:
    """Limits of one sandboxed interpreter. Every limit applies to each step separately."""

    allowed_imports: tuple[str, ...] = DEFAULT_ALLOWED_IMPORTS
    wall_time_s: float = 10.0  # per step, not counting time spent inside tool calls
    cpu_time_s: float = 10.0  # per step
    memory_mb: int = 1024  # address space of the step's process
    max_processes: int = 64  # per interpreter family (an interpreter and its forks)
    max_file_mb: int = 64  # largest file the code may write (in its scratch directory)
    max_open_files: int = 128
    max_output_chars: int = 20_000  # stdout kept in the result; the rest is cut
    max_output_total_chars: int = 2_000_000  # printing more than this ends the step (output_limit)
    max_value_chars: int = 10_000  # repr of the last expression's value
    max_answer_chars: int = 100_000  # JSON text of final_answer(...)
    preimport: tuple[str, ...] = field(default=())  # extra modules loaded in the template process
    python_guards: bool = True  # import allow-list + audit hook; False only to test the OS layer
    require_isolation: bool = False  # refuse to start without network/process namespaces

    def __post_init__(self) -> None:
        numbers = {
            "wall_time_s": self.wall_time_s,
            "cpu_time_s": self.cpu_time_s,
            "memory_mb": self.memory_mb,
            "max_processes": self.max_processes,
            "max_file_mb": self.max_file_mb,
            "max_open_files": self.max_open_files,
            "max_output_chars": self.max_output_chars,
            "max_output_total_chars": self.max_output_total_chars,
            "max_value_chars": self.max_value_chars,
            "max_answer_chars": self.max_answer_chars,
        }
        for name, value in numbers.items():
            if not isinstance(value, int | float) or value <= 0:
                raise ConfigError(
                    f"sandbox policy {name} must be a positive number, got {value!r}",
                    where=f"SandboxPolicy.{name}",
                )
        if self.memory_mb < 256:
            raise ConfigError(
                f"memory_mb={self.memory_mb} is too small for a Python interpreter with numpy",
                where="SandboxPolicy.memory_mb",
                fix="use at least 256",
            )
        if self.max_open_files < 32:
            raise ConfigError(
                "max_open_files must be at least 32", where="SandboxPolicy.max_open_files"
            )
        for name in (*self.allowed_imports, *self.preimport):
            if not isinstance(name, str) or not all(p.isidentifier() for p in name.split(".")):
                raise ConfigError(
                    f"{name!r} is not a module name", where="SandboxPolicy.allowed_imports"
                )
        object.__setattr__(self, "allowed_imports", tuple(self.allowed_imports))
        object.__setattr__(self, "preimport", tuple(self.preimport))

    def replace(self, **changes) -> SandboxPolicy:
        return dataclasses.replace(self, **changes)

    def to_config(self) -> dict:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """Short stable text for provenance: a hash of every setting."""
        body = json.dumps(self.to_config(), sort_keys=True)
        return "policy-" + hashlib.sha256(body.encode()).hexdigest()[:12]
