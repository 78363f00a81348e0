#!/usr/bin/env bash
# How the experiment's SAG candidate temperature was chosen, on a dev world of its own (never on the
# test split): 60 tasks from `trajkit tasks synth --seed 2`, the agent-distilled student greedy and
# with 8 candidates at each temperature. Needs the trained student of `make experiment`
# (experiment-out/s0/student-agent/model.gguf). About 30 minutes on 2 cores. The temperature in
# recipes/experiment/eval-agent-sag.yaml (0.7) was chosen this way with an earlier experiment's student.
#   bash scripts/experiment-sag-dev.sh [TEMPERATURE ...]     (default: 0.4 0.7 1.0)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/stages.sh
hold_cpu_lock "$@"
TK=.venv/bin/trajkit
OUT=experiment-out/sag-dev
STUDENT=experiment-out/s0/student-agent/model.gguf
[ -f "$STUDENT" ] || { echo "experiment-sag-dev: no $STUDENT: run make experiment first" >&2; exit 2; }
[ -f "$OUT/tasks/tasks.parquet" ] || $TK tasks synth --n 80 --seed 2 --test-fraction 0.75 "$OUT/tasks"

recipe() {  # recipe CANDIDATES TEMPERATURE: the student with SAG on the dev world's 60 test tasks
  cat > "$OUT/recipe-$1-$2.yaml" <<YAML
name: sag-dev-$1-$2
model: {backend: llamacpp, parallel: 16, context: 65536}
benchmarks:
  - name: synthetic-dev
    tasks: {source: $OUT/tasks/tasks.parquet, split: test, limit: 60}
sampling: {temperature: 0.0, max_tokens: 160, seed: 0}
prompt: student
agent: {max_steps: 4, candidates: $1, candidate_temperature: $2, candidate_top_p: 0.8}
tools:
  sandbox: {timeout_s: 10}
  retriever: {corpus: $OUT/tasks/corpus.parquet, mode: bm25, k: 2}
concurrency: 16
output: $OUT/run-$1-$2
YAML
  echo "$OUT/recipe-$1-$2.yaml"
}

$TK eval "$(recipe 1 0.4)" --model "$STUDENT" -o "$OUT/greedy" --candidates 1
temperatures=("$@"); [ $# -gt 0 ] || temperatures=(0.4 0.7 1.0)
for temperature in "${temperatures[@]}"; do
  $TK eval "$(recipe 8 "$temperature")" --model "$STUDENT" -o "$OUT/sag8-t$temperature" --candidates 8
done
$TK eval report "$OUT"/greedy "$OUT"/sag8-t* --out "$OUT/report"
