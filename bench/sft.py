"""Benchmark: the SFT pipeline, against baselines measured in the same run.

    flock /tmp/trajkit-cpu.lock .venv/bin/python bench/sft.py [--trajectories 10000] [--steps 6]

1. Conversion + masking (trajectories -> input_ids + exact assistant masks, verified) on N
   trajectories, against the least any SFT pipeline does: render each conversation once with
   the chat template and tokenize it (no masks, no checks).
2. Training tokens/s of `trajkit train` against a plain TRL `SFTTrainer` script on the same
   pre-tokenized data (same batches, same settings), per optimizer step, first step excluded.
   On the CPU `trajkit train` computes the loss on the loss positions only (`trajkit.sft.cpu_loss`)
   where TRL runs its fused LM head as fp32 tiles; `group_by_length` is measured as a third row.
3. Padding waste with and without packing, measured on the batches TRL's own data loader
   builds from the examples (padded batches vs BFD packing, which TRL runs padding-free).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

BATCH, MAX_LENGTH, LR = 4, 512, 1e-4


def conversion(n: int) -> None:
    from transformers import AutoTokenizer

    from trajkit.agent.prompts import load_prompt
    from trajkit.models.embedded_llm import embedded_model_path
    from trajkit.sft.convert import ConversionReport, ExampleOptions, student_messages, to_examples
    from trajkit.sft.synthetic import synthetic_trajectories

    tokenizer = AutoTokenizer.from_pretrained(str(embedded_model_path()))
    system = load_prompt("student").text
    trajectories = synthetic_trajectories(n, seed=0)

    started = time.perf_counter()
    texts = [tokenizer.apply_chat_template(student_messages(t, system), tokenize=False) for t in trajectories]
    plain = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    baseline_s = time.perf_counter() - started

    report = ConversionReport()
    started = time.perf_counter()
    examples = list(to_examples(trajectories, tokenizer, system, ExampleOptions(failed="keep"),
                                max_length=MAX_LENGTH * 2, report=report))
    ours_s = time.perf_counter() - started
    assert len(examples) == n
    same = sum(len(e.input_ids) == length for e, length in zip(examples, plain, strict=True))
    print(f"\n== conversion + masking, {n:,} trajectories ({report.tokens:,} tokens, "
          f"{report.loss_tokens / report.tokens:.0%} with loss)")
    print(f"  baseline: render + tokenize, no masks   {n / baseline_s:10,.0f} examples/s")
    print(f"  trajkit: conversation + exact masks     {n / ours_s:10,.0f} examples/s "
          f"({ours_s / baseline_s:.2f}x the baseline's time)")
    print(f"  examples whose token count equals the one-shot tokenization: {same / n:.1%}")


def _recipe(out: Path, steps: int, packing: bool = False, n: int = 64, max_length: int = MAX_LENGTH,
            precision: str = "fp32", group_by_length: bool = False):
    from trajkit.sft.recipe import validate_recipe

    return validate_recipe({
        "model": "embedded", "dataset": f"synthetic:{n}", "examples": {"failed": "keep"},
        "training": {
            "learning_rate": LR, "max_steps": steps, "batch_size": BATCH, "max_length": max_length,
            "packing": packing, "precision": precision, "group_by_length": group_by_length,
            "gradient_checkpointing": False,
            "warmup_ratio": 0.0, "lr_scheduler": "constant", "logging_steps": steps,
            "extra": {"disable_tqdm": True},
        },
        "seed": 0, "output_dir": str(out),
    })


def plain_trl(examples, model_path: str, steps: int, out: Path, precision: str) -> tuple[list[float], float]:
    """What a user would write by hand: the same data and settings straight into SFTTrainer."""
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback, set_seed
    from trl import SFTConfig, SFTTrainer

    class Timer(TrainerCallback):
        def __init__(self):
            self.times, self.last, self.tokens = [], None, 0

        def on_step_begin(self, args, state, control, **kw):
            self.last = self.last or time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            now = time.perf_counter()
            self.times.append(now - self.last)
            self.last = now

        def on_log(self, args, state, control, logs=None, **kw):
            self.tokens = (logs or {}).get("num_tokens", self.tokens)

    set_seed(0)
    data = datasets.Dataset.from_dict({"input_ids": [e.input_ids for e in examples],
                                       "assistant_masks": [e.assistant_masks for e in examples]})
    config = SFTConfig(
        output_dir=str(out), learning_rate=LR, max_steps=steps, per_device_train_batch_size=BATCH,
        max_length=MAX_LENGTH, bf16=precision == "bf16", use_cpu=precision == "bf16", gradient_checkpointing=False, activation_checkpointing=False,
        lr_scheduler_type="constant", warmup_steps=0.0, logging_steps=steps, save_strategy="no",
        report_to="none", seed=0, data_seed=0, weight_decay=0.0, optim="adamw_torch", disable_tqdm=True,
    )
    timer = Timer()
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32), args=config,
        train_dataset=data, processing_class=AutoTokenizer.from_pretrained(model_path), callbacks=[timer],
    )
    trainer.train()
    return timer.times, float(timer.tokens)


def training(steps: int, rounds: int, precision: str) -> None:
    from trajkit.sft.prepare import prepare
    from trajkit.sft.train import train

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        recipe = _recipe(scratch / "trajkit", steps, precision=precision)
        prepared = prepare(recipe)
        rows = {}
        for round_ in range(rounds):  # interleaved, so drift on the machine hits both alike
            times, tokens = plain_trl(prepared.examples, prepared.model_path, steps, scratch / f"plain{round_}", precision)
            rows.setdefault("plain TRL SFTTrainer", []).append((times, tokens))
            result = train(recipe, output_dir=scratch / f"trajkit{round_}", log=lambda _: None)
            rows.setdefault("trajkit train", []).append((result.metrics["step_times"], result.metrics["tokens"]))
        packed = train(_recipe(scratch / "packed", steps, packing=True, precision=precision), log=lambda _: None)
        rows["trajkit train, packing (BFD)"] = [(packed.metrics["step_times"], packed.metrics["tokens"])]
        grouped = train(_recipe(scratch / "grouped", steps, precision=precision, group_by_length=True), log=lambda _: None)
        rows["trajkit train, group_by_length"] = [(grouped.metrics["step_times"], grouped.metrics["tokens"])]

    print(f"\n== training, embedded model, full fine-tuning, batch {BATCH}, max_length {MAX_LENGTH}, "
          f"{steps} steps (first excluded), {precision} on CPU")
    summary = {}
    for name, runs in rows.items():
        step_s = statistics.median(t for times, _ in runs for t in times[1:])
        tokens_per_step = statistics.mean(tok / len(times) for times, tok in runs)
        summary[name] = (step_s, tokens_per_step / step_s)
        print(f"  {name:30s} {step_s:6.2f} s/step  {tokens_per_step / step_s:7.0f} tokens/s")
    base = summary["plain TRL SFTTrainer"]
    print(f"  trajkit train vs plain TRL, seconds per step: {summary['trajkit train'][0] / base[0]:.2f}x "
          "(goal: at most 1.05x)")
    for name, (_, tokens_per_s) in summary.items():
        print(f"  {name:30s} tokens/s {tokens_per_s / base[1]:.2f}x plain TRL")


def padding(n: int, max_length: int) -> None:
    from trl import SFTTrainer

    from trajkit.sft.prepare import prepare
    from trajkit.sft.train import load_model, sft_config, training_dataset

    with tempfile.TemporaryDirectory() as scratch:
        print(f"\n== padding waste on TRL's own batches ({n} synthetic examples, batch {BATCH}, "
              f"max_length {max_length})")
        model = None
        for packing in (False, True):
            recipe = _recipe(Path(scratch), 1, packing=packing, n=n, max_length=max_length)
            prepared = prepare(recipe)
            model = model or load_model(recipe, prepared.model_path)
            trainer = SFTTrainer(model=model, args=sft_config(recipe, Path(scratch)),
                                 train_dataset=training_dataset(prepared.examples),
                                 processing_class=prepared.tokenizer)
            real = slots = batches = 0
            for batch in trainer.get_train_dataloader():
                ids = batch["input_ids"]
                slots += ids.numel()
                mask = batch.get("attention_mask")
                real += int(mask.sum()) if mask is not None else ids.numel()
                batches += 1
            label = "packing (BFD, padding-free)" if packing else "no packing (padded batches)"
            print(f"  {label:30s} {1 - real / slots:6.1%} of token slots are padding, "
                  f"{batches} batches per epoch, {slots:,} slots")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectories", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved training rounds")
    parser.add_argument("--padding-examples", type=int, default=512)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="bf16", help="training precision")
    parser.add_argument("--only", choices=["conversion", "padding", "training"])
    args = parser.parse_args()
    import datasets
    import transformers

    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    if args.only in (None, "conversion"):
        conversion(args.trajectories)
    if args.only in (None, "padding"):
        for max_length in (MAX_LENGTH, 2 * MAX_LENGTH):
            padding(args.padding_examples, max_length)
    if args.only in (None, "training"):
        training(args.steps, args.rounds, args.precision)


if __name__ == "__main__":
    main()
