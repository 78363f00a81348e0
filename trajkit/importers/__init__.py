"""Importers: trajkit JSONL and the paper's reference-code run logs, into new datasets."""

from __future__ import annotations

from pathlib import Path

from trajkit.errors import InputError


def import_file(
    source: str | Path,
    destination: str | Path,
    *,
    format: str = "trajkit",
    source_name: str = "reference",
    domain: str = "qa",
    split: str = "train",
):
    """Read every row first (validated), then write the dataset atomically."""
    from trajkit.store import Lineage, create_atomic

    source = Path(source)
    if format == "trajkit":
        from trajkit.interchange import read_jsonl

        rows = list(read_jsonl(source))
    elif format == "reference":
        from trajkit.importers.reference import import_reference_logs

        rows = list(import_reference_logs(source, source=source_name, split=split, domain=domain))
    else:
        raise InputError(f"unknown import format {format!r}", fix="use trajkit or reference")
    if not rows:
        raise InputError("no trajectories in the file", where=str(source), fix="check that it is the right file")
    lineage = Lineage(operation="import", params={"file": str(source.resolve()), "format": format})
    return create_atomic(destination, rows, lineage=lineage)
