"""The SFT recipe: a YAML file, validated with pydantic.

    model: embedded                 # HF id, local folder, or `embedded` (SmolLM2-135M-Instruct)
    dataset: runs/teacher-v1        # trajkit dataset dir(s), or synthetic:N[:SEED]
    filter: paper                   # preset name(s) or a SQL predicate over `trajectories`
    examples: {exclude_prefix: false, exclude_error_steps: true, failed: drop}
    lora: {r: 64, alpha: 128, dropout: 0.05, target_modules: all-linear}   # null = full fine-tune
    training: {learning_rate: 2e-4, epochs: 2, batch_size: 4, max_length: 10240, precision: bf16, ...}
    seed: 0
    output_dir: out/sft

Every TRL/transformers default that changed across versions (gradient checkpointing, bf16,
learning rate, max length, ...) is set here explicitly. Relative paths are relative to the
working directory. Errors name the YAML path and line of the bad value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from trajkit.errors import ConfigError
from trajkit.schema import Model, stable_hash
from trajkit.sft.convert import ExampleOptions


class ModelSpec(Model):
    name: str = Field("embedded", min_length=1, description="HF model id, local folder, or 'embedded'")
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "float32"
    chat_template: str | None = Field(None, description="a .jinja file replacing the tokenizer's chat template")
    attn_implementation: str | None = None
    trust_remote_code: bool = False


class FilterSpec(Model):
    where: str | None = Field(None, description="SQL predicate over the trajectories view")
    presets: list[str] = Field(default_factory=list, description="named filters (trajkit filter --list-presets)")


class LoraSpec(Model):
    r: int = Field(64, ge=1)
    alpha: int = Field(128, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"


class TrainingSpec(Model):
    learning_rate: float = Field(2e-4, gt=0)
    epochs: float = Field(2, gt=0)
    max_steps: int = Field(-1, description="stop after this many optimizer steps (-1: run all epochs)")
    batch_size: int = Field(4, ge=1, description="per device")
    gradient_accumulation_steps: int = Field(1, ge=1)
    max_length: int = Field(1024, ge=32)
    packing: bool = False
    packing_strategy: Literal["bfd", "bfd_split", "wrapped"] = "bfd"
    group_by_length: bool = Field(
        False, description="batch examples of similar length together (less padding; transformers' group_by_length)"
    )
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    gradient_checkpointing: bool = False
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    lr_scheduler: str = "cosine"
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    optim: str = "adamw_torch"
    logging_steps: int = Field(1, ge=1)
    save_steps: int | None = Field(None, ge=1, description="checkpoint every N steps (default: none)")
    report_to: list[str] = Field(default_factory=list, description="e.g. [tensorboard, wandb]")
    extra: dict[str, Any] = Field(default_factory=dict, description="any other trl.SFTConfig field")

    @field_validator("max_steps")
    @classmethod
    def _steps(cls, value: int) -> int:
        if value == 0 or value < -1:
            raise ValueError("must be a positive number of steps, or -1 for all epochs")
        return value


class Recipe(Model):
    model: ModelSpec = Field(default_factory=ModelSpec)
    dataset: list[str] = Field(min_length=1, description="dataset directories, or synthetic:N[:SEED]")
    filter: FilterSpec | None = None
    subsample: int | None = Field(
        None, ge=1,
        description="train on at most N trajectories, drawn with `seed` after the filter (equal budgets across students)",
    )
    examples: ExampleOptions = Field(default_factory=ExampleOptions)
    lora: LoraSpec | None = None
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    seed: int = 0
    output_dir: str = Field(min_length=1)
    save_merged: bool = Field(True, description="with LoRA: also save the adapter merged into the model")

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if isinstance(data.get("model"), str):
            data["model"] = {"name": data["model"]}
        if isinstance(data.get("dataset"), str):
            data["dataset"] = [data["dataset"]]
        filt = data.get("filter")
        if isinstance(filt, str):
            data["filter"] = _filter_from_string(filt)
        elif isinstance(filt, list):
            data["filter"] = {"presets": filt}
        return data

    @field_validator("filter")
    @classmethod
    def _known_presets(cls, value: FilterSpec | None) -> FilterSpec | None:
        if value is not None and value.presets:
            from trajkit.curate.presets import PRESETS

            unknown = [p for p in value.presets if p not in PRESETS]
            if unknown:
                raise ValueError(f"unknown preset {unknown[0]!r}; known: {', '.join(sorted(PRESETS))}")
        return value

    def where(self) -> str | None:
        """The combined SQL predicate of the filter (None: every trajectory)."""
        if self.filter is None:
            return None
        from trajkit.filters import combine_predicates

        return combine_predicates(self.filter.where, self.filter.presets)

    def recipe_hash(self) -> str:
        return stable_hash(self.model_dump(mode="json"))


def _filter_from_string(text: str) -> dict:
    from trajkit.curate.presets import PRESETS

    names = [part.strip() for part in text.split(",")]
    if all(name in PRESETS for name in names):
        return {"presets": names}
    return {"where": text}


# ------------------------------------------------------------------------- loading


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read and validate a recipe file; `overrides` are `dotted.key=value` (value in YAML)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError("no such recipe file", where=str(path), fix="give the path of a recipe YAML file")
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"not valid YAML ({getattr(exc, 'problem', exc)})", where=where) from None
    if not isinstance(raw, dict):
        raise ConfigError("a recipe is a YAML mapping (model:, dataset:, training:, ...)", where=str(path))
    for override in overrides or []:
        _apply_override(raw, override)
    keys = [o.partition("=")[0].strip() for o in overrides or []]
    return validate_recipe(raw, where=str(path), root=root, override_keys=keys)


def validate_recipe(raw: dict, *, where: str = "recipe", root=None,
                    override_keys: list[str] | None = None) -> Recipe:
    """Validate a recipe mapping; errors name the key path (and its line, given the YAML node)."""
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        keys = [str(k) for k in error["loc"] if not str(k).startswith("function-")]
        dotted = ".".join(keys) or "(top level)"
        line = _line_of(root, keys) if root is not None else None
        overridden = [k for k in override_keys or [] if dotted == k or dotted.startswith(k + ".")]
        if overridden:
            place = f"--set {dotted}"
        elif line:
            place = f"{where}:{line}: {dotted}"
        else:
            place = f"{where}: {dotted}"
        what = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{what}{more}", where=place, fix=_fix_for(error, keys)) from None


def _apply_override(raw: dict, override: str) -> None:
    import yaml

    key, sep, value = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"bad override {override!r}", where="--set", fix="write KEY=VALUE, e.g. training.max_steps=5")
    node = raw
    parts = key.strip().split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {} if node.get(part) is None else _expand(node[part], part)
        node = node[part]
    node[parts[-1]] = yaml.safe_load(value)


def _expand(value: Any, key: str) -> dict:
    if key == "model" and isinstance(value, str):
        return {"name": value}
    raise ConfigError(f"cannot set a key under {key!r}, which is not a mapping", where="--set")


def _line_of(node, keys: list[str]) -> int | None:
    """1-based line of the YAML node at `keys` (or of its deepest existing parent)."""
    import yaml

    line = None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == key:
                    line = k.start_mark.line + 1
                    node = v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and key.isdigit() and int(key) < len(node.value):
            node = node.value[int(key)]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _fix_for(error: dict, keys: list[str]) -> str | None:
    if error["type"] == "extra_forbidden":
        section = keys[:-1]
        model = {
            (): Recipe, ("model",): ModelSpec, ("filter",): FilterSpec, ("lora",): LoraSpec,
            ("training",): TrainingSpec, ("examples",): ExampleOptions,
        }.get(tuple(section))
        if model is not None:
            known = ", ".join(model.model_fields)
            hint = " (other trl.SFTConfig fields go under training.extra)" if section == ["training"] else ""
            return f"known keys here: {known}{hint}"
    return None
