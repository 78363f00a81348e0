"""The training card (README.md next to the trained model) and its machine-readable record."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib import metadata

import yaml

from trajkit import __version__


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


EMBEDDED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # what the embedded GGUF was made from


def training_record(prepared, result) -> dict:
    recipe = prepared.recipe
    losses = [entry["loss"] for entry in result.loss_curve if "loss" in entry]
    step_times = result.metrics.get("step_times") or []
    runtime = result.metrics.get("train_runtime") or 0.0
    tokens = result.metrics.get("tokens") or 0
    return {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "base_model": EMBEDDED_HUB_ID if recipe.model.name == "embedded" else recipe.model.name,
        "method": "LoRA" if recipe.lora is not None else "Full fine-tuning",
        "recipe_hash": recipe.recipe_hash(),
        "recipe": recipe.model_dump(mode="json"),
        "system_prompt": {"id": prepared.system_prompt.id, "hash": prepared.system_prompt.hash},
        "mode": getattr(prepared, "mode", "agent"),
        "data": {
            "fingerprint": prepared.data_fingerprint,
            "examples_fingerprint": prepared.examples_fingerprint,
            "sources": prepared.data_sources,
            "filter": prepared.where,
            "available": getattr(prepared, "available", None),
            "conversion": prepared.report.as_dict(),
            "train_rows": result.train_rows,
        },
        "results": {
            "final_loss": losses[-1] if losses else None,
            "first_loss": losses[0] if losses else None,
            "train_loss": result.metrics.get("train_loss"),
            # every optimizer step run (the loss curve holds only the logged ones)
            "steps": result.metrics.get("global_step") or (result.loss_curve[-1]["step"] if result.loss_curve else 0),
            "train_runtime_s": runtime,
            "tokens": tokens,
            "tokens_per_s": tokens / runtime if runtime else None,
            "mean_step_s": sum(step_times) / len(step_times) if step_times else None,
        },
        "loss_curve": [
            {k: entry[k] for k in ("step", "loss", "learning_rate", "grad_norm", "mean_token_accuracy") if k in entry}
            for entry in result.loss_curve
        ],
        "versions": {
            "trajkit": __version__,
            "trl": _version("trl"),
            "transformers": _version("transformers"),
            "peft": _version("peft"),
            "torch": _version("torch"),
            "python": platform.python_version(),
        },
    }


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def render_card(record: dict) -> str:
    results, data, conversion = record["results"], record["data"], record["data"]["conversion"]
    front = {
        "base_model": record["base_model"],
        "library_name": "transformers",
        "tags": ["trajkit", "sft", "trl", "agent-distillation"],
    }
    curve = "\n".join(
        f"| {entry['step']} | {_fmt(entry.get('loss'))} | {_fmt(entry.get('learning_rate'), 3)} | "
        f"{_fmt(entry.get('mean_token_accuracy'), 3)} |"
        for entry in record["loss_curve"]
    )
    sources = "\n".join(
        f"- `{s['path']}` ({s['rows']} trajectories, fingerprint `{s['fingerprint']}`)" for s in data["sources"]
    )
    cot = record.get("mode") == "cot"
    kind = (
        "chain-of-thought answers (one generation, no tools: the CoT-distillation baseline)"
        if cot else "agent trajectories (Thought / Code / Observation\nformat)"
    )
    usage = _COT_USAGE if cot else _AGENT_USAGE
    return f"""---
{yaml.safe_dump(front, sort_keys=False).strip()}
---

# Student model trained with trajkit

{record['method']} of `{record['base_model']}` on {kind}, with loss on the assistant turns only.
Trained {record['trained_at']}.

## Results

| | |
|---|---|
| final loss (last logged) | {_fmt(results['final_loss'])} |
| first logged loss | {_fmt(results['first_loss'])} |
| mean training loss | {_fmt(results['train_loss'])} |
| optimizer steps | {results['steps']} |
| training time | {_fmt(results['train_runtime_s'], 4)} s |
| tokens / s | {_fmt(results['tokens_per_s'], 4)} |

## Data

Data fingerprint `{data['fingerprint']}` (sources and filter); examples fingerprint
`{data['examples_fingerprint']}` (the exact token ids, masks and weights trained on).

{sources}

Filter: `{data['filter'] or 'none'}`{_subsample_note(data, record)}

| trajectories | examples | rows trained (with weights) | tokens | tokens with loss | failed dropped | truncated (last steps cut to fit) | too long, left out |
|---|---|---|---|---|---|---|---|
| {conversion['trajectories']} | {conversion['examples']} | {data['train_rows']} | {conversion['tokens']} | {conversion['loss_tokens']} | {conversion['failed_dropped']} | {conversion['truncated']} ({conversion['dropped_steps']} steps) | {conversion['too_long']} |

System prompt: `{record['system_prompt']['id']}` (hash `{record['system_prompt']['hash']}`).

## Using the model

{usage.replace('PROMPT', record['system_prompt']['id'].split('/')[0]).strip()}

Or evaluate it with `trajkit eval`{' (mode: cot)' if cot else ''}.

## Loss curve

| step | loss | learning rate | token accuracy |
|---|---|---|---|
{curve}

## Recipe (hash `{record['recipe_hash']}`)

```yaml
{yaml.safe_dump(record['recipe'], sort_keys=False).strip()}
```

## Versions

{', '.join(f"{k} {v}" for k, v in record['versions'].items())}
"""


_AGENT_USAGE = """The student expects the conversation trajkit renders for it: the system prompt
`trajkit.agent.prompts.load_prompt("PROMPT").text`, the task as
`trajkit.agent.format.conversation(...)` writes it, and generation stopped at `<end_code>`:

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
from trajkit.agent.format import conversation, STOP_SEQUENCES
from trajkit.agent.prompts import load_prompt

tokenizer = AutoTokenizer.from_pretrained("model")
model = AutoModelForCausalLM.from_pretrained("model")
messages = conversation(load_prompt("PROMPT").text, "What is 17 * 23?", [])
ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
out = model.generate(**ids, max_new_tokens=256, stop_strings=STOP_SEQUENCES, tokenizer=tokenizer)
```"""

_COT_USAGE = """The student expects the conversation trajkit renders for it: the system prompt
`trajkit.agent.prompts.load_prompt("PROMPT").text` and the task, as
`trajkit.agent.cot.cot_messages(...)` writes them; it answers in one turn ending with
`Final answer: X`, which `trajkit.agent.cot.extract_cot_answer` reads:

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
from trajkit.agent.cot import cot_messages, extract_cot_answer
from trajkit.agent.prompts import load_prompt

tokenizer = AutoTokenizer.from_pretrained("model")
model = AutoModelForCausalLM.from_pretrained("model")
messages = cot_messages(load_prompt("PROMPT").text, "What is 17 * 23?")
ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
out = model.generate(**ids, max_new_tokens=256)
```
"""


def _subsample_note(data: dict, record: dict) -> str:
    available, limit = data.get("available"), record.get("recipe", {}).get("subsample")
    if not limit or available is None or available <= limit:
        return ""
    return f"; subsample: {limit} of the {available} trajectories it kept, drawn with seed {record['recipe'].get('seed')}"
