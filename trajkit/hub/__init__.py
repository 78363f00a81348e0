"""Publishing datasets: the Hub repository layout, the dataset card, push, pull and export.

    layout.py  Parquet shards per config and split
    configs.py the rows of each config: `trajectories`, `sft` (what `trajkit train` trains on),
               `sft_tool_calls` (OpenAI-style, opt-in)
    card.py    the dataset card from the Jinja templates in trajkit/cards/
    trl_snippet.py
               the card's TRL recipe: the `sft` config with trajkit's loss masks
    charts.py  chart images for the card (matplotlib, optional)
    repo_folder.py
               the complete repository folder of a dataset; `export_dataset` (trajkit export)
    client.py  repo ids, tokens, the huggingface_hub client and its errors as trajkit errors
    push.py    `push_dataset` (trajkit push): one atomic commit of the changed files
    pull.py    `pull_dataset` (trajkit pull): the `trajectories` config into a dataset directory

Importing this package is cheap: pyarrow, jinja2, matplotlib and huggingface_hub are imported
by the functions that use them.
"""

from __future__ import annotations

__all__ = ["build_layout", "export_dataset", "push_dataset", "pull_dataset", "PushResult", "PullResult"]


def __getattr__(name: str):
    if name in ("build_layout", "export_dataset"):
        from trajkit.hub import repo_folder

        return getattr(repo_folder, name)
    if name in ("push_dataset", "PushResult"):
        from trajkit.hub import push

        return getattr(push, name)
    if name in ("pull_dataset", "PullResult"):
        from trajkit.hub import pull

        return getattr(pull, name)
    raise AttributeError(name)
