"""What `trajkit train` checks and converts before it writes anything.

The model to load, its tokenizer and chat template, the training data, every trajectory
converted into a masked example (every mask checked), and the fingerprint of exactly what will
be trained on. A bad recipe, model or dataset fails here, before an output directory exists.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trajkit.errors import ConfigError, require
from trajkit.sft.convert import ConversionReport, Example, to_examples
from trajkit.sft.recipe import Recipe

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from trajkit.agent.prompts import Prompt


@dataclass
class Prepared:
    """Everything checked and converted before any output is written."""

    recipe: Recipe
    model_path: str
    tokenizer: PreTrainedTokenizerBase
    chat_template: str | None
    system_prompt: Prompt
    examples: list[Example]
    report: ConversionReport
    data_sources: list[dict]
    data_fingerprint: str
    examples_fingerprint: str
    where: str | None
    mode: str = "agent"  # agent trajectories or CoT answers
    available: int = 0  # trajectories the filter kept, before `subsample`


def resolve_model(name: str) -> str:
    """The folder or HF id to load for `model.name`: any model spec (`trajkit.models.specs.hf_folder`):
    'embedded', a registry name or a local .gguf (converted once into a cached transformers
    folder), a local model folder, or a Hugging Face id as is."""
    from trajkit.models.specs import hf_folder

    return hf_folder(name, where="model.name")


def load_tokenizer(recipe: Recipe, model_path: str) -> tuple[PreTrainedTokenizerBase, str | None]:
    """The model's tokenizer, with the recipe's chat template file (returned too) if it sets one."""
    transformers = require("transformers", "train", "training")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            model_path, trust_remote_code=recipe.model.trust_remote_code
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot load a tokenizer from {model_path!r} ({type(exc).__name__}: {str(exc).splitlines()[0]})",
            where="model.name",
            fix="give 'embedded', a registry name (trajkit models list), a local .gguf or model "
            "folder, or a Hugging Face model id reachable from here",
        ) from None
    chat_template = None
    if recipe.model.chat_template:
        path = Path(recipe.model.chat_template).expanduser()
        if not path.is_file():
            raise ConfigError("no such chat template file", where=f"model.chat_template: {path}")
        chat_template = path.read_text(encoding="utf-8")
        tokenizer.chat_template = chat_template
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            f"the tokenizer of {recipe.model.name!r} has no chat template",
            where="model.name",
            fix="use an instruct/chat model, or set model.chat_template to a .jinja file",
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, chat_template


def prepare(recipe: Recipe, *, log: Callable[[str], None] = lambda _: None) -> Prepared:
    """Load the data and the tokenizer, convert every trajectory, check every mask."""
    from trajkit.agent.prompts import load_prompt
    from trajkit.sft.convert import AUTO, system_prompt_name
    from trajkit.sft.data import load_training_data

    if recipe.examples.system_prompt != AUTO:
        load_prompt(recipe.examples.system_prompt)  # a bad name fails before the data are read
    where = recipe.where()
    data = load_training_data(recipe.dataset, where)
    trajectories, available = subsampled(data.trajectories, recipe.subsample, recipe.seed)
    if not trajectories:
        raise ConfigError(
            "no trajectories to train on" + (" after the filter" if where else ""),
            where="dataset" + (" / filter" if where else ""),
            fix="check the dataset path and the filter (trajkit sql DATASET ... shows what matches)",
        )
    system_prompt = load_prompt(system_prompt_name(recipe.examples.system_prompt, data.mode))
    kind = "CoT answers (trained as the CoT baseline: evaluate with mode: cot)" if data.mode == "cot" else "trajectories"
    drawn = f" (subsample: {len(trajectories)} of {available}, seed {recipe.seed})" if len(trajectories) < available else ""
    log(f"data: {len(trajectories)} {kind}{drawn} from {', '.join(recipe.dataset)}; system prompt {system_prompt.id}")
    model_path = resolve_model(recipe.model.name)
    tokenizer, chat_template = load_tokenizer(recipe, model_path)
    report = ConversionReport()
    examples = list(
        to_examples(
            trajectories,
            tokenizer,
            system_prompt.text,
            recipe.examples,
            max_length=recipe.training.max_length,
            report=report,
            mode=data.mode,
        )
    )
    if not examples:
        raise ConfigError(
            f"no training examples: {report.failed_dropped} failed trajectories dropped, "
            f"{report.too_long} longer than max_length (examples.truncation: {recipe.examples.truncation})",
            where="examples / training.max_length",
            fix="keep failed trajectories (examples.failed: keep|weight) or raise training.max_length",
        )
    return Prepared(
        recipe=recipe,
        model_path=model_path,
        tokenizer=tokenizer,
        chat_template=chat_template,
        system_prompt=system_prompt,
        examples=examples,
        report=report,
        data_sources=data.sources,
        data_fingerprint=data.fingerprint,
        examples_fingerprint=examples_fingerprint(examples),
        where=where,
        mode=data.mode,
        available=available,
    )


def subsampled(trajectories: list, limit: int | None, seed: int) -> tuple[list, int]:
    """At most `limit` of the trajectories, drawn with `seed`, and how many there were. Both the
    draw and the order of an undrawn set start from id order: a filtered read (DuckDB) returns rows
    in no fixed order, and the trainer's seeded shuffle must see the same list on every run."""
    import random

    ordered = sorted(trajectories, key=lambda traj: traj.trajectory_id)
    if limit is None or len(ordered) <= limit:
        return ordered, len(ordered)
    return random.Random(seed).sample(ordered, limit), len(ordered)


def examples_fingerprint(examples: list[Example]) -> str:
    """Hash of exactly what is trained on: token ids, masks and weights."""
    import numpy as np

    digest = hashlib.sha256()
    for example in examples:
        digest.update(np.asarray(example.input_ids, dtype=np.int64).tobytes())
        digest.update(np.asarray(example.assistant_masks, dtype=np.int8).tobytes())
        digest.update(repr(example.weight).encode())
    return digest.hexdigest()[:16]
