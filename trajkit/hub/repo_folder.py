"""The complete repository folder of a dataset (data, charts and card), as `trajkit export` writes it and `trajkit hub push` uploads it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from trajkit.errors import DatasetError
from trajkit.hub.card import card_context, render_card, steps_by_outcome
from trajkit.hub.charts import draw_charts
from trajkit.hub.layout import ASSETS_DIR, CARD, Layout, check_configs, write_data
from trajkit.staging import staged_folder
from trajkit.store import Dataset


def open_valid(source: str | Path | Dataset) -> Dataset:
    """Open a dataset and check every row: nothing invalid is ever published."""
    from trajkit.validate import validate_dataset

    dataset = source if isinstance(source, Dataset) else Dataset.open(source)
    validate_dataset(dataset)
    if len(dataset) == 0:
        raise DatasetError("the dataset is empty: there is nothing to publish", where=str(dataset.path))
    return dataset


def build_layout(
    dataset: Dataset,
    root: Path,
    *,
    configs: Iterable[str] | None = None,
    repo_id: str | None = None,
    license: str = "other",
    pretty_name: str | None = None,
    template: str | Path | None = None,
    rows_per_shard: int | None = None,
) -> Layout:
    """Write data shards, charts and README.md for `dataset` into the (empty) folder `root`."""
    from trajkit.stats import dataset_stats

    chosen = check_configs(configs)
    kwargs = {"rows_per_shard": rows_per_shard} if rows_per_shard else {}
    layout = write_data(dataset, root, chosen, **kwargs)
    charts = draw_charts(dataset_stats([dataset]), steps_by_outcome(dataset), root, ASSETS_DIR)
    layout.charts = [chart.path for chart in charts]
    context = card_context(dataset, layout, repo_id=repo_id, license=license, pretty_name=pretty_name, charts=charts)
    (root / CARD).write_text(render_card(context, template), encoding="utf-8")
    return layout


def export_dataset(
    source: str | Path | Dataset,
    destination: str | Path,
    *,
    overwrite: bool = False,
    **options,
) -> Layout:
    """Write the Hub repository layout of a dataset to a local folder, atomically.

    The folder loads with `datasets.load_dataset(destination, CONFIG)` for each published config and can
    be uploaded as it is. Options are those of `build_layout`.
    """
    destination = Path(destination)
    if destination.exists() and not overwrite:
        raise DatasetError(
            "output path already exists", where=str(destination), fix="choose a new path or pass --overwrite"
        )
    dataset = open_valid(source)
    if destination.resolve() == dataset.path.resolve():
        raise DatasetError("the output is the dataset itself", where=str(destination), fix="export to a new folder")
    with staged_folder(destination) as staging:
        layout = build_layout(dataset, staging, **options)
    layout.root = destination
    return layout
