"""Write a trained student (a transformers safetensors folder) as a GGUF file for llama.cpp.

A student trained by `trajkit train` has the architecture and tokenizer of its base model, and the
base model is a GGUF here (the embedded SmolLM2 or a registry model). So the base GGUF is the
template: its metadata (architecture, hyper-parameters, tokenizer, special tokens) is copied and
each of its tensors is replaced by the student's weight of the same role, in the layout llama.cpp
expects. The student's own chat template (the one it was trained with) replaces the template's.
Nothing here knows a tokenizer format, which is what makes it small.

Weights are written as F16 (matrices) and F32 (norms and other vectors): llama.cpp then runs the
student several times faster than transformers on a CPU, with the same greedy choices in all but
near-tie cases (F16 rounding).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from trajkit.errors import ConfigError, InputError
from trajkit.models.registry import EMBEDDED_REGISTRY_NAME, REGISTRY
from trajkit.models.specs import resolve_gguf

# architectures whose attention q/k rows llama.cpp's converter interleaves (rotary layout)
_PERMUTED_QK = {"llama"}
_SKIPPED_KEYS = ("GGUF.", "general.architecture")  # written by GGUFWriter itself
_CHAT_TEMPLATE_KEY = "tokenizer.chat_template"
_FILE_TYPE_KEY = "general.file_type"
_MOSTLY_F16 = 1


def export_gguf(model_dir: str | os.PathLike, template: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Write `model_dir`'s weights as a GGUF at `output` (atomic), using `template`'s metadata."""
    import gguf

    model_dir, output = Path(model_dir), Path(output)
    reader = gguf.GGUFReader(resolve_gguf(template))
    arch = str(_field(reader, "general.architecture"))
    weights = _student_weights(model_dir)
    by_gguf_name = _gguf_names(weights, arch, int(_field(reader, f"{arch}.block_count")))
    heads = int(_field(reader, f"{arch}.attention.head_count"))
    kv_heads = int(_field(reader, f"{arch}.attention.head_count_kv", heads))
    chat_template = _chat_template(model_dir)

    output.parent.mkdir(parents=True, exist_ok=True)
    temp = output.parent / f".{output.name}.tmp-{uuid.uuid4().hex}"
    try:
        writer = gguf.GGUFWriter(str(temp), arch)
        _copy_metadata(reader, writer, chat_template)
        for tensor in reader.tensors:
            array = _tensor_for(tensor, by_gguf_name, weights, arch, heads, kv_heads)
            writer.add_tensor(tensor.name, array)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, output)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return output


def default_template(model_dir: Path) -> str:
    """The base model a `trajkit train` output was trained from, as a GGUF spec."""
    training = model_dir.parent / "training.json"
    if training.is_file():
        base = ((json.loads(training.read_text()).get("recipe") or {}).get("model") or {}).get("name")
        if base in ("embedded", EMBEDDED_REGISTRY_NAME):
            return EMBEDDED_REGISTRY_NAME
        if base and (str(base).endswith(".gguf") or _is_registry_name(base)):
            return str(base)
    raise ConfigError(
        f"cannot tell which GGUF {model_dir} was trained from",
        fix="pass --template with the base model's registry name or .gguf file",
    )


def _is_registry_name(name: str) -> bool:
    return name in REGISTRY


def _field(reader, key: str, default=None):
    field = reader.fields.get(key)
    if field is None:
        if default is not None:
            return default
        raise InputError(f"the template GGUF has no '{key}'", where="gguf export", fix="use the base model's GGUF as template")
    return field.contents()


def _student_weights(model_dir: Path) -> dict:
    from safetensors.torch import load_file

    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise InputError(
            f"no .safetensors weights in {model_dir}",
            where="gguf export",
            fix="give the model/ folder that `trajkit train` wrote (LoRA runs: merge the adapter first)",
        )
    weights = {}
    for file in files:
        weights.update(load_file(str(file)))
    return weights


def _gguf_names(weights: dict, arch: str, blocks: int) -> dict[str, str]:
    """GGUF tensor name -> the student's tensor name."""
    import gguf

    arch_id = next((a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == arch), None)
    if arch_id is None:
        raise InputError(f"unknown GGUF architecture '{arch}'", where="gguf export")
    names = gguf.get_tensor_name_map(arch_id, blocks)
    mapped = {}
    for name in weights:
        gguf_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if gguf_name is not None:
            mapped[gguf_name] = name
    return mapped


def _tensor_for(tensor, by_gguf_name: dict, weights: dict, arch: str, heads: int, kv_heads: int):
    import numpy as np

    name = tensor.name
    source = by_gguf_name.get(name)
    if source is None and name == "output.weight":  # tied embeddings saved once
        source = by_gguf_name.get("token_embd.weight")
    if source is None:
        raise InputError(f"the student has no weight for GGUF tensor '{name}'", where="gguf export",
                         fix="export with the GGUF of the model the student was trained from (--template)")
    array = weights[source].float().numpy()
    expected = tuple(int(d) for d in reversed(tensor.shape.tolist()))
    if array.shape != expected:
        raise InputError(f"'{source}' has shape {array.shape}, the template's '{name}' {expected}",
                         where="gguf export", fix="use the base model's GGUF as template")
    if arch in _PERMUTED_QK and name.endswith("attn_q.weight"):
        array = _permute(array, heads)
    elif arch in _PERMUTED_QK and name.endswith("attn_k.weight"):
        array = _permute(array, kv_heads)
    return array.astype(np.float16 if array.ndim >= 2 else np.float32)


def _permute(weights, heads: int):
    """llama.cpp's rotary layout for q/k rows (the inverse of what its GGUF reader undoes)."""
    rows = weights.shape[0]
    return weights.reshape(heads, 2, rows // heads // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def _chat_template(model_dir: Path) -> str | None:
    jinja = model_dir / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    config = model_dir / "tokenizer_config.json"
    if config.is_file():
        template = json.loads(config.read_text(encoding="utf-8")).get("chat_template")
        return template if isinstance(template, str) else None
    return None


def _copy_metadata(reader, writer, chat_template: str | None) -> None:
    import gguf

    for field in reader.fields.values():
        if field.name.startswith(_SKIPPED_KEYS) or field.name in (_CHAT_TEMPLATE_KEY, _FILE_TYPE_KEY):
            continue
        kind = field.types[0]
        sub_type = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub_type)
    writer.add_file_type(_MOSTLY_F16)
    template = chat_template if chat_template is not None else _field(reader, _CHAT_TEMPLATE_KEY, "")
    if template:
        writer.add_chat_template(template)
