"""Importers: trajkit JSONL, the paper's reference-code run logs, ADP and smolagents memory, into new datasets."""

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
    from trajkit.manifest import Lineage
    from trajkit.store import create_atomic

    source = Path(source)
    if format == "trajkit":
        from trajkit.interchange import read_jsonl

        rows = list(read_jsonl(source))
    elif format == "reference":
        from trajkit.importers.reference import import_reference_logs

        rows = list(import_reference_logs(source, source=source_name, split=split, domain=domain))
    elif format == "adp":
        from trajkit.importers.adp import read_adp

        rows = list(read_adp(source, source=source_name if source_name != "reference" else "adp", split=split, domain=domain))
    elif format == "smolagents":
        from trajkit.importers.smolagents import read_smolagents

        name = source_name if source_name != "reference" else "smolagents"
        rows = list(read_smolagents(source, source=name, split=split, domain=domain))
    else:
        raise InputError(f"unknown import format {format!r}", fix="use trajkit, reference, adp or smolagents")
    if not rows:
        raise InputError("no trajectories in the file", where=str(source), fix="check that it is the right file")
    lineage = Lineage(operation="import", params={"file": str(source.resolve()), "format": format})
    return create_atomic(destination, rows, lineage=lineage)
