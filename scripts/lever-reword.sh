#!/usr/bin/env bash
# A data lever for unseen question shapes, decided on the dev world: does training on teacher-
# reworded copies of the questions (`python -m trajkit.experiment reword`) help the agent student
# answer wordings and templates it never saw? Run after `make experiment` (it reads the teacher
# data and the equal budget of the main comparison).
#   control:  the main agent arm's subsample (same draw, seed 0), twice its steps (6 epochs)
#   reworded: the same trajectories plus a reworded copy of each that passes the checks (names,
#             numbers, no answer given), the same steps
#   resolved: the same trajectories plus the teacher's own solutions of those rewordings, where
#             correct (the stricter form: the gold answer catches a rewording that changed the
#             question's meaning), the same steps
#   more:     as many of the teacher's own trajectories as `resolved` has examples (the first
#             draw's and more of the same draw), the same steps: is `resolved` better for its
#             rewordings, or just for having more distinct examples?
# Decision rule, fixed before any run: adopt the lever if, on the dev world (`--seed 2`), it
# raises unseen-shape accuracy by 5 points or more without losing 5 points in-template. The
# students are then evaluated on the test world too, so the report shows what the decision gives.
# (`more` was added after the first dev results, as a control for them, not as a lever.)
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
step teacher-resolved $TK build recipes/experiment/teacher-reworded.yaml

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
student resolved --set "dataset=[$L/teacher-reworded, $L/teacher-resolved]" --set subsample=null \
  --set "filter={presets: [paper], where: \"trajectory_id NOT LIKE '%#reworded'\"}"
read -r RESOLVED _ < <($PY -m trajkit.experiment budget "$L/teacher-resolved")
student more --set "subsample=$((EXAMPLES + RESOLVED))"
arms() {  # arms PREFIX: the report's arms and tests for the runs PREFIX-NAME
  for name in control reworded resolved more; do echo --arm "$name=$L/$1-$name"; done
  echo --compare "reworded|control" --compare "resolved|control" --compare "resolved|reworded" \
    --compare "more|control" --compare "resolved|more"
}
# shellcheck disable=SC2046  # word splitting of arms' output is intended (no spaces in the paths)
$PY -m trajkit.experiment report "$L/dev-report" $(arms dev-eval) \
  --student "control=$L/student-control" --student "reworded=$L/student-reworded" \
  --student "resolved=$L/student-resolved" --student "more=$L/student-more"
for name in control reworded resolved more; do
  step "test-eval-$name" $TK eval recipes/experiment/eval-agent.yaml --model "$L/student-$name/model.gguf" -o "$L/test-eval-$name"
done
# shellcheck disable=SC2046
$PY -m trajkit.experiment report "$L/test-report" $(arms test-eval) --timings "$TIMES"
