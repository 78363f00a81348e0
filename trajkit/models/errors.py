"""The errors of preparing a registry model: each says what is wrong and what to do."""

from __future__ import annotations

from trajkit.errors import TrajkitError


class ModelError(TrajkitError):
    """An embedded model cannot be prepared."""


class ModelSourceError(ModelError):
    """A chunk package, a part file or the source wheel of a model is missing."""


class ModelHashError(ModelError):
    """A model file's sha256 differs from the registry's."""


class ModelDiskFullError(ModelError):
    """The cache ran out of disk space while a model was assembled."""
