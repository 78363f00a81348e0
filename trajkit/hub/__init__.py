"""Publishing datasets: the Hub repository layout, the dataset card, push, pull and export.

    layout.py  Parquet shards per config (`trajectories`, `sft`) and split
    card.py    the dataset card from the Jinja templates in trajkit/cards/
    charts.py  chart images for the card (matplotlib, optional)
    build.py   the complete layout of a dataset; `export_dataset` (trajkit export)
    push.py    `push_dataset` / `pull_dataset` (trajkit push / pull) with huggingface_hub

Importing this package is cheap: pyarrow, jinja2, matplotlib and huggingface_hub are imported
by the functions that use them.
"""

from __future__ import annotations

__all__ = ["build_layout", "export_dataset", "push_dataset", "pull_dataset", "PushResult", "PullResult"]


def __getattr__(name: str):
    if name in ("build_layout", "export_dataset"):
        from trajkit.hub import build

        return getattr(build, name)
    if name in ("push_dataset", "pull_dataset", "PushResult", "PullResult"):
        from trajkit.hub import push

        return getattr(push, name)
    raise AttributeError(name)
