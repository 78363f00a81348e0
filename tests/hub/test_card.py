"""The dataset card: renders from the templates, parses with huggingface_hub, shows what it should."""

from __future__ import annotations

import re
import struct

import pytest

from trajkit.hub.card import fence, md_cell, size_category
from trajkit.hub.repo_folder import export_dataset


def card_of(dataset, tmp_path, **options):
    out = tmp_path / "card-export"
    export_dataset(dataset, out, **options)
    return out, (out / "README.md").read_text()


def test_card_parses_with_huggingface_hub(dataset, tmp_path):
    from huggingface_hub import DatasetCard, DatasetCardData

    out, text = card_of(dataset, tmp_path, repo_id="alice/agent-runs", license="apache-2.0")
    card = DatasetCard.load(out / "README.md")
    assert isinstance(card.data, DatasetCardData)
    data = card.data.to_dict()
    assert data["license"] == "apache-2.0"
    assert data["size_categories"] == ["n<1K"]
    assert "text-generation" in data["task_categories"]
    assert {"trajkit", "agent-distillation", "self-consistency", "synthetic"} <= set(data["tags"])
    configs = {c["config_name"]: c for c in data["configs"]}
    assert configs["trajectories"]["default"] is True
    assert configs["trajectories"]["data_files"] == [
        {"split": "train", "path": "trajectories/train-*.parquet"},
        {"split": "test", "path": "trajectories/test-*.parquet"},
    ]
    assert configs["sft"]["data_files"][1] == {"split": "test", "path": "sft/test-*.parquet"}
    # the client's own validation of card data accepts it as well
    DatasetCardData(**data)
    assert card.text.lstrip().startswith("# dataset-1\n")


def test_card_shows_provenance_recipe_and_lineage(filtered_dataset, tmp_path):
    _, text = card_of(filtered_dataset, tmp_path)
    # the SAG teacher's provenance: backend, model, prompt and its hash, FTP, SAG, tools
    assert "`Qwen/Qwen2.5-32B-Instruct`" in text
    assert "`codeact-v1` — content hash `5f1d2c3b4a596877`" in text
    assert "| first-thought prefix | on |" in text
    assert "on: 4 candidates per step" in text
    assert "`search` bm25-1, `python` 3.11" in text
    assert "temperature 0.7, top_p 0.95, max_tokens 1024, seed 7" in text
    assert "### Provenance 1" in text and "### Provenance 2" in text
    # the filter applied, from the lineage (parent by name and fingerprint, not by local path)
    assert re.search(r"\| 1 \| filter \| .* \| dataset-1 \(18 rows, `[0-9a-f]{16}`\) \| `n_steps >= 2` \|", text)
    assert str(tmp_path) not in text
    # the recipe, with its secret removed
    assert "Qwen/Qwen2.5-32B-Instruct" in text and "sk-SECRET" not in text and "api_key" not in text
    assert '"token"' not in text  # lineage params are redacted too
    # reviews
    assert "| submitted | accept | 1 |" in text


def test_card_shows_statistics_charts_schema_example_and_snippets(dataset, tmp_path):
    out, text = card_of(dataset, tmp_path, repo_id="alice/agent-runs")
    assert "| trajectories | 18 |" in text
    assert "| answered | 18 | 100.0% |" in text
    assert "| execution_error | 4 |" in text  # step errors
    assert re.search(r"\| `search` \| \d+ \| \d+ \| 0.0% \| 1.50 \|", text)  # tool use
    assert "| prompt tokens | 5,400 |" in text
    # charts: referenced by the card and real PNG files of a sensible size
    charts = re.findall(r"!\[[^\]]+\]\((assets/[\w.]+\.png)\)", text)
    assert charts == ["assets/steps_histogram.png", "assets/accuracy_by_domain.png"]
    for chart in charts:
        data = (out / chart).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        assert (width, height) == (640, 360)
    # schema tables
    assert "| `steps[].tool_calls[].retrieved[].doc_id` | string |" in text
    assert "| `provenance.sag_n` | int64 | candidates per step (self-consistent action generation) |" in text
    assert "| `messages` | list<struct> |" in text
    # one example trajectory: a correct one that used tools
    assert "## Example trajectory" in text and "**Question:**" in text and "**Final answer:**" in text
    # snippets name the repo
    for snippet in (
        'load_dataset("alice/agent-runs", "trajectories", split="train")',
        'load_dataset("alice/agent-runs", "sft", split="train")',
        "FROM 'hf://datasets/alice/agent-runs/trajectories/*.parquet'",
        'pl.read_parquet("hf://datasets/alice/agent-runs/trajectories/*.parquet")',
        "SFTTrainer(",
        "trajkit pull alice/agent-runs my-dataset",
    ):
        assert snippet in text
    # the TRL snippet trains with trajkit's loss masks, not on the whole conversation
    assert '"assistant_masks": assistant_masks' in text and 'message["train"]' in text
    assert "the student conversation `trajkit train` trains on" in text


def test_backticks_and_pipes_in_data_do_not_break_the_card(make_dataset, tmp_path):
    from tests.hub.conftest import rich_trajectories

    rows = rich_trajectories()
    rows[1].outcome.correct = True
    target = rows[1]
    for row in rows:
        if row is not target:
            row.outcome.correct = False
    _, text = card_of(make_dataset(rows), tmp_path)
    example = text.split("## Example trajectory", 1)[1].split("## Usage", 1)[0]
    assert "````python\nprint('```')\nx = 1 | 2\n````" in example
    assert "````text\n```\n| a | b |\n````" in example


def test_card_without_matplotlib_has_no_chart(dataset, tmp_path, monkeypatch):
    from trajkit.hub import charts

    monkeypatch.setattr(charts, "matplotlib_available", lambda: False)
    out, text = card_of(dataset, tmp_path)
    assert "![" not in text
    assert not (out / "assets").exists()


def test_custom_card_template(dataset, tmp_path):
    template = tmp_path / "mine.md.j2"
    template.write_text("---\n{{ metadata_yaml }}\n---\n# {{ name }}: {{ rows }} rows, {{ overview.accuracy|pct }}\n")
    _, text = card_of(dataset, tmp_path, template=template, pretty_name="Mine")
    assert re.search(r"\n---\n# Mine: 18 rows, \d+\.\d%\n$", text)
    from huggingface_hub import DatasetCard

    assert DatasetCard(text).data.to_dict()["pretty_name"] == "Mine"


def test_helpers():
    assert md_cell("a|b\nc") == "a\\|b c"
    assert md_cell(None) == "" and md_cell(0.5) == "0.5"
    assert fence("x = 1") == "```\nx = 1\n```"
    assert fence("a ```` b", "py").startswith("`````py\n")
    assert size_category(999) == "n<1K" and size_category(1000) == "1K<n<10K" and size_category(2_000_000) == "1M<n<10M"


def test_missing_template_is_an_input_error(dataset, tmp_path):
    from trajkit.errors import InputError

    with pytest.raises(InputError, match="no such card template"):
        export_dataset(dataset, tmp_path / "out", template=tmp_path / "nope.j2")
    assert not (tmp_path / "out").exists()


def test_card_shows_the_model_files_hash_and_licence(make_dataset, tmp_path):
    from tests.factories import make_trajectory
    from trajkit.schema import Provenance

    provenance = Provenance(
        kind="teacher", backend="llamacpp", model="qwen2.5-coder-1.5b",
        model_sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        model_licence="Apache-2.0",
    ).with_fingerprint()
    dataset = make_dataset([make_trajectory(i, provenance=provenance) for i in range(4)])
    _, text = card_of(dataset, tmp_path)
    assert "| model | `qwen2.5-coder-1.5b` |" in text
    assert "| model file sha256 | `cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046` |" in text
    assert "| model licence | Apache-2.0 |" in text
