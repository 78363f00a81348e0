"""Versioned prompt templates."""

from __future__ import annotations

import pytest

from trajkit.agent import prompts
from trajkit.agent.prompts import load_prompt, source_hash
from trajkit.errors import ConfigError


def test_student_prompt():
    prompt = load_prompt("student")
    assert prompt.id == "student/v1"
    assert prompt.hash == source_hash((prompts.PROMPTS_DIR / "student.j2").read_text())
    for needed in ("Thought:", "Code:", "```py", "<end_code>", "search(query)", "final_answer(x)"):
        assert needed in prompt.text
    assert "version" not in prompt.text and "{#" not in prompt.text  # template comments do not leak
    assert len(prompt.text) < 1000  # short: a small model reads it at every step


def test_variables_hash_and_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(prompts, "PROMPTS_DIR", tmp_path)
    (tmp_path / "greet.j2").write_text("{#- version: 3 -#}\nHello {{ who }}.\n")
    first = load_prompt("greet", who="student")
    assert (first.id, first.text) == ("greet/v3", "Hello student.")
    assert load_prompt("greet", who="teacher").hash == first.hash  # the hash is of the source
    with pytest.raises(ConfigError, match="cannot render prompt 'greet'"):
        load_prompt("greet")
    (tmp_path / "greet.j2").write_text("{#- version: 3 -#}\nHi {{ who }}.\n")
    assert load_prompt("greet", who="x").hash != first.hash
    (tmp_path / "plain.j2").write_text("No version here.")
    assert load_prompt("plain").id == "plain"
    with pytest.raises(ConfigError, match="no prompt template 'missing'.*known prompts: greet, plain"):
        load_prompt("missing")
    with pytest.raises(ConfigError, match="bad prompt name"):
        load_prompt("../etc/passwd")
