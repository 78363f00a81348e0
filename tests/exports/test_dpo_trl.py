"""The DPO export trains: two steps of TRL's DPOTrainer on it with the embedded SmolLM2-135M.

Run under the CPU lock: flock /tmp/trajkit-cpu.lock .venv/bin/python -m pytest -m model tests/exports
"""

from __future__ import annotations

import math

import pytest

pytestmark = [pytest.mark.model]


def test_dpo_trainer_runs_two_steps_on_the_export(dataset, tmp_path):
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from trajkit.exports.dpo import export_dpo
    from trajkit.models.specs import hf_folder

    out = tmp_path / "dpo"
    export_dpo(str(dataset), str(out))
    train = datasets.load_dataset("json", data_files=str(out / "train.jsonl"), split="train")
    assert {"prompt", "chosen", "rejected"} <= set(train.column_names)
    train = train.select_columns(["prompt", "chosen", "rejected"]).shuffle(seed=0).select(range(8))

    torch.manual_seed(0)
    path = hf_folder("embedded", where="test")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if "layers.0." in n}
    config = DPOConfig(
        output_dir=str(tmp_path / "run"),
        max_steps=2,
        per_device_train_batch_size=2,
        learning_rate=1e-5,
        max_length=768,
        bf16=False,
        gradient_checkpointing=False,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        dataset_num_proc=None,
    )
    trainer = DPOTrainer(model=model, args=config, train_dataset=train, processing_class=tokenizer)
    result = trainer.train()
    assert trainer.state.global_step == 2
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses)
    assert math.isfinite(result.training_loss)
    changed = any(not torch.equal(before[n], p) for n, p in model.named_parameters() if n in before)
    assert changed, "two optimizer steps left the weights unchanged"
