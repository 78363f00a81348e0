#!/usr/bin/env bash
# A data lever for unseen question shapes, decided on the dev world: does training on teacher-
# reworded copies of the questions (`python -m trajkit.experiment reword`) help the agent student
# answer wordings and templates it never saw? Run after `make experiment` (it reads the teacher
# data and the equal budget of the main comparison).
#   control:  the main agent arm's subsample (same draw, seed 0), twice its steps (6 epochs)
#   reworded: the same trajectories plus a reworded copy of each that passes the checks, the same
#             steps (about 3 epochs)
# Decision rule, fixed before any run: adopt the lever if, on the dev world (`--seed 2`), it
# raises unseen-shape accuracy by 5 points or more without losing 5 points in-template. Both
# students are then evaluated on the test world too, so the report shows what the decision gives.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/stages.sh
hold_cpu_lock "$@"
TK=.venv/bin/trajkit
PY=.venv/bin/python
OUT=experiment-out
L=$OUT/lever-reword
TIMES="$L/timings.tsv"
STAGE_LABEL=lever
mkdir -p "$L"

[ -f "$OUT/dev/tasks/tasks.parquet" ] || step dev-tasks $TK tasks synth "$OUT/dev/tasks" --n 300 --seed 2 \
  --test-fraction 0.47 --max-hops 3 --knowledge-share 0.5 --small-arithmetic-share 0.5 \
  --heldout-templates default --unseen-fraction 0.43 --overwrite
read -r EXAMPLES STEPS < <($PY -m trajkit.experiment budget "$OUT/teacher" "$OUT/teacher-cot" "$OUT/teacher-cot-rag")
LEVER_STEPS=$((2 * STEPS))
[ -f "$L/teacher-reworded/trajkit.json" ] || step reword $PY -m trajkit.experiment reword "$OUT/teacher" \
  "$L/teacher-reworded" --subsample "$EXAMPLES" --seed 0

student() {  # student NAME [trajkit train --set ...]: train, write the GGUF, evaluate on dev and test
  local name=$1; shift
  local dir="$L/student-$name"
  [ -f "$dir/model/config.json" ] || step "train-$name" $TK train recipes/experiment/sft-agent.yaml -o "$dir" \
    --overwrite --set seed=0 --set "training.max_steps=$LEVER_STEPS" "$@"
  [ "$dir/model.gguf" -nt "$dir/model/model.safetensors" ] || $TK models gguf "$dir/model" -o "$dir/model.gguf"
  step "dev-eval-$name" $TK eval recipes/experiment/eval-agent-dev.yaml --model "$dir/model.gguf" -o "$L/dev-eval-$name"
}
student control --set "subsample=$EXAMPLES"
student reworded --set "dataset=$L/teacher-reworded" --set subsample=null
$PY -m trajkit.experiment report "$L/dev-report" --arm "control=$L/dev-eval-control" \
  --arm "reworded=$L/dev-eval-reworded" --compare "reworded|control" \
  --student "control=$L/student-control" --student "reworded=$L/student-reworded"
for name in control reworded; do
  step "test-eval-$name" $TK eval recipes/experiment/eval-agent.yaml --model "$L/student-$name/model.gguf" -o "$L/test-eval-$name"
done
$PY -m trajkit.experiment report "$L/test-report" --arm "control=$L/test-eval-control" \
  --arm "reworded=$L/test-eval-reworded" --compare "reworded|control" --timings "$TIMES"
