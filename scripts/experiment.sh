#!/usr/bin/env bash
# `make experiment`: the distillation experiment on the embedded default, end to end, offline.
#   1. synthetic tasks (train/test splits share no entity or question)
#   2. teacher trajectories on the train split (3 samples per task) -> keep the correct ones
#   3. fine-tune the embedded student on them (TRL SFT)
#   4. evaluate base vs trained student on the test split, greedy and with SAG
#   5. report (Markdown + HTML) in experiment-out/report
set -euo pipefail
cd "$(dirname "$0")/.."
TK=.venv/bin/trajkit
OUT=experiment-out
SAG=${SAG:-4}
mkdir -p "$OUT"
[ -f "$OUT/tasks/tasks.parquet" ] || $TK tasks synth --n 300 --seed 0 "$OUT/tasks"
$TK build recipes/experiment/teacher.yaml
rm -rf "$OUT/teacher-correct"
$TK filter "$OUT/teacher" "$OUT/teacher-correct" --preset paper
$TK train recipes/experiment/sft.yaml --overwrite
for model in base student; do
  path=embedded; [ "$model" = student ] && path="$OUT/student/model"
  $TK eval recipes/experiment/eval.yaml --model "$path" -o "$OUT/eval-$model" --candidates 1
  $TK eval recipes/experiment/eval.yaml --model "$path" -o "$OUT/eval-$model-sag$SAG" --candidates "$SAG"
done
$TK eval report "$OUT"/eval-base "$OUT"/eval-base-sag$SAG "$OUT"/eval-student "$OUT"/eval-student-sag$SAG --out "$OUT/report"
