"""Supervised fine-tuning on trajectories: examples with exact loss masks, and the TRL recipe.

- `trajkit.sft.convert`: trajectories -> the student's conversation + `input_ids` / masks;
- `trajkit.sft.masks`: exact assistant-token masks for any chat template;
- `trajkit.sft.recipe`: the YAML recipe (validated);
- `trajkit.sft.train`: `trajkit train` / `python -m trajkit.sft.train RECIPE.yaml`.

Nothing here imports torch, transformers or TRL at import time.
"""
