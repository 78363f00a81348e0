"""Supervised fine-tuning on trajectories: examples with exact loss masks, and the TRL recipe.

- `trajkit.sft.convert`: trajectories -> the student's conversation + `input_ids` / masks;
- `trajkit.sft.masks`: exact assistant-token masks for any chat template;
- `trajkit.sft.recipe`: the YAML recipe (validated);
- `trajkit.sft.data`: the trajectories a recipe trains on (datasets or `synthetic:N`, a filter);
- `trajkit.sft.synthetic`: scripted demo trajectories for `synthetic:N`;
- `trajkit.sft.prepare`: everything checked and converted before a run writes anything;
- `trajkit.sft.train`: `trajkit train` / `python -m trajkit.sft.train RECIPE.yaml` (TRL);
- `trajkit.sft.card`: the training card and its machine-readable record;
- `trajkit.sft.export`: `trajkit sft export`, training examples to a file for other trainers.

Nothing here imports torch, transformers or TRL at import time.
"""
