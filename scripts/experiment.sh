#!/usr/bin/env bash
# `make experiment`: the paper's central comparison in miniature, on the embedded default, offline
# and seeded. On tasks that need tools, a small student distilled from agent trajectories beats
# the same student distilled from chain-of-thought answers.
#   1. synthetic tasks: 330 train, 110 test (two disjoint fictional worlds: no shared entity)
#   2. teacher (Qwen2.5-Coder-1.5B-Instruct on llama.cpp): agent trajectories on all 330 train tasks,
#      agent trajectories with first-thought prefix on 16 of them, CoT answers to the first 48 of them,
#      and agent trajectories on 50 test tasks (the yardstick; never trained on)
#   3. rejection sampling (the paper's rule) and two SmolLM2-135M students with the same budget:
#      agent-distilled and CoT-distilled
#   4. evaluation on 100 held-out synthetic test tasks + 50 GSM-hard problems (out of domain):
#      base, CoT-distilled and agent-distilled students; greedy and with self-consistent action
#      generation (SAG); every student runs on llama.cpp as an F16 GGUF (`trajkit models gguf`)
#   5. report: experiment-out/report/RESULTS.md (+ results.json, accuracy.png)
# Every step resumes: re-running skips finished trajectories, trained students and evaluations.
# The whole run holds the CPU lock: model work must not share the 2 cores with other jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TRAJKIT_CPU_LOCKED:-}" ] && command -v flock >/dev/null; then
  exec env TRAJKIT_CPU_LOCKED=1 flock /tmp/trajkit-cpu.lock bash "$0" "$@"
fi
TK=.venv/bin/trajkit
OUT=experiment-out
SAG=${SAG:-8}
# the untrained base model never answers (0 of 32 in earlier runs) and runs every step to the
# token limit: it is evaluated on the first BASE_LIMIT tasks of each benchmark (n is in the table)
BASE_LIMIT=${BASE_LIMIT:-40}
BASE_SAG_LIMIT=${BASE_SAG_LIMIT:-12}
mkdir -p "$OUT"
TIMES="$OUT/timings.tsv"  # stage and seconds, appended by every run (a resumed run adds its own)

step() {  # step NAME COMMAND...: run and record the wall time of one stage
  local name=$1; shift
  local t0; t0=$(date +%s)
  echo "== experiment: $name"
  "$@"
  printf '%s\t%s\n' "$name" "$(( $(date +%s) - t0 ))" >> "$TIMES"
}

train() {  # train RECIPE OUTPUT_DIR: skipped when the trained model is there
  if [ -f "$2/model/config.json" ]; then echo "experiment: $2 already trained"; return; fi
  $TK train "$1" --overwrite
}

gguf() {  # gguf MODEL_DIR|embedded OUTPUT.gguf: the model as F16 GGUF for llama.cpp, redone after retraining
  if [ -f "$2" ] && { [ "$1" = embedded ] || [ "$2" -nt "$1/model.safetensors" ]; }; then return; fi
  $TK models gguf "$1" -o "$2"
}

evaluate() {  # evaluate RECIPE MODEL OUTPUT [more trajkit eval options]
  local recipe=$1 model=$2 output=$3; shift 3
  $TK eval "$recipe" --model "$model" -o "$output" "$@"
}

step prepare-teacher $TK models prepare qwen2.5-coder-1.5b
[ -f "$OUT/tasks/tasks.parquet" ] || step tasks \
  $TK tasks synth --n 440 --seed 1 --test-fraction 0.25 "$OUT/tasks"

step teacher-agent $TK build recipes/experiment/teacher.yaml
step teacher-ftp $TK build recipes/experiment/teacher-ftp.yaml
step teacher-cot $TK build recipes/experiment/teacher-cot.yaml
step teacher-test $TK build recipes/experiment/teacher-test.yaml

# rejection sampling happens in the SFT recipes (`filter: paper`): correct, answered, no parse error.
# The students (and the untrained base) are evaluated on llama.cpp, each written once as an F16 GGUF.
AGENT=recipes/experiment/eval-agent.yaml
AGENT_SAG=recipes/experiment/eval-agent-sag.yaml
COT=recipes/experiment/eval-cot.yaml

step train-agent train recipes/experiment/sft-agent.yaml "$OUT/student-agent"
step gguf-agent gguf "$OUT/student-agent/model" "$OUT/student-agent/model.gguf"
step eval-agent evaluate $AGENT "$OUT/student-agent/model.gguf" "$OUT/eval-agent" --candidates 1
step eval-agent-sag evaluate $AGENT_SAG "$OUT/student-agent/model.gguf" "$OUT/eval-agent-sag$SAG" --candidates "$SAG"

step train-cot train recipes/experiment/sft-cot.yaml "$OUT/student-cot"
step gguf-cot gguf "$OUT/student-cot/model" "$OUT/student-cot/model.gguf"
step eval-cot evaluate $COT "$OUT/student-cot/model.gguf" "$OUT/eval-cot"

step gguf-base gguf embedded "$OUT/base-135m.gguf"
step eval-base evaluate $AGENT "$OUT/base-135m.gguf" "$OUT/eval-base" --candidates 1 --limit "$BASE_LIMIT"
step eval-base-sag evaluate $AGENT_SAG "$OUT/base-135m.gguf" "$OUT/eval-base-sag$SAG" --candidates "$SAG" --limit "$BASE_SAG_LIMIT"

wall=$(awk -F'\t' '{s += $2} END {print s}' "$TIMES")  # the stages' time, across resumed runs
.venv/bin/python -m trajkit.experiment report "$OUT/report" \
  --train "teacher, agent=$OUT/teacher" \
  --train "teacher, agent + first-thought prefix=$OUT/teacher-ftp" \
  --train "teacher, CoT=$OUT/teacher-cot" \
  "teacher 1.5B, agent (test)=$OUT/teacher-test" \
  "base 135M, agent=$OUT/eval-base" \
  "base 135M, agent + SAG=$OUT/eval-base-sag$SAG" \
  "CoT-distilled 135M, CoT=$OUT/eval-cot" \
  "agent-distilled 135M=$OUT/eval-agent" \
  "agent-distilled 135M + SAG=$OUT/eval-agent-sag$SAG" \
  --rename synthetic=synthetic-test \
  --role "agent=agent-distilled 135M" --role "agent_sag=agent-distilled 135M + SAG" \
  --role "cot=CoT-distilled 135M, CoT" --role "teacher_test=teacher 1.5B, agent (test)" \
  --wall-s "$wall" --timings "$TIMES"
