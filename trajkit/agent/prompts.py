"""Versioned prompt templates: `trajkit/prompts/<name>.j2`, rendered with Jinja.

`load_prompt("student")` gives the system prompt the student is trained and evaluated with.
A `Prompt` carries the rendered text, an id (`<name>/v<version>`, the version read from a
`{#- version: N -#}` line in the template) and a content hash of the template source, which
is what provenance (`prompt_template`, `prompt_hash`) and training cards record.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from trajkit.errors import ConfigError

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
_VERSION = re.compile(r"\{#-?\s*version:\s*(\w+)\s*-?#\}")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Prompt:
    id: str  # "<name>/v<version>", or "<name>" when the template declares no version
    text: str  # the rendered prompt
    hash: str  # sha256 (16 hex) of the template source, independent of the variables


def load_prompt(name: str, **variables: Any) -> Prompt:
    """Render `trajkit/prompts/<name>.j2` with `variables` (undefined variables are an error)."""
    source = prompt_source(name)
    try:
        text = _compile(source).render(**variables)
    except Exception as exc:  # jinja2 raises several types; all mean a bad template or variable
        raise ConfigError(
            f"cannot render prompt {name!r}: {exc}",
            where=str(PROMPTS_DIR / f"{name}.j2"),
            fix="pass every variable the template uses",
        ) from None
    version = _VERSION.search(source)
    prompt_id = f"{name}/v{version.group(1)}" if version else name
    return Prompt(id=prompt_id, text=text.strip(), hash=source_hash(source))


def prompt_source(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(f"bad prompt name {name!r}", fix="use a template name such as 'student'")
    path = PROMPTS_DIR / f"{name}.j2"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.j2"))) or "none"
        raise ConfigError(f"no prompt template {name!r}", where=str(path), fix=f"known prompts: {known}")
    return path.read_text(encoding="utf-8")


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


@lru_cache(maxsize=32)
def _compile(source: str):
    import jinja2

    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False
    )
    return env.from_string(source)
