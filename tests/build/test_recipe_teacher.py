"""The `teacher:` block of a recipe is typed per backend, and a bad block is one line naming its YAML path."""

import pytest
import yaml

from trajkit.errors import ConfigError
from trajkit.evaluate import load_eval_recipe
from trajkit.recipe import load_build_recipe
from trajkit.teachers.config import LlamaCppTeacher, LocalTeacher, OpenAITeacher, ScriptedTeacher


def _recipe(tmp_path, teacher, key="teacher"):
    body = {"tasks": "seed", "output": str(tmp_path / "out"), key: teacher}
    if key == "model":
        body = {"benchmarks": [{"tasks": "seed"}], "output": str(tmp_path / "out"), "model": teacher}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


@pytest.mark.parametrize(
    ("teacher", "config_type"),
    [
        (None, LocalTeacher),
        ({"model": "embedded"}, LocalTeacher),
        ({"backend": "openai", "base_url": ["http://a/v1", "http://b/v1"]}, OpenAITeacher),
        ({"backend": "llamacpp", "parallel": 2}, LlamaCppTeacher),
        ({"backend": "scripted", "responses": ["hi"]}, ScriptedTeacher),
    ],
)
def test_each_backend_has_its_own_config(tmp_path, teacher, config_type):
    recipe, raw = load_build_recipe(_recipe(tmp_path, teacher))
    assert isinstance(recipe.teacher, config_type)
    assert raw["teacher"] == teacher  # the block as written (the provenance reads it)


def test_backend_defaults_live_in_the_config(tmp_path):
    recipe, _ = load_build_recipe(_recipe(tmp_path, {"backend": "llamacpp"}))
    assert (recipe.teacher.timeout_s, recipe.teacher.max_retries, recipe.teacher.backoff_max_s) == (600.0, 4, 5.0)


@pytest.mark.parametrize(
    ("teacher", "words", "where"),
    [
        ({"backend": "tgi"}, "unknown teacher backend 'tgi'", "teacher.backend"),
        ({"backend": "openai", "max_concurency": 4}, "unknown option(s) for the openai backend: max_concurency", "teacher"),
        ({"backend": "openai", "api_key": "sk-secret"}, "API keys do not go into recipes", "teacher.api_key"),
        ({"backend": "local", "max_batch": "lots"}, "invalid local backend options (max_batch", "teacher.max_batch"),
    ],
)
def test_a_bad_teacher_block_is_one_line_naming_its_yaml_path(tmp_path, teacher, words, where):
    path = _recipe(tmp_path, teacher)
    with pytest.raises(ConfigError) as info:
        load_build_recipe(path)
    assert words in str(info.value) and "\n" not in str(info.value)
    assert info.value.where == f"{path}: {where}"
    assert "sk-secret" not in str(info.value)


def test_a_bad_eval_model_block_names_the_model_key(tmp_path):
    path = _recipe(tmp_path, {"backend": "tgi"}, key="model")
    with pytest.raises(ConfigError, match="unknown teacher backend 'tgi'") as info:
        load_eval_recipe(path)
    assert info.value.where == f"{path}: model.backend"
