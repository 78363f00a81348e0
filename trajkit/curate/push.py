"""`trajkit review push`: send trajectories to an Argilla dataset for human review.

The Argilla dataset is created on first push (settings from `trajkit.curate.records`) and
checked on later pushes. Record id = trajectory id, so pushing again updates records in place
(annotators' responses are kept) instead of duplicating them. Records go in batches through
the SDK's bulk upsert (no read-back of the whole dataset after each batch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from trajkit.curate.client import Target, api_error, connect, find_dataset
from trajkit.errors import ConfigError, InputError
from trajkit.schema import Trajectory

MAX_BATCH = 500  # the server's limit per bulk upsert


@dataclass(frozen=True)
class PushResult:
    name: str
    workspace: str
    url: str
    pushed: int
    created: bool  # the Argilla dataset was created by this push
    dataset_url: str


def select_trajectories(dataset_path: str | Path, where: str | None) -> tuple[object, int, Iterator[Trajectory]]:
    """(dataset, count, trajectories): the predicate runs now, so a bad one fails before any
    remote change; the trajectories are then streamed."""
    from trajkit.store import Dataset

    dataset = Dataset.open(dataset_path)
    if not where:
        return dataset, len(dataset), dataset.trajectories()
    from trajkit.query import select_rows

    table = select_rows([dataset], where)
    rows = (Trajectory.model_validate(row) for batch in table.to_batches(1024) for row in batch.to_pylist())
    return dataset, table.num_rows, rows


def question_vectors(trajectories: list[Trajectory]) -> list[list[float]]:
    """Question embeddings, computed once per distinct question."""
    from trajkit.models.sentence_encoder import embed

    questions = sorted({t.task.question for t in trajectories})
    vectors = embed(questions) if questions else []
    by_question = {q: vectors[i].tolist() for i, q in enumerate(questions)}
    return [by_question[t.task.question] for t in trajectories]


def resolve_workspace(client, name: str | None, *, create: bool):
    import warnings

    import argilla as rg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name:
            workspace = client.workspaces(name=name)
        else:
            try:
                workspace = client.workspaces.default
            except Exception:  # the SDK raises when the user has no workspace
                workspace = None
            name = "argilla"
    if workspace is None and create:
        workspace = rg.Workspace(name=name, client=client).create()
    if workspace is None:
        raise ConfigError(f"no Argilla workspace named {name!r}", fix="check --workspace")
    return workspace


def open_or_create(client, name: str, workspace, *, where: str, create: bool = True):
    """The remote dataset (settings checked), created when missing. Returns (dataset, created)."""
    import argilla as rg

    from trajkit.curate.records import argilla_settings, check_settings

    remote = find_dataset(client, name, workspace.name)
    if remote is not None:
        check_settings(remote, where=where)
        return remote, False
    if not create:
        return None, False
    remote = rg.Dataset(name=name, workspace=workspace, settings=argilla_settings(rg), client=client)
    try:
        remote.create()
    except Exception as exc:
        raise api_error(exc, where, "creating the dataset") from None
    return remote, True


def batches(items, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def push(
    dataset_path: str | Path,
    target: Target,
    *,
    where: str | None = None,
    name: str | None = None,
    workspace: str | None = None,
    batch_size: int = 250,
    vectors: bool = True,
    on_batch: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> PushResult:
    """Push the trajectories of a dataset (optionally those matching `where`) to Argilla."""
    from trajkit.curate.records import to_record

    source, total, trajectories = select_trajectories(dataset_path, where)  # bad input fails first
    if total == 0:
        raise InputError(
            "no trajectories to push" + (" match the --where predicate" if where else " (the dataset is empty)"),
            where=str(dataset_path),
        )
    name = name or source.name
    client = connect(target)
    remote_workspace = resolve_workspace(client, workspace, create=True)
    where_remote = f"{target.api_url} {remote_workspace.name}/{name}"
    remote, created = open_or_create(client, name, remote_workspace, where=where_remote)
    if on_total:
        on_total(total)
    import argilla as rg  # present: connect() checked

    pushed = 0
    for chunk in batches(trajectories, max(1, min(batch_size, MAX_BATCH))):
        embeddings = question_vectors(chunk) if vectors else [None] * len(chunk)
        models = [to_record(rg, traj, vector, remote).api_model() for traj, vector in zip(chunk, embeddings, strict=True)]
        try:
            client.api.records.bulk_upsert(dataset_id=remote.id, records=models)
        except Exception as exc:
            raise api_error(exc, where_remote, f"sending records {pushed}..{pushed + len(chunk)}") from None
        pushed += len(chunk)
        if on_batch:
            on_batch(len(chunk))
    return PushResult(
        name=name,
        workspace=remote_workspace.name,
        url=target.api_url,
        pushed=pushed,
        created=created,
        dataset_url=f"{target.api_url}/dataset/{remote.id}/annotation-mode",
    )
