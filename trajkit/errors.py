"""Errors a user can cause.

Every such error says what was wrong, where (file, line, field) and what to do. The CLI
prints it on one line and exits with status 2; no traceback unless `--debug`.
"""

from __future__ import annotations


class TrajkitError(Exception):
    """Base class for user-facing errors."""

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None):
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        parts = [f"{self.where}: {self.what}" if self.where else self.what]
        if self.fix:
            parts.append(self.fix)
        return " — ".join(parts)


class InputError(TrajkitError):
    """A file or value given by the user is malformed or missing."""


class SchemaError(InputError):
    """Data does not match the trajectory schema (missing field, wrong type, bad value)."""


class SchemaVersionError(SchemaError):
    """Data was written with a schema version this trajkit cannot read."""


class DatasetError(TrajkitError):
    """A dataset directory is missing, damaged or inconsistent."""


class QueryError(TrajkitError):
    """A SQL statement or predicate failed."""


class ConfigError(TrajkitError):
    """A recipe or option is invalid."""


class MissingExtraError(TrajkitError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str, purpose: str):
        super().__init__(
            f"{purpose} needs the Python package '{package}', which is not installed",
            fix=f"install it with: pip install 'trajkit[{extra}]'",
        )


class ServiceError(TrajkitError):
    """An external service (teacher server, Argilla, Hub, retriever) failed or is unreachable."""


def require(module: str, extra: str, purpose: str):
    """Import an optional heavy module, or raise an error naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module.split(".")[0], extra, purpose) from exc
