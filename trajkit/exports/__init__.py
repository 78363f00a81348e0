"""Exports for other trainers and tools (`trajkit export DS OUT --format F`), one module each.

- `dpo`: TRL preference pairs (per task: correct vs incorrect; per step: SAG candidates);
- `verl`: RL prompts with rule-reward ground truth (from a dataset or a task set);
- `llamafactory`: ShareGPT with function_call/observation turns + `dataset_info.json`;
- `axolotl`: chat messages with per-message train flags + the config section;
- `adp`: the Agent Data Protocol (`trajkit.importers.adp` reads it back);
- `tokens`: the completion token ids and logprobs captured at build time, one row per step.

The default format, `hub`, is the Hugging Face Hub layout (`trajkit.hub.repo_folder`). Every export
writes into a temporary folder renamed when complete (`trajkit.exports.output`), and a dataset
without what a format needs fails with one line naming the recipe setting that produces it.
The on-policy formats (dpo, verl, tokens) refuse a dataset whose captured steps drift
(`trajkit.drift.export_gate`) unless `allow_drift`. Nothing heavy is imported here.
"""

from __future__ import annotations

from trajkit.errors import InputError

FORMATS = ("hub", "dpo", "verl", "llamafactory", "axolotl", "adp", "tokens")


def export(fmt: str, source: str, out: str, *, overwrite: bool = False, pairs: str = "both",
           allow_drift: bool = False, tokenizer: str | None = None, notify=None) -> dict:
    """Write `source` to `out` in format `fmt` (not `hub`); returns a summary.

    `notify(line)` receives the drift check's one-line warning or note (default: stderr).
    """
    if fmt not in FORMATS or fmt == "hub":
        raise InputError(f"unknown export format {fmt!r}", fix=f"use one of: {', '.join(FORMATS)}")
    if fmt == "dpo" and pairs not in ("task", "step", "both"):
        raise InputError(f"unknown --pairs {pairs!r}", fix="use task, step or both")
    notice = drift_check(fmt, source, allow_drift=allow_drift, tokenizer=tokenizer)
    if notice:
        (notify or _stderr)(notice)
    if fmt == "dpo":
        from trajkit.exports.dpo import export_dpo

        return export_dpo(source, out, pairs=pairs, overwrite=overwrite)
    if fmt == "verl":
        from trajkit.exports.verl import export_verl

        return export_verl(source, out, overwrite=overwrite)
    if fmt == "llamafactory":
        from trajkit.exports.llamafactory import export_llamafactory

        return export_llamafactory(source, out, overwrite=overwrite)
    if fmt == "axolotl":
        from trajkit.exports.axolotl import export_axolotl

        return export_axolotl(source, out, overwrite=overwrite)
    if fmt == "adp":
        from trajkit.exports.adp import export_adp

        return export_adp(source, out, overwrite=overwrite)
    if fmt == "tokens":
        from trajkit.exports.tokens import export_tokens

        return export_tokens(source, out, overwrite=overwrite)
    raise InputError(f"unknown export format {fmt!r}", fix=f"use one of: {', '.join(FORMATS)}")


def drift_check(fmt: str, source: str, *, allow_drift: bool = False, tokenizer: str | None = None) -> str | None:
    """The drift gate of an on-policy format when `source` is a dataset (verl also reads task sets)."""
    from pathlib import Path

    from trajkit.drift import GATED_EXPORTS, export_gate
    from trajkit.store import MANIFEST, Dataset

    if fmt not in GATED_EXPORTS or not (Path(source) / MANIFEST).is_file():
        return None  # not a dataset: the export itself says so (verl: a task set, nothing produced)
    return export_gate(Dataset.open(source), fmt=fmt, allow_drift=allow_drift, tokenizer_name=tokenizer)


def _stderr(line: str) -> None:
    import sys

    print(line, file=sys.stderr)
