"""Question shapes: task categories, small arithmetic, held-out templates and paraphrases (the
`test_unseen` split), and that the default generator is unchanged by them."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections import Counter

import pytest

from trajkit.errors import ConfigError
from trajkit.grading.graders import grade
from trajkit.tasks.synth import generate
from trajkit.tasks.synth_shapes import (
    CATEGORIES,
    HELDOUT_TEMPLATES,
    MATH_TEMPLATES,
    QA_TEMPLATES,
    TEMPLATES,
    parse_heldout,
)

EXPERIMENT = dict(n=300, seed=1, test_fraction=0.47, max_hops=3, knowledge_share=0.5,
                  small_arithmetic_share=0.5, heldout_templates=HELDOUT_TEMPLATES, unseen_fraction=0.43)


@pytest.fixture(scope="module")
def mix():
    return generate(**EXPERIMENT)


def meta(task):
    return json.loads(task.metadata)


def test_three_splits_from_two_worlds_with_every_category(mix):
    sizes = {split: len(mix.split(split)) for split in ("train", "test", "test_unseen")}
    assert sizes == {"train": 159, "test": 80, "test_unseen": 61}
    for split in sizes:
        counts = Counter(meta(t)["category"] for t in mix.split(split))
        assert set(counts) == set(CATEGORIES) and min(counts.values()) >= 8, (split, counts)
    train_entities = {e for t in mix.split("train") for e in meta(t)["entities"]}
    unseen_entities = {e for t in mix.split("test_unseen") for e in meta(t)["entities"]}
    assert train_entities and not train_entities & unseen_entities


def test_held_out_templates_never_reach_train_or_test(mix):
    seen_templates = {meta(t)["template"] for split in ("train", "test") for t in mix.split(split)}
    assert not seen_templates & set(HELDOUT_TEMPLATES)
    unseen = mix.split("test_unseen")
    shapes = Counter(meta(t)["shape"] for t in unseen)
    assert shapes["heldout"] >= 25 and shapes["paraphrase"] >= 15 and set(shapes) == {"heldout", "paraphrase"}
    train_questions = {t.question for t in mix.split("train")}
    for task in unseen:
        template = meta(task)["template"]
        assert template not in seen_templates and task.question not in train_questions
        if meta(task)["shape"] == "paraphrase":
            assert template.removesuffix("~paraphrase") in TEMPLATES


def test_held_out_share_per_domain_is_at_least_a_quarter(mix):
    generated = {(t.domain, meta(t)["template"].removesuffix("~paraphrase")) for t in mix.tasks}
    for domain, templates in (("qa", QA_TEMPLATES), ("math", MATH_TEMPLATES)):
        assert {name for d, name in generated if d == domain} == templates  # the lists are complete
        assert len(templates & set(HELDOUT_TEMPLATES)) / len(templates) >= 0.25


def test_small_arithmetic_and_paraphrases_keep_exact_answers(mix):
    env = {"math": math}
    for task in mix.tasks:
        info = meta(task)
        if info["category"] == "small_arithmetic":
            assert str(eval(info["solution"], env)) == task.gold_answer, task
            assert max(int(n) for n in re.findall(r"\d+", task.question)) < 1000
        assert grade(task, task.gold_answer).correct is True, task


def test_default_knobs_make_no_unseen_split_and_no_small_arithmetic():
    plain = generate(n=120, seed=4)
    assert {t.split for t in plain.tasks} == {"train", "test"}
    assert "small_arithmetic" not in {meta(t)["category"] for t in plain.tasks}
    assert {meta(t)["shape"] for t in plain.tasks} == {"seen"}


def test_bad_shape_knobs_are_config_errors():
    with pytest.raises(ConfigError, match="needs heldout_templates"):
        generate(n=50, unseen_fraction=0.3)
    with pytest.raises(ConfigError, match="unknown template 'rivr_length'"):
        parse_heldout("rivr_length")
    assert parse_heldout("default") == HELDOUT_TEMPLATES and parse_heldout("") == ()


def test_synth_cli_writes_the_unseen_split(tmp_path):
    out = tmp_path / "tasks"
    done = subprocess.run(
        [sys.executable, "-m", "trajkit", "tasks", "synth", str(out), "--n", "60", "--seed", "3",
         "--test-fraction", "0.5", "--small-arithmetic-share", "0.5", "--heldout-templates", "default",
         "--unseen-fraction", "0.5"], capture_output=True, text=True, check=True)
    assert "test_unseen: 15" in done.stdout
    manifest = json.loads((out / "synth.json").read_text())
    assert manifest["counts"]["test_unseen"] == 15
    assert manifest["config"]["heldout_templates"] == list(HELDOUT_TEMPLATES)
