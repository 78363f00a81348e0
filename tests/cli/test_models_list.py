"""`trajkit models list` says what its `prepared` column means (verified = sha256 checked)."""

from __future__ import annotations


def test_models_list_explains_prepared_and_unverified(trajkit, tmp_path, monkeypatch):
    monkeypatch.setenv("TRAJKIT_CACHE", str(tmp_path / "cache"))  # nothing prepared here
    result = trajkit("models", "list", columns=80)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "unverified = a file is in the cache but its sha256 is not checked yet" in text
    assert "yes = assembled in the cache and its sha256 checked against the registry" in text
    assert "trajkit models prepare NAME" in text
