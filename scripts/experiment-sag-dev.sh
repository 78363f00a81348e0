#!/usr/bin/env bash
# How the experiment's SAG candidate temperature was chosen, on a dev world of its own (never on the
# test split): 60 tasks from `trajkit tasks synth --seed 2`, the agent-distilled student greedy and
# with 8 candidates at each temperature. Needs the trained student of `make experiment`
# (experiment-out/student-agent/model.gguf). About 30 minutes on 2 cores.
#   bash scripts/experiment-sag-dev.sh [TEMPERATURE ...]     (default: 0.4 0.7 1.0)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TRAJKIT_CPU_LOCKED:-}" ] && command -v flock >/dev/null; then
  exec env TRAJKIT_CPU_LOCKED=1 flock /tmp/trajkit-cpu.lock bash "$0" "$@"
fi
TK=.venv/bin/trajkit
OUT=experiment-out/sag-dev
STUDENT=experiment-out/student-agent/model.gguf
[ -f "$STUDENT" ] || { echo "experiment-sag-dev: no $STUDENT: run make experiment first" >&2; exit 2; }
[ -f "$OUT/tasks/tasks.parquet" ] || $TK tasks synth --n 80 --seed 2 --test-fraction 0.75 "$OUT/tasks"

recipe() {  # recipe CANDIDATES TEMPERATURE: eval-agent-sag.yaml on the dev world's 60 test tasks
  sed -e "s#experiment-out/tasks/#$OUT/tasks/#g" -e 's/limit: 100/limit: 60/' \
      -e "s/candidates: 8, candidate_temperature: [0-9.]*/candidates: $1, candidate_temperature: $2/" \
      -e "s/^name: .*/name: sag-dev-$1-$2/" -e "s/name: synthetic-test/name: synthetic-dev/" recipes/experiment/eval-agent-sag.yaml > "$OUT/recipe-$1-$2.yaml"
  echo "$OUT/recipe-$1-$2.yaml"
}

$TK eval "$(recipe 1 0.4)" --model "$STUDENT" -o "$OUT/greedy" --candidates 1
temperatures=("$@"); [ $# -gt 0 ] || temperatures=(0.4 0.7 1.0)
for temperature in "${temperatures[@]}"; do
  $TK eval "$(recipe 8 "$temperature")" --model "$STUDENT" -o "$OUT/sag8-t$temperature" --candidates 8
done
$TK eval report "$OUT"/greedy "$OUT"/sag8-t* --out "$OUT/report"
