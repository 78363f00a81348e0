"""CoT answers (`trajkit build` with `mode: cot`) as training examples, and the prompt the CoT
student is trained with being the one `trajkit eval` with `mode: cot` gives it."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.factories import make_trajectory
from trajkit.agent.cot import cot_messages, cot_target, is_cot_provenance
from trajkit.agent.prompts import load_prompt
from trajkit.errors import ConfigError
from trajkit.schema import Provenance, Step
from trajkit.sft.convert import (
    ExampleOptions,
    messages_record,
    system_prompt_name,
    to_example,
    to_examples,
)
from trajkit.sft.data import load_training_data
from trajkit.sft.masks import masked_runs, prompt_ids
from trajkit.sft.recipe import validate_recipe
from trajkit.store import Dataset

END = "<|im_end|>"
ANSWER = "Six times seven: 6 * 7 = 42.\nFinal answer: 42"


def _tasks(path):
    rows = [{"id": f"q{i}", "question": f"What is six times seven (case {i})?", "answer": "41" if i % 3 == 0 else "42"}
            for i in range(6)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def cot_dataset(tmp_path_factory):
    """A real CoT build (scripted teacher): 6 answers, 4 graded correct."""
    from trajkit.build import build

    root = tmp_path_factory.mktemp("cot")
    recipe = root / "cot.yaml"
    recipe.write_text(yaml.safe_dump({
        "tasks": {"source": str(_tasks(root / "tasks.jsonl")), "domain": "math"},
        "teacher": {"backend": "scripted", "responses": [ANSWER + "\n\nThat is all."]},
        "mode": "cot",
        "output": str(root / "data"),
    }))
    dataset, _ = build(recipe, show_progress=False)
    return dataset


@pytest.fixture(scope="module")
def agent_dataset(tmp_path_factory):
    dataset = Dataset.create(tmp_path_factory.mktemp("agent") / "data")
    dataset.append([make_trajectory(i) for i in range(3)])
    return dataset


@pytest.fixture(scope="session")
def tokenizer_dir(tokenizer, tmp_path_factory):
    """The embedded tokenizer as a model folder (no weights): `model:` for `prepare`."""
    path = tmp_path_factory.mktemp("tokenizer")
    tokenizer.save_pretrained(path)
    return path


def _runs(tokenizer, example):
    return [
        tokenizer.decode(run, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        for run in masked_runs(example.input_ids, example.assistant_masks)
    ]


def _recipe(tokenizer_dir, tmp_path, datasets, **fields):
    return validate_recipe({"model": str(tokenizer_dir), "dataset": [str(d) for d in datasets],
                            "output_dir": str(tmp_path / "out"), **fields})


def test_cot_example_has_the_cot_prompt_and_loss_on_the_answer_only(tokenizer, cot_dataset):
    data = load_training_data([str(cot_dataset.path)], None)
    assert data.mode == "cot"
    prompt = load_prompt(system_prompt_name("auto", data.mode))
    assert prompt.id == load_prompt("cot").id
    traj = next(t for t in data.trajectories if t.outcome.correct)
    example = to_example(traj, tokenizer, prompt.text, mode="cot")

    # the prompt run_cot sends, then the reasoning up to the 'Final answer' line (the teacher's
    # trailing chatter is cut)
    question = traj.task.question
    assert example.messages == [*cot_messages(prompt.text, question), {"role": "assistant", "content": ANSWER}]
    rendered = tokenizer.decode(example.input_ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    assert rendered.startswith(f"<|im_start|>system\n{prompt.text}{END}")
    assert "student" not in rendered and "```py" not in rendered

    # loss on exactly the answer tokens (and the end-of-turn marker), nothing else
    assert _runs(tokenizer, example) == [ANSWER + END]
    assert example.loss_tokens == len(tokenizer(ANSWER + END, add_special_tokens=False)["input_ids"]) > 0
    start = example.assistant_masks.index(1)
    assert example.input_ids[:start] == prompt_ids(tokenizer, cot_messages(prompt.text, question))
    assert all(example.assistant_masks[start:start + example.loss_tokens])

    record = messages_record(example)
    assert record["tools"] == [] and record["loss_spans"] == [{"message": 2, "start": 0, "end": len(ANSWER)}]


def test_the_cot_student_is_evaluated_with_the_prompt_it_was_trained_with(tmp_path, cot_dataset):
    from trajkit.evaluate import load_eval_recipe, plan_eval

    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"backend": "scripted", "responses": [ANSWER]},
        "benchmarks": [{"name": "arith", "tasks": {"source": str(_tasks(tmp_path / "bench.jsonl"))}}],
        "mode": "cot",
        "output": str(tmp_path / "run"),
    }))
    recipe, raw = load_eval_recipe(path)
    plan = plan_eval(recipe, raw, [])
    trained_with = load_prompt(system_prompt_name("auto", "cot"))
    assert plan.system_prompt == trained_with.text
    assert plan.provenance.prompt_template == trained_with.id
    assert plan.provenance.prompt_hash == next(cot_dataset.trajectories()).provenance.prompt_hash


def test_cot_target_ends_with_the_final_answer_line():
    assert cot_target(Step(index=0, raw_output="a\nFinal answer: 7.\nok, bye", thought="x")) == "a\nFinal answer: 7."
    assert cot_target(Step(index=0, raw_output="  final answer: 3\n", final_answer="3")) == "final answer: 3"
    # an answer read from the last line gets the format the prompt asks for
    assert cot_target(Step(index=0, raw_output="6 * 7\n42", final_answer="42")) == "6 * 7\nFinal answer: 42"
    assert cot_target(Step(index=0, raw_output="42", final_answer="42")) == "Final answer: 42"


def test_prepare_picks_the_cot_prompt_and_drops_wrong_answers(tmp_path, tokenizer_dir, cot_dataset):
    from trajkit.sft.card import render_card, training_record
    from trajkit.sft.prepare import prepare
    from trajkit.sft.train import TrainResult

    logged = []
    prepared = prepare(_recipe(tokenizer_dir, tmp_path, [cot_dataset.path]), log=logged.append)
    assert prepared.mode == "cot" and prepared.system_prompt.id == load_prompt("cot").id
    assert prepared.report.examples == 4 and prepared.report.failed_dropped == 2
    assert all(e.loss_tokens > 0 and e.messages[0]["content"] == prepared.system_prompt.text for e in prepared.examples)
    assert any("CoT" in line and "mode: cot" in line and "cot/" in line for line in logged)
    card = render_card(training_record(prepared, TrainResult(tmp_path, prepared.report, "f", "e")))
    assert "chain-of-thought answers" in card and "cot_messages" in card and "(mode: cot)" in card

    kept = prepare(_recipe(tokenizer_dir, tmp_path, [cot_dataset.path], examples={"failed": "keep"}))
    assert kept.report.examples == 6


def test_an_agent_prompt_for_cot_data_is_refused(tmp_path, tokenizer_dir, cot_dataset, agent_dataset):
    from trajkit.sft.prepare import prepare

    with pytest.raises(ConfigError) as raised:
        prepare(_recipe(tokenizer_dir, tmp_path, [cot_dataset.path], examples={"system_prompt": "student"}))
    assert raised.value.where == "examples.system_prompt" and "auto" in raised.value.fix
    with pytest.raises(ConfigError, match="prompt for cot data"):
        prepare(_recipe(tokenizer_dir, tmp_path, [agent_dataset.path], examples={"system_prompt": "cot"}))
    agent = prepare(_recipe(tokenizer_dir, tmp_path, [agent_dataset.path]))
    assert agent.mode == "agent" and agent.system_prompt.id == load_prompt("student").id


def test_mixing_agent_and_cot_data_is_an_error_unless_filtered(tmp_path, tokenizer_dir, cot_dataset, agent_dataset):
    from trajkit.sft.prepare import prepare

    both = [agent_dataset.path, cot_dataset.path]
    with pytest.raises(ConfigError) as raised:
        prepare(_recipe(tokenizer_dir, tmp_path, both))
    assert "3 agent trajectories" in raised.value.what and "6 CoT answers" in raised.value.what
    assert str(cot_dataset.path) in raised.value.where and "one student per kind" in raised.value.fix
    only_cot = prepare(_recipe(tokenizer_dir, tmp_path, both, filter="provenance.prompt_template LIKE 'cot/%'"))
    assert only_cot.mode == "cot" and only_cot.report.trajectories == 6


def test_cot_data_from_elsewhere_is_recognised_by_its_shape():
    imported = Provenance(kind="import", backend="reference-import", model="m", prompt_template="x", max_steps=1)
    answer = make_trajectory(1, n_steps=1, provenance=imported.with_fingerprint())
    answer.steps = [Step(index=0, thought="6*7=42\nFinal answer: 42", raw_output="6*7=42\nFinal answer: 42", final_answer="42")]
    assert is_cot_provenance(answer.provenance, [answer])
    coded = make_trajectory(2, n_steps=1, provenance=imported.with_fingerprint())
    assert not is_cot_provenance(coded.provenance, [answer, coded])
    assert not is_cot_provenance(make_trajectory(3).provenance, [answer])  # max_steps 5


def test_conversion_refuses_agent_trajectories_in_cot_mode(tokenizer):
    from trajkit.sft.convert import ConversionError

    with pytest.raises(ConversionError, match="not a CoT answer"):
        list(to_examples([make_trajectory(1)], tokenizer, load_prompt("cot").text, ExampleOptions(), mode="cot"))


def test_train_dry_run_on_cot_data(tmp_path, tokenizer_dir, cot_dataset, cli):
    recipe = tmp_path / "sft.yaml"
    recipe.write_text(yaml.safe_dump({"model": str(tokenizer_dir), "dataset": str(cot_dataset.path),
                                      "filter": "paper", "output_dir": str(tmp_path / "out")}))
    result = cli("train", str(recipe), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "examples: 4" in result.stdout and "system prompt cot/" in result.stderr


def test_hub_sft_config_renders_each_provenance_as_its_student_trains(cot_dataset, agent_dataset, tmp_path):
    """A dataset mixing CoT answers and agent trajectories publishes each with its own prompt."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trajkit.hub.repo_folder import export_dataset
    from trajkit.sft.convert import student_messages

    mixed = Dataset.create(tmp_path / "mixed")
    cot = list(cot_dataset.trajectories())
    agent = list(agent_dataset.trajectories())
    mixed.append(cot + agent)
    export_dataset(mixed, tmp_path / "hub", configs=["sft"])
    table = pa.concat_tables([pq.read_table(p) for p in sorted((tmp_path / "hub/sft").glob("*.parquet"))])
    rows = {row["trajectory_id"]: row for row in table.to_pylist()}
    for traj, mode, prompt in [*((t, "cot", "cot") for t in cot), *((t, "agent", "student") for t in agent)]:
        row = rows[traj.trajectory_id]
        assert row["system_prompt_id"].split("/")[0] == prompt
        expected = student_messages(traj, load_prompt(prompt).text, mode=mode)
        assert [{"role": m["role"], "content": m["content"]} for m in row["messages"]] == expected
        assert [m["train"] for m in row["messages"]] == [m["role"] == "assistant" for m in expected]
