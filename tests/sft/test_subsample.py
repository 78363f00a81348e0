"""`subsample: N` in a training recipe: at most N of the trajectories the filter keeps, drawn with
the recipe's seed, the same draw on every machine (equal budgets across students)."""

from __future__ import annotations

from tests.factories import make_trajectory
from trajkit.sft.prepare import prepare, subsampled
from trajkit.sft.recipe import Recipe
from trajkit.store import Dataset


def _data(tmp_path):
    dataset = Dataset.create(tmp_path / "data")
    dataset.append([make_trajectory(i, n_steps=2, correct=i % 4 != 0) for i in range(12)])
    return str(dataset.path)


def _questions(prepared_recipe: Recipe, logs: list[str]) -> set[str]:
    prepared = prepare(prepared_recipe, log=logs.append)
    return {example.trajectory_id for example in prepared.examples}


def test_subsample_draws_n_of_the_kept_trajectories_by_seed(tmp_path):
    data = _data(tmp_path)
    recipe = {"model": "embedded", "dataset": data, "filter": "paper", "output_dir": str(tmp_path / "out")}
    logs: list[str] = []
    first = _questions(Recipe.model_validate({**recipe, "subsample": 4, "seed": 0}), logs)
    again = _questions(Recipe.model_validate({**recipe, "subsample": 4, "seed": 0}), [])
    other = _questions(Recipe.model_validate({**recipe, "subsample": 4, "seed": 1}), [])
    everything = _questions(Recipe.model_validate({**recipe, "subsample": 50}), [])
    assert len(first) == 4 and first == again and first != other
    assert len(everything) == 9 and first <= everything  # the filter keeps the 9 correct ones, then the draw
    assert any("subsample: 4 of 9, seed 0" in line for line in logs)


def test_the_draw_does_not_depend_on_the_order_trajectories_are_read():
    class Row:
        def __init__(self, i):
            self.trajectory_id = f"t{i:02d}"

    rows = [Row(i) for i in range(20)]
    drawn, available = subsampled(rows, 5, 3)
    again, _ = subsampled(list(reversed(rows)), 5, 3)
    assert available == 20 and [r.trajectory_id for r in drawn] == [r.trajectory_id for r in again]
    # without a draw too: every trajectory, in id order, whatever order they were read in
    assert subsampled(list(reversed(rows)), None, 0) == (rows, 20)
    assert subsampled(list(reversed(rows)), 30, 0) == (rows, 20)


def test_training_examples_come_in_id_order_from_a_filtered_read_of_many_shards(tmp_path):
    dataset = Dataset.create(tmp_path / "data")
    for shard in range(4):  # four shards written in an order unrelated to the ids
        dataset.append([make_trajectory(i, n_steps=2) for i in range(shard, 24, 4)])
    recipe = Recipe.model_validate({"model": "embedded", "dataset": str(dataset.path), "filter": "paper",
                                    "output_dir": str(tmp_path / "out")})
    ids = [example.trajectory_id for example in prepare(recipe).examples]
    assert len(ids) == 24 and ids == sorted(ids)
