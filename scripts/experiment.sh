#!/usr/bin/env bash
# `make experiment`: the distillation experiment on the embedded default, end to end, offline.
#   1. synthetic tasks (train/test splits share no entity or question)
#   2. teacher trajectories on the train split (3 samples per task, temperature 0.7)
#   3. rejection sampling: keep the correct, parse-error-free trajectories (the paper's rule).
#      The embedded 135M teacher rarely solves a task; when it solved none, the student is
#      trained on the answered, error-free trajectories instead (format distillation) and the
#      report says so.
#   4. fine-tune the embedded student on them with recipes/sft-demo.yaml (TRL SFT)
#   5. evaluate base vs trained student on the test split, greedy and with SAG
#   6. report (Markdown + HTML) in experiment-out/report
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
failed=drop
kept=$($TK sql "$OUT/teacher-correct" "SELECT count(*) AS n FROM trajectories" -f csv | tail -1)
if [ "$kept" = "0" ]; then
  echo "experiment: the teacher solved no task; training on answered, error-free trajectories (format distillation)" | tee "$OUT/TRAINING-DATA.txt"
  rm -rf "$OUT/teacher-correct"
  $TK filter "$OUT/teacher" "$OUT/teacher-correct" --preset answered --preset no-errors
  failed=keep  # these trajectories are graded incorrect; the recipe drops those by default
else
  echo "experiment: training on $kept correct teacher trajectories (rejection sampling)" | tee "$OUT/TRAINING-DATA.txt"
fi
# the SFT demo recipe (30 full fine-tuning steps on CPU), pointed at the filtered teacher data
$TK train recipes/sft-demo.yaml --set dataset="$OUT/teacher-correct" --set examples.failed=$failed -o "$OUT/student" --overwrite
for model in base student; do
  path=embedded; [ "$model" = student ] && path="$OUT/student/model"
  rm -rf "$OUT/eval-$model" "$OUT/eval-$model-sag$SAG"
  $TK eval recipes/experiment/eval.yaml --model "$path" -o "$OUT/eval-$model" --candidates 1
  $TK eval recipes/experiment/eval.yaml --model "$path" -o "$OUT/eval-$model-sag$SAG" --candidates "$SAG"
done
$TK eval report "$OUT"/eval-base "$OUT"/eval-base-sag$SAG "$OUT"/eval-student "$OUT"/eval-student-sag$SAG --out "$OUT/report"
