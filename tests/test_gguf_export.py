"""`trajkit models gguf`: a transformers student written as GGUF runs on the real llama.cpp server
and chooses the same greedy tokens as transformers."""

from __future__ import annotations

import shutil

import httpx
import pytest

from trajkit.errors import InputError

pytestmark = [pytest.mark.model, pytest.mark.server]

PROMPTS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "You solve tasks with Python code."}, {"role": "user", "content": "What is 27 raised to the power 7?"}],
]


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """A 'trained' student: the embedded model's folder with one weight changed, so a copy of the
    template's own weights could not pass."""
    import torch
    from safetensors.torch import load_file, save_file

    from trajkit.models.embedded_llm import embedded_model_path

    folder = tmp_path_factory.mktemp("student") / "model"
    shutil.copytree(embedded_model_path(), folder)
    weights = load_file(str(folder / "model.safetensors"))
    weights["model.norm.weight"] = weights["model.norm.weight"] * torch.linspace(0.8, 1.2, weights["model.norm.weight"].numel())
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder.parent / "training.json").write_text('{"recipe": {"model": {"name": "embedded"}}}')
    return folder


def _greedy_hf(folder, messages, n):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
    out = model.generate(ids, max_new_tokens=n, do_sample=False)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def test_exported_student_answers_like_transformers_on_llama_cpp(student, cli):
    from trajkit.teachers.llama_server import LlamaServer

    result = cli("models", "gguf", str(student))  # template from training.json: the embedded model
    assert result.returncode == 0, result.stderr
    gguf = student.parent / "model.gguf"
    assert result.stdout.splitlines()[0] == str(gguf) and gguf.stat().st_size > 200e6
    assert not list(student.parent.glob(".model.gguf.tmp-*"))
    server = LlamaServer(gguf, context=2048, parallel=1, alias="student").start()
    try:
        for messages in PROMPTS:
            reply = httpx.post(
                f"{server.base_url}/chat/completions",
                json={"model": "student", "messages": messages, "temperature": 0, "max_tokens": 24},
                timeout=120,
            ).json()["choices"][0]["message"]["content"]
            assert reply.strip() == _greedy_hf(student, messages, 24).strip()
    finally:
        server.stop()


def test_wrong_template_or_no_weights_is_one_line_and_writes_nothing(student, tmp_path):
    from trajkit.models.gguf_export import export_gguf

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no .safetensors weights"):
        export_gguf(empty, "smollm2-135m", tmp_path / "x.gguf")
    shrunk = tmp_path / "shrunk"
    shutil.copytree(student, shrunk)
    from safetensors.torch import load_file, save_file

    weights = load_file(str(shrunk / "model.safetensors"))
    weights["model.norm.weight"] = weights["model.norm.weight"][:-1]
    save_file(weights, str(shrunk / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(InputError, match="has shape .* the template's 'output_norm.weight'"):
        export_gguf(shrunk, "smollm2-135m", tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()
    assert not list(tmp_path.glob(".x.gguf.tmp-*"))
