"""`trajkit train RECIPE.yaml`: trajectories -> masked examples -> TRL SFTTrainer -> model + card.

Also a plain script for multi-GPU launchers:

    accelerate launch -m trajkit.sft.train recipes/sft-qwen2.5-1.5b.yaml
    torchrun --nproc_per_node 8 -m trajkit.sft.train recipes/sft-qwen2.5-1.5b.yaml

Every rank converts the data (deterministic, cheap next to training); only the main process
writes the outputs:

    OUTPUT_DIR/
      README.md       training card: data fingerprint, recipe, final loss, loss curve
      training.json   the same numbers, machine-readable
      recipe.yaml     the recipe as run
      adapter/        the LoRA adapter (LoRA recipes)
      model/          the trained model (merged with the adapter for LoRA) + tokenizer + chat template
      checkpoints/    only when training.save_steps is set

Nothing is written before the recipe, the data and every example's mask have been checked
(`trajkit.sft.prepare`):
bad input leaves no output directory behind, and a failed run removes the one it created
unless it had saved a checkpoint.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from trajkit.errors import ConfigError, TrajkitError, require
from trajkit.schema import stable_hash
from trajkit.sft.convert import ConversionReport, Example
from trajkit.sft.prepare import Prepared, prepare
from trajkit.sft.recipe import Recipe, load_recipe

# Set by fields of the recipe; `training.extra` may not set them a second time.
_MANAGED_FIELDS = {
    "output_dir", "learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
    "gradient_accumulation_steps", "max_length", "packing", "packing_strategy", "bf16", "fp16",
    "gradient_checkpointing", "warmup_steps", "lr_scheduler_type", "weight_decay", "max_grad_norm",
    "optim", "logging_steps", "save_strategy", "save_steps", "report_to", "seed", "data_seed",
    "assistant_only_loss", "completion_only_loss", "dataset_text_field", "activation_checkpointing",
    "train_sampling_strategy",
}  # fmt: skip


@dataclass
class TrainResult:
    """What a run produced: where it wrote, what it trained on, its metrics and loss curve."""

    output_dir: Path
    report: ConversionReport
    data_fingerprint: str
    examples_fingerprint: str
    train_rows: int = 0
    metrics: dict = field(default_factory=dict)
    loss_curve: list[dict] = field(default_factory=list)
    model_dir: Path | None = None
    adapter_dir: Path | None = None
    card: Path | None = None
    dry_run: bool = False


# ------------------------------------------------------------------------- TRL setup


def weighted_rows(examples: list[Example], seed: int) -> list[Example]:
    """Examples repeated by their weight: floor(w) copies, plus one more for a
    deterministic share frac(w) of them (chosen by a hash of the trajectory id and seed)."""
    rows = []
    for example in examples:
        whole = math.floor(example.weight)
        extra = example.weight - whole
        copies = whole + (1 if extra > 0 and _unit(example.trajectory_id, seed) < extra else 0)
        rows.extend([example] * copies)
    return rows


def _unit(key: str, seed: int) -> float:
    return int(stable_hash([key, seed], length=12), 16) / 16**12


def training_dataset(examples: list[Example]):
    """A `datasets.Dataset` in TRL's pre-tokenized form: `input_ids` + `assistant_masks`."""
    datasets = require("datasets", "train", "training")
    return datasets.Dataset.from_dict(
        {
            "input_ids": [e.input_ids for e in examples],
            "assistant_masks": [e.assistant_masks for e in examples],
        }
    )


def sft_config(recipe: Recipe, output_dir: Path):
    """The TRL `SFTConfig`, every version-sensitive default set explicitly."""
    trl = require("trl", "train", "training")
    try:
        return trl.SFTConfig(**sft_config_kwargs(recipe, output_dir))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"TRL refused the training settings: {exc}", where="training") from None


def sft_config_kwargs(recipe: Recipe, output_dir: Path) -> dict:
    """The keyword arguments of `trl.SFTConfig` for a recipe (checked against its fields)."""
    trl = require("trl", "train", "training")
    t = recipe.training
    fields = {f.name for f in dataclasses.fields(trl.SFTConfig)}
    for key in t.extra:
        if key not in fields:
            raise ConfigError(f"{key!r} is not a trl.SFTConfig field", where=f"training.extra.{key}")
        if key in _MANAGED_FIELDS:
            raise ConfigError(
                f"{key!r} is set by the recipe itself", where=f"training.extra.{key}",
                fix="use the recipe's own key for it (see recipes/*.yaml)",
            )
    kwargs = dict(
        output_dir=str(output_dir / "checkpoints"),
        learning_rate=t.learning_rate,
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        max_length=t.max_length,
        packing=t.packing,
        packing_strategy=t.packing_strategy,
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        bf16=t.precision == "bf16",
        fp16=t.precision == "fp16",
        gradient_checkpointing=t.gradient_checkpointing,
        warmup_steps=t.warmup_ratio,  # transformers 5: a float below 1 is a ratio of the steps
        lr_scheduler_type=t.lr_scheduler,
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        optim=t.optim,
        logging_steps=t.logging_steps,
        save_strategy="steps" if t.save_steps else "no",
        save_steps=t.save_steps or 500,
        report_to=t.report_to or "none",
        seed=recipe.seed,
        data_seed=recipe.seed,
        assistant_only_loss=False,  # our masks, not the template's generation markers
        completion_only_loss=False,
    )
    if t.precision == "bf16" and "use_cpu" in fields and not _has_accelerator():
        # bf16 autocast on the CPU (AMX / AVX512-BF16 matmuls): transformers asks for it by name
        kwargs["use_cpu"] = True
    if "activation_checkpointing" in fields:  # transformers 5 name; the old one is an alias
        kwargs["activation_checkpointing"] = t.gradient_checkpointing
    kwargs.update(t.extra)
    return kwargs


def _trainer_class(trl, model):
    """TRL's trainer; on the CPU, with the loss computed on the loss positions only (`cpu_loss`)."""
    from trajkit.sft.cpu_loss import cpu_trainer_class, supports_masked_loss

    if _has_accelerator() or not supports_masked_loss(model):
        return trl.SFTTrainer
    return cpu_trainer_class(trl)


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available())


def load_model(recipe: Recipe, model_path: str):
    import torch
    from transformers import AutoModelForCausalLM

    dtype = recipe.model.dtype if recipe.model.dtype == "auto" else getattr(torch, recipe.model.dtype)
    kwargs = {"dtype": dtype, "trust_remote_code": recipe.model.trust_remote_code}
    if recipe.model.attn_implementation:
        kwargs["attn_implementation"] = recipe.model.attn_implementation
    try:
        return AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot load the model {recipe.model.name!r} ({str(exc).splitlines()[0]})",
            where="model",
        ) from None


def lora_config(recipe: Recipe):
    if recipe.lora is None:
        return None
    peft = require("peft", "train", "LoRA training")
    lora = recipe.lora
    return peft.LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        bias="none",
        task_type="CAUSAL_LM",
    )


# ------------------------------------------------------------------------- training


def _is_main_launch_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _loss_recorder():
    from transformers import TrainerCallback

    class LossRecorder(TrainerCallback):
        """Keeps every logged loss and the wall time of every optimizer step."""

        def __init__(self) -> None:
            self.logs: list[dict] = []
            self.step_times: list[float] = []
            self._last = None
            self.num_tokens = 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            if self._last is None:
                self._last = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            now = time.perf_counter()
            self.step_times.append(now - self._last)
            self._last = now

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "num_tokens" in logs:
                self.num_tokens = _plain(logs["num_tokens"])  # TRL's running count of real tokens
            if logs and "loss" in logs:
                self.logs.append({"step": state.global_step, **{k: _plain(v) for k, v in logs.items()}})

    return LossRecorder()


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def train(
    recipe: Recipe | str | Path,
    *,
    overrides: list[str] | None = None,
    output_dir: str | Path | None = None,
    overwrite: bool = False,
    dry_run: bool = False,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
) -> TrainResult:
    """Run a recipe: check and convert the data, train with TRL, save model, adapter and card."""
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, overrides)
    out = Path(output_dir or recipe.output_dir).expanduser()
    if _is_main_launch_process() and not dry_run and out.exists() and any(out.iterdir()) and not overwrite:
        raise ConfigError(
            "the output directory exists and is not empty", where=f"output_dir: {out}",
            fix="choose another output_dir or pass --overwrite",
        )
    prepared = prepare(recipe, log=log)
    report = prepared.report
    log(
        f"examples: {report.examples} ({report.tokens} tokens, {report.loss_tokens} with loss); "
        f"failed dropped {report.failed_dropped}, truncated {report.truncated}, too long {report.too_long}"
    )
    result = TrainResult(out, report, prepared.data_fingerprint, prepared.examples_fingerprint, dry_run=dry_run)
    if dry_run:
        return result

    transformers = require("transformers", "train", "training")
    trl = require("trl", "train", "training")
    transformers.set_seed(recipe.seed)
    rows = weighted_rows(prepared.examples, recipe.seed)
    result.train_rows = len(rows)
    config = sft_config(recipe, out)
    model = load_model(recipe, prepared.model_path)
    recorder = _loss_recorder()
    trainer = _trainer_class(trl, model)(
        model=model,
        args=config,
        train_dataset=training_dataset(rows),
        processing_class=prepared.tokenizer,
        peft_config=lora_config(recipe),
        callbacks=[recorder],
    )
    created = False
    if trainer.is_world_process_zero():
        created = not out.exists()
        if out.exists() and overwrite:
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
    try:
        output = trainer.train()
    except BaseException:
        if created and trainer.is_world_process_zero() and not list(out.glob("checkpoints/checkpoint-*")):
            shutil.rmtree(out, ignore_errors=True)
        raise
    result.metrics = {k: _plain(v) for k, v in output.metrics.items()}
    result.metrics["train_loss"] = output.training_loss
    result.metrics["global_step"] = output.global_step
    result.metrics["tokens"] = int(recorder.num_tokens)
    result.metrics["step_times"] = recorder.step_times
    result.loss_curve = recorder.logs
    _save(trainer, prepared, result, out)
    trainer.accelerator.wait_for_everyone()
    return result


def _save(trainer, prepared: Prepared, result: TrainResult, out: Path) -> None:
    """Save on every rank through the trainer (it gathers sharded weights), then let the main
    process merge the adapter and write the card."""
    import json

    import yaml

    from trajkit.sft.card import render_card, training_record

    recipe = prepared.recipe
    tokenizer = prepared.tokenizer
    main = trainer.is_world_process_zero()
    if recipe.lora is None:
        result.model_dir = out / "model"
        _stop_at_eos(trainer.model, tokenizer)
        trainer.save_model(str(result.model_dir))
    else:
        result.adapter_dir = out / "adapter"
        trainer.save_model(str(result.adapter_dir))
        if recipe.save_merged and main:
            result.model_dir = out / "model"
            merged = trainer.model.merge_and_unload()
            _stop_at_eos(merged, tokenizer)
            merged.save_pretrained(result.model_dir, safe_serialization=True)
    if not main:
        return
    for folder in (result.model_dir, result.adapter_dir):
        if folder is not None:
            tokenizer.save_pretrained(folder)
    record = training_record(prepared, result)
    (out / "recipe.yaml").write_text(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
    (out / "training.json").write_text(json.dumps(record, indent=2, default=str))
    result.card = out / "README.md"
    result.card.write_text(render_card(record))  # written last: its presence marks a finished run


def _stop_at_eos(model, tokenizer) -> None:
    """Make the saved generation config stop at the chat template's end-of-turn token."""
    config = getattr(model, "generation_config", None)
    eos = tokenizer.eos_token_id
    if config is None or eos is None:
        return
    configured = config.eos_token_id
    known = configured if isinstance(configured, list) else [] if configured is None else [configured]
    if eos not in known:
        config.eos_token_id = [*known, eos] if known else eos


# ----------------------------------------------------------------------------- script


def main(argv: list[str] | None = None) -> int:
    """`python -m trajkit.sft.train RECIPE.yaml` (works under accelerate launch / torchrun)."""
    parser = argparse.ArgumentParser(prog="python -m trajkit.sft.train", description=main.__doc__)
    parser.add_argument("recipe")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--output-dir")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    try:
        result = train(args.recipe, overrides=args.overrides, output_dir=args.output_dir,
                       overwrite=args.overwrite, dry_run=args.dry_run)
    except TrajkitError as exc:
        if args.debug:
            raise
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return 2
    if not result.dry_run and _is_main_launch_process():
        print(f"trained: loss {result.metrics.get('train_loss', float('nan')):.4f}, saved to {result.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
