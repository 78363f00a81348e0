"""The training loss on the CPU: the LM head on the positions that carry loss only, under autocast.

TRL's `SFTTrainer` (1.16) always computes the loss with its fused, tiled LM head. On a GPU that is
a Triton kernel; on the CPU its fallback runs every tile as an fp32 matmul, which made 40% of a
SmolLM2-135M training step here (py-spy of `trajkit train`: `ChunkedLogProbFunction`). The loss
below is the same quantity (summed cross-entropy of the tokens whose label is not -100, divided
by the number of such tokens in the whole accumulated batch), with the LM head applied once, in
the autocast dtype (bf16 matmuls on AMX), to those positions only. `bench/sft.py` measures
both on the same batches.
"""

from __future__ import annotations

from typing import Any

IGNORE_INDEX = -100


def supports_masked_loss(model) -> bool:
    """A plain causal LM whose logits are `lm_head(hidden)`: no scaling, no soft-capping."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    scaled = any(
        getattr(config, name, None) not in (None, 1.0)
        for name in ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling")
    )
    base = _base_model(model)
    return not scaled and base.get_output_embeddings() is not None and hasattr(base, base.base_model_prefix)


def masked_lm_loss(model, inputs: dict[str, Any], num_items_in_batch=None):
    """(loss, number of loss tokens predicted right, number of loss tokens) for one micro-batch."""
    import torch
    import torch.nn.functional as F

    base = _base_model(model)
    backbone = getattr(base, base.base_model_prefix)
    labels = inputs["labels"]
    model_inputs = {k: v for k, v in inputs.items() if k not in ("labels", "use_cache")}
    hidden = backbone(**model_inputs, use_cache=False).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != IGNORE_INDEX
    logits = base.get_output_embeddings()(hidden[:, :-1][keep]).float()
    wanted = targets[keep]
    loss_sum = F.cross_entropy(logits, wanted, reduction="sum")
    valid = keep.sum()
    denominator = valid if num_items_in_batch is None else torch.as_tensor(num_items_in_batch, device=loss_sum.device)
    with torch.no_grad():
        correct = (logits.argmax(dim=-1) == wanted).sum()
    return loss_sum / denominator.clamp(min=1), correct, valid


def cpu_trainer_class(trl):
    """`trl.SFTTrainer` with `masked_lm_loss` for training steps (evaluation stays TRL's)."""

    class CpuSFTTrainer(trl.SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if return_outputs or not model.training:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            loss, correct, valid = masked_lm_loss(
                self.accelerator.unwrap_model(model), inputs, num_items_in_batch
            )
            self._record_metrics(inputs, correct, valid)
            return loss

        def _record_metrics(self, inputs, correct, valid) -> None:
            # the two metrics TRL logs that trajkit's loss curve keeps (TRL's entropy is left out)
            metrics = self._metrics["train"]
            metrics["mean_token_accuracy"].append((correct / valid).item() if valid > 0 else 0.0)
            self._total_train_tokens += int(inputs["attention_mask"].sum()) if "attention_mask" in inputs else inputs["input_ids"].numel()
            metrics["num_tokens"] = [self._total_train_tokens]

    return CpuSFTTrainer


def _base_model(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model
