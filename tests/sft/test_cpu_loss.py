"""The CPU training loss (`trajkit.sft.cpu_loss`) is the model's own loss, on the real embedded model.

Run under the CPU lock: flock /tmp/trajkit-cpu.lock .venv/bin/python -m pytest -m model tests/sft/test_cpu_loss.py
"""

from __future__ import annotations

import pytest

from trajkit.sft.cpu_loss import masked_lm_loss, supports_masked_loss

pytestmark = [pytest.mark.model]


@pytest.fixture(scope="module")
def model():
    import torch
    from transformers import AutoModelForCausalLM

    from trajkit.sft.prepare import resolve_model

    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(resolve_model("embedded"), dtype=torch.float32)


def _batch():
    """Two sequences, the second right-padded; loss on a few positions of each."""
    import torch

    ids = torch.randint(0, 40000, (2, 24))
    attention = torch.ones_like(ids)
    attention[1, 18:] = 0
    labels = torch.full_like(ids, -100)
    labels[0, 10:20] = ids[0, 10:20]
    labels[1, 4:9] = ids[1, 4:9]
    return {"input_ids": ids, "attention_mask": attention, "labels": labels}


def test_loss_gradients_and_accuracy_match_the_model_forward(model):
    import torch

    batch = _batch()
    model.zero_grad()
    reference = model(**batch)
    reference.loss.backward()
    reference_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    loss, correct, valid = masked_lm_loss(model, batch)
    loss.backward()

    assert valid.item() == 10 + 5
    torch.testing.assert_close(loss, reference.loss, rtol=1e-5, atol=1e-5)
    for name, param in model.named_parameters():  # same gradient, up to fp32 summation order
        difference = (param.grad - reference_grads[name]).norm() / reference_grads[name].norm()
        assert difference < 1e-4, (name, difference.item())
    shifted = batch["labels"][:, 1:]
    keep = shifted != -100
    expected_correct = (reference.logits[:, :-1].argmax(-1)[keep] == shifted[keep]).sum()
    assert correct.item() == expected_correct.item()


def test_loss_is_divided_by_the_tokens_of_the_whole_accumulated_batch(model):
    import torch

    batch = _batch()
    with torch.no_grad():
        mean, _, valid = masked_lm_loss(model, batch)
        spread, _, _ = masked_lm_loss(model, batch, num_items_in_batch=4 * valid)
    torch.testing.assert_close(spread * 4, mean)


def test_models_with_scaled_logits_keep_trls_loss(model):
    assert supports_masked_loss(model)
    model.config.final_logit_softcapping = 30.0
    try:
        assert not supports_masked_loss(model)
    finally:
        model.config.final_logit_softcapping = None


def test_training_on_the_cpu_uses_the_masked_loss(model):
    import trl

    from trajkit.sft.cpu_loss import cpu_trainer_class
    from trajkit.sft.train import _trainer_class

    trainer_class = _trainer_class(trl, model)
    assert issubclass(trainer_class, trl.SFTTrainer)
    assert trainer_class.__name__ == cpu_trainer_class(trl).__name__ == "CpuSFTTrainer"
