"""`trajkit review pull`: read reviewers' responses back into a new dataset version.

Only the `review` column changes: every other column of the source is carried over as stored
(Arrow columns copied, not re-serialised), and the new version records its lineage. The
source dataset is never modified.

How responses become a `Review`:
- every annotator's response is kept in `review.responses`, whatever its status
  (submitted, draft, discarded), with the annotator's username and the time of the response;
- the consolidated fields (label, rating, tags, corrected answer, comment, annotator, at) use
  *submitted* responses only. Drafts are unfinished and discarded means "skipped" — they never
  decide a label;
- review.status: "submitted" if anyone submitted, else "draft" if anyone has a draft, else
  "discarded" if every response was discarded, else "pending" (pushed, not reviewed yet);
- several annotators: label by majority, ties resolved to "reject" (a tie is no consensus to
  train on); rating = mean; tags = union; corrected answer = the most common one (ties: the
  latest); comments joined as "annotator: comment" lines;
- trajectories never pushed keep the review they had (usually none).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from trajkit.curate.client import Target, api_error, connect
from trajkit.curate.push import open_or_create, resolve_workspace
from trajkit.curate.records import COMMENT, CORRECTED, ERROR_TAGS, QUALITY, VERDICT
from trajkit.errors import ConfigError, ServiceError
from trajkit.schema import Review, ReviewResponse

PAGE = 1000  # the server's largest page for listing records


@dataclass
class PullResult:
    path: str
    rows: int
    records: int  # records found in Argilla
    status_counts: dict[str, int] = field(default_factory=dict)  # consolidated review.status
    labels: dict[str, int] = field(default_factory=dict)
    not_pushed: int = 0  # trajectories of the source without an Argilla record
    unknown_records: int = 0  # Argilla records whose id is not a trajectory of the source
    annotators: list[str] = field(default_factory=list)


def fetch_responses(client, dataset_id, where: str) -> dict[str, list[dict]]:
    """external id (= trajectory id) -> raw response dicts, for every record of the dataset."""
    by_record: dict[str, list[dict]] = {}
    seen: set[str] = set()
    offset, total = 0, None
    while total is None or offset < total:
        try:
            response = client.http_client.get(
                f"/api/v1/datasets/{dataset_id}/records",
                params={"offset": offset, "limit": PAGE, "include": ["responses"]},
            )
            response.raise_for_status()
        except Exception as exc:
            raise api_error(exc, where, "reading records") from None
        body = response.json()
        total = body["total"]
        items = body["items"]
        if not items:
            break
        for item in items:
            seen.add(item["id"])
            by_record[str(item.get("external_id") or item["id"])] = item.get("responses") or []
        offset += len(items)
    if total is not None and len(seen) < total:
        raise ServiceError(
            f"records changed while reading ({len(seen)} of {total} read)",
            where=where,
            fix="run `trajkit review pull` again once nobody is pushing to this dataset",
        )
    return by_record


def usernames(client) -> dict[str, str]:
    """user id -> username (owners and admins may list users; otherwise ids are kept)."""
    try:
        response = client.http_client.get("/api/v1/users")
        response.raise_for_status()
    except Exception:
        return {}
    return {str(u["id"]): u["username"] for u in response.json().get("items", [])}


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def to_response(raw: dict, names: dict[str, str]) -> ReviewResponse:
    values = raw.get("values") or {}

    def value(name):
        return (values.get(name) or {}).get("value")

    rating = value(QUALITY)
    return ReviewResponse(
        annotator=names.get(str(raw["user_id"]), f"user:{raw['user_id']}"),
        status=raw["status"],
        label=value(VERDICT),
        rating=int(rating) if rating is not None else None,
        tags=sorted(value(ERROR_TAGS) or []),
        comment=value(COMMENT) or None,
        corrected_answer=value(CORRECTED) or None,
        at=_time(raw.get("updated_at") or raw.get("inserted_at")),
    )


def consolidate(responses: list[ReviewResponse]) -> Review:
    responses = sorted(responses, key=lambda r: (r.annotator, r.at or datetime.min.replace(tzinfo=UTC)))
    submitted = [r for r in responses if r.status == "submitted"]
    if not submitted:
        statuses = {r.status for r in responses}
        status = "draft" if "draft" in statuses else "discarded" if statuses else "pending"
        return Review(status=status, responses=responses)
    votes = Counter(r.label for r in submitted if r.label)
    label = None
    if votes:
        ranked = votes.most_common()
        label = ranked[0][0]
        if len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
            label = "reject"
    ratings = [r.rating for r in submitted if r.rating is not None]
    by_time = sorted(submitted, key=lambda r: r.at or datetime.min.replace(tzinfo=UTC))
    corrections = [r.corrected_answer for r in by_time if r.corrected_answer]
    corrected = None
    if corrections:
        counts = Counter(corrections)
        best = max(counts.values())
        corrected = [c for c in reversed(corrections) if counts[c] == best][0]
    comments = [f"{r.annotator}: {r.comment}" for r in submitted if r.comment]
    return Review(
        status="submitted",
        label=label,
        rating=sum(ratings) / len(ratings) if ratings else None,
        tags=sorted({tag for r in submitted for tag in r.tags}),
        comment="\n".join(comments) or None,
        corrected_answer=corrected,
        annotator=", ".join(r.annotator for r in submitted),
        at=max((r.at for r in submitted if r.at), default=None),
        responses=responses,
    )


def pull(
    dataset_path: str | Path,
    out_path: str | Path,
    target: Target,
    *,
    name: str | None = None,
    workspace: str | None = None,
    overwrite: bool = False,
) -> PullResult:
    """Write a new version of `dataset_path` at `out_path` with the reviews from Argilla."""
    import pyarrow as pa

    from trajkit.schema import arrow_schema
    from trajkit.store import Dataset, derive

    source = Dataset.open(dataset_path)
    if Path(out_path).exists() and not overwrite:
        from trajkit.errors import DatasetError

        raise DatasetError("output path already exists", where=str(out_path), fix="choose a new path")
    name = name or source.name
    client = connect(target)
    remote_workspace = resolve_workspace(client, workspace, create=False)
    where = f"{target.api_url} {remote_workspace.name}/{name}"
    remote, _ = open_or_create(client, name, remote_workspace, where=where, create=False)
    if remote is None:
        raise ConfigError(
            f"no Argilla dataset named {name!r} in workspace {remote_workspace.name!r}",
            where=target.api_url,
            fix="push it first with `trajkit review push`, or pass the right --name / --workspace",
        )
    raw_by_id = fetch_responses(client, remote.id, where)
    names = usernames(client)

    table = source.to_arrow()
    ids = table.column("trajectory_id").to_pylist()
    old_reviews = table.column("review").to_pylist()
    reviews, statuses, labels, annotators = [], Counter(), Counter(), set()
    not_pushed = 0
    for trajectory_id, old in zip(ids, old_reviews, strict=True):
        if trajectory_id not in raw_by_id:
            not_pushed += 1
            reviews.append(old)
            continue
        review = consolidate([to_response(raw, names) for raw in raw_by_id[trajectory_id]])
        statuses[review.status] += 1
        if review.label:
            labels[review.label] += 1
        annotators.update(r.annotator for r in review.responses)
        reviews.append(review.model_dump())
    review_type = arrow_schema().field("review").type
    column = pa.array(reviews, type=review_type)
    table = table.set_column(table.schema.get_field_index("review"), arrow_schema().field("review"), column)
    known = set(ids)
    result = PullResult(
        path=str(out_path),
        rows=table.num_rows,
        records=len(raw_by_id),
        status_counts=dict(statuses),
        labels=dict(labels),
        not_pushed=not_pushed,
        unknown_records=sum(1 for rid in raw_by_id if rid not in known),
        annotators=sorted(annotators),
    )
    derive(
        [source],
        out_path,
        table,
        operation="review_pull",
        params={
            "api_url": target.api_url,
            "workspace": remote_workspace.name,
            "argilla_dataset": name,
            "argilla_dataset_id": str(remote.id),
            "review_status": result.status_counts,
            "labels": result.labels,
            "annotators": result.annotators,
        },
        overwrite=overwrite,
    )
    return result
