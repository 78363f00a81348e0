"""Every export folder can be moved or uploaded as it is: no config file it writes names the
folder it was written to (or any other absolute path)."""

from __future__ import annotations

import json

import pytest
import yaml

from trajkit.exports import FORMATS, export


def _paths_in(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _paths_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _paths_in(item)
    elif isinstance(value, str):
        yield value


# tokens needs captured token ids (its own tests build them) and writes Parquet only; hub: tests/hub
@pytest.mark.parametrize("fmt", [f for f in FORMATS if f not in ("hub", "tokens")])
def test_export_config_files_hold_relative_paths(fmt, dataset, tmp_path):
    out = tmp_path / "deep" / "export"
    export(fmt, str(dataset), str(out))
    configs = [p for p in out.rglob("*") if p.suffix in (".yaml", ".yml") or p.name.endswith("_info.json")]
    for path in configs:
        text = path.read_text()
        assert str(tmp_path) not in text, path
        loaded = yaml.safe_load(text) if path.suffix != ".json" else json.loads(text)
        for value in _paths_in(loaded):
            assert not value.startswith("/"), (path, value)
    if fmt == "axolotl":
        assert [p.name for p in configs] == ["axolotl.yaml"]
    if fmt == "llamafactory":
        assert [p.name for p in configs] == ["dataset_info.json"]
