"""The recipe: shipped files, validation errors with YAML paths and lines, TRL settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from trajkit.errors import ConfigError
from trajkit.sft.recipe import load_recipe, validate_recipe

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted((REPO / "recipes").glob("sft-*.yaml"))


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def test_shipped_recipes_are_valid():
    names = {p.name for p in RECIPES}
    assert {"sft-demo.yaml", "sft-qwen2.5-0.5b.yaml", "sft-qwen2.5-1.5b.yaml", "sft-qwen2.5-3b.yaml"} <= names
    for path in RECIPES:
        load_recipe(path)


@pytest.mark.parametrize("size", ["0.5", "1.5", "3"])
def test_paper_recipes_match_the_paper(size):
    recipe = load_recipe(REPO / "recipes" / f"sft-qwen2.5-{size}b.yaml")
    assert recipe.model.name == f"Qwen/Qwen2.5-{size.upper()}B-Instruct"
    assert (recipe.lora.r, recipe.lora.alpha) == (64, 128)
    t = recipe.training
    assert (t.learning_rate, t.epochs, t.max_length, t.precision) == (2e-4, 2, 10240, "bf16")
    assert recipe.filter.presets == ["paper"]
    text = (REPO / "recipes" / f"sft-qwen2.5-{size}b.yaml").read_text()
    assert "accelerate launch" in text and "-m trajkit.sft.train" in text and "torchrun" in text


def test_demo_recipe_is_a_small_cpu_run():
    recipe = load_recipe(REPO / "recipes" / "sft-demo.yaml")
    assert recipe.model.name == "embedded"
    t = recipe.training
    assert t.precision == "fp32" and not t.gradient_checkpointing
    assert 0 < t.max_steps <= 60 and t.max_length <= 1024


def test_unknown_key_names_path_and_line(tmp_path):
    path = _write(tmp_path, "dataset: synthetic:8\noutput_dir: out\ntraining:\n  learning_rate: 1e-4\n  epoch: 3\n")
    with pytest.raises(ConfigError) as info:
        load_recipe(path)
    message = str(info.value)
    assert f"{path}:5: training.epoch" in message and "unknown key" in message
    assert "epochs" in message  # the known keys are listed


def test_bad_value_names_path_and_line(tmp_path):
    path = _write(tmp_path, "dataset: synthetic:8\noutput_dir: out\nlora:\n  r: 0\n")
    with pytest.raises(ConfigError, match=r"recipe.yaml:4: lora.r.*greater than or equal to 1"):
        load_recipe(path)
    path = _write(tmp_path, "dataset: synthetic:8\noutput_dir: out\ntraining: {precision: fp8}\n")
    with pytest.raises(ConfigError, match=r"training.precision"):
        load_recipe(path)


def test_missing_required_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="output_dir"):
        load_recipe(_write(tmp_path, "dataset: synthetic:8\n"))
    with pytest.raises(ConfigError, match=r"recipe.yaml:2: not valid YAML"):
        load_recipe(_write(tmp_path, "dataset: [a\noutput_dir: : x\n"))
    with pytest.raises(ConfigError, match="no such recipe file"):
        load_recipe(tmp_path / "nope.yaml")


def test_shorthands():
    recipe = validate_recipe({"model": "Qwen/x", "dataset": "d", "filter": "paper, no-exec-errors", "output_dir": "o"})
    assert recipe.model.name == "Qwen/x" and recipe.dataset == ["d"]
    assert recipe.filter.presets == ["paper", "no-exec-errors"] and "correct" in recipe.where()
    sql = validate_recipe({"dataset": ["d"], "filter": "n_steps <= 3", "output_dir": "o"})
    assert sql.where() == "(n_steps <= 3)"
    assert validate_recipe({"dataset": "d", "output_dir": "o"}).where() is None
    assert validate_recipe({"dataset": "d", "output_dir": "o"}).lora is None  # full fine-tuning
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        validate_recipe({"dataset": "d", "filter": ["nope"], "output_dir": "o"})


def test_overrides(tmp_path):
    path = _write(tmp_path, "model: embedded\ndataset: synthetic:8\noutput_dir: out\n")
    recipe = load_recipe(path, ["training.max_steps=5", "lora.r=8", "model.dtype=bfloat16", "dataset=[a, b]"])
    assert recipe.training.max_steps == 5 and recipe.lora.r == 8 and recipe.model.dtype == "bfloat16"
    assert recipe.dataset == ["a", "b"]
    with pytest.raises(ConfigError, match="--set training.max_steps"):
        load_recipe(path, ["training.max_steps=0"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_recipe(path, ["training.max_steps"])


def test_sft_config_sets_every_version_sensitive_default(tmp_path):
    from trajkit.sft.train import sft_config, sft_config_kwargs

    recipe = load_recipe(REPO / "recipes" / "sft-demo.yaml")
    config = sft_config(recipe, tmp_path)
    assert config.gradient_checkpointing is False and config.bf16 is False and config.fp16 is False
    assert config.learning_rate == recipe.training.learning_rate
    assert config.max_length == recipe.training.max_length
    assert config.assistant_only_loss is False and config.report_to in ([], "none", ["none"])
    assert config.per_device_train_batch_size == recipe.training.batch_size
    # bf16 needs a GPU (TRL refuses it here), so check the arguments the recipe produces
    paper = sft_config_kwargs(load_recipe(REPO / "recipes" / "sft-qwen2.5-1.5b.yaml"), tmp_path)
    assert paper["bf16"] is True and paper["gradient_checkpointing"] is True
    assert paper["num_train_epochs"] == 2 and paper["learning_rate"] == 2e-4 and paper["max_length"] == 10240


def test_sft_config_extra_fields_are_checked(tmp_path):
    from trajkit.sft.train import sft_config

    base = {"dataset": "d", "output_dir": "o"}
    ok = validate_recipe({**base, "training": {"extra": {"dataloader_num_workers": 2}}})
    assert sft_config(ok, tmp_path).dataloader_num_workers == 2
    with pytest.raises(ConfigError, match="training.extra.not_a_field"):
        sft_config(validate_recipe({**base, "training": {"extra": {"not_a_field": 1}}}), tmp_path)
    with pytest.raises(ConfigError, match="set by the recipe itself"):
        sft_config(validate_recipe({**base, "training": {"extra": {"learning_rate": 1.0}}}), tmp_path)
