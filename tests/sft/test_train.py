"""Training for real (tiny runs on the embedded model): loss goes down, outputs load and generate.

Run under the CPU lock: flock /tmp/trajkit-cpu.lock .venv/bin/python -m pytest -m model tests/sft
"""

from __future__ import annotations

import json

import pytest
import yaml

from trajkit.agent.format import conversation
from trajkit.agent.prompts import load_prompt
from trajkit.sft.masks import prompt_ids
from trajkit.sft.recipe import load_recipe, validate_recipe

pytestmark = [pytest.mark.model, pytest.mark.slow]


def _recipe(tmp_path, **training):
    return validate_recipe({
        "model": "embedded",
        "dataset": "synthetic:48:1",
        "examples": {"failed": "drop"},
        "training": {
            "learning_rate": 2e-4, "max_steps": 8, "batch_size": 4, "max_length": 512,
            "precision": "fp32", "gradient_checkpointing": False, "warmup_ratio": 0.0,
            "lr_scheduler": "constant", "logging_steps": 1, **training,
        },
        "seed": 0,
        "output_dir": str(tmp_path / "run"),
    })


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    from trajkit.sft.train import train

    recipe = _recipe(tmp_path_factory.mktemp("full"))
    return train(recipe, log=lambda _: None)


def test_loss_decreases_and_the_run_is_recorded(full_run):
    losses = [entry["loss"] for entry in full_run.loss_curve]
    assert len(losses) == 8
    assert sum(losses[-2:]) / 2 < 0.7 * sum(losses[:2]) / 2
    out = full_run.output_dir
    record = json.loads((out / "training.json").read_text())
    assert record["results"]["final_loss"] == losses[-1]
    assert record["data"]["conversion"]["examples"] == full_run.report.examples
    assert record["data"]["examples_fingerprint"] == full_run.examples_fingerprint
    card = (out / "README.md").read_text()
    assert "final loss" in card and full_run.data_fingerprint in card and "| 8 |" in card
    assert load_recipe(out / "recipe.yaml").training.max_steps == 8
    assert not (out / "adapter").exists()  # full fine-tuning


def test_the_record_counts_every_step_not_only_the_logged_ones(tmp_path):
    from trajkit.sft.train import train

    result = train(_recipe(tmp_path, max_steps=4, logging_steps=3), log=lambda _: None)
    assert [entry["step"] for entry in result.loss_curve] == [3]
    record = json.loads((result.output_dir / "training.json").read_text())
    assert record["results"]["steps"] == 4


def test_saved_model_loads_and_generates_in_the_trained_format(full_run):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = full_run.output_dir / "model"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    assert tokenizer.chat_template and tokenizer.eos_token == "<|im_end|>"
    messages = conversation(load_prompt("student").text, "What is 4821 multiplied by 37, plus 905?", [])
    ids = torch.tensor([prompt_ids(tokenizer, messages)])
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=60, do_sample=False)
    text = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    assert text.startswith("Thought: "), text
    assert "Code:\n```py\n" in text, text


def test_trl_builds_labels_from_our_masks(tmp_path):
    from trl import SFTTrainer

    from trajkit.sft.prepare import prepare
    from trajkit.sft.train import load_model, sft_config, training_dataset

    recipe = _recipe(tmp_path, max_steps=1)
    prepared = prepare(recipe)
    examples = prepared.examples[:6]
    trainer = SFTTrainer(
        model=load_model(recipe, prepared.model_path),
        args=sft_config(recipe, tmp_path),
        train_dataset=training_dataset(examples),
        processing_class=prepared.tokenizer,
    )
    prepared_rows = trainer.train_dataset.to_list()
    for example, row in zip(examples, prepared_rows, strict=True):
        assert row["input_ids"] == example.input_ids
        expected = [t if m else -100 for t, m in zip(example.input_ids, example.assistant_masks, strict=True)]
        assert row["labels"] == expected


def test_lora_saves_adapter_and_merged_model(tmp_path):
    from transformers import AutoModelForCausalLM

    from trajkit.sft.train import train

    recipe = _recipe(tmp_path, max_steps=2, max_length=384)
    recipe = recipe.model_copy(update={"lora": validate_recipe(
        {"dataset": "d", "output_dir": "o", "lora": {"r": 8, "alpha": 16, "target_modules": ["q_proj", "v_proj"]}}
    ).lora})
    result = train(recipe, log=lambda _: None)
    adapter = result.output_dir / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["r"] == 8 and set(config["target_modules"]) == {"q_proj", "v_proj"}
    merged = AutoModelForCausalLM.from_pretrained(result.output_dir / "model")
    assert not any("lora" in name for name, _ in merged.named_parameters())
    card = (result.output_dir / "README.md").read_text()
    assert "LoRA of `HuggingFaceTB/SmolLM2-135M-Instruct`" in card
    assert yaml.safe_load((result.output_dir / "recipe.yaml").read_text())["lora"]["r"] == 8
