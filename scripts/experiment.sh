#!/usr/bin/env bash
# `make experiment`: the paper's comparison in miniature, on the embedded default, offline and seeded.
# Is a small student distilled from agent trajectories better than one distilled from chain-of-thought
# answers, with or without retrieved passages in its prompt, and on which kinds of task?
#   1. tasks: 300 synthetic tasks in two disjoint fictional worlds: 159 train; 80 test with question
#      shapes seen in training; 61 `test_unseen` with held-out templates and paraphrases (same test
#      world). Four categories: single lookup, multi-hop, small arithmetic, exact computation.
#      Out of domain: GSM-hard (clean golds only) and MATH-500 (levels 1-2).
#   2. teacher (Qwen2.5-Coder-1.5B-Instruct on llama.cpp): agent trajectories on the train split; CoT
#      answers and CoT + RAG answers (2 samples each at temperature 0.7) on 80 train questions; the
#      teacher as an agent on every test task (the yardstick)
#   3. rejection sampling (the paper's rule) and three SmolLM2-135M students with the same budget
#      (examples: the smallest kept set; steps: 3 epochs of it): agent-, CoT- and CoT + RAG-distilled
#   4. evaluation of each student (agent: greedy and with SAG) on llama.cpp as an F16 GGUF
#   5. report: experiment-out/report/RESULTS.md (+ results.json, accuracy.png), with paired tests
#   6. beside the comparison: the agent student trained on all its kept data (its natural budget)
# SEEDS=3 trains and evaluates every student with seeds 0, 1 and 2 (SFT seed, data order, subsample).
# Every step resumes: re-running skips finished trajectories, trained students and evaluations.
# The whole run holds the CPU lock: model work must not share the 2 cores with other jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/stages.sh
hold_cpu_lock "$@"
TK=.venv/bin/trajkit
PY=.venv/bin/python
OUT=experiment-out
SEEDS=${SEEDS:-1}
SAG=4
mkdir -p "$OUT"
TIMES="$OUT/timings.tsv"  # stage and seconds, appended by every run (a resumed run adds its own)
STAGE_LABEL=experiment

tasks() {
  $TK tasks synth "$OUT/tasks" --n 300 --seed 1 --test-fraction 0.47 --max-hops 3 --knowledge-share 0.5 \
    --small-arithmetic-share 0.5 --heldout-templates default --unseen-fraction 0.43 --overwrite
  $PY -m trajkit.experiment prepare "$OUT/tasks"
}

evaluate() {  # evaluate RECIPE MODEL OUTPUT [more trajkit eval options]
  local recipe=$1 model=$2 output=$3; shift 3
  $TK eval "$recipe" --model "$model" -o "$output" "$@"
}

student() {  # student NAME SFT_RECIPE EVAL_RECIPE SEED EXAMPLES STEPS: train, write the GGUF, evaluate
  local name=$1 sft=$2 eval=$3 seed=$4 dir="$OUT/s$4"
  if [ ! -f "$dir/student-$name/model/config.json" ]; then
    step "train-$name-s$seed" $TK train "recipes/experiment/$sft.yaml" -o "$dir/student-$name" --overwrite \
      --set "seed=$seed" --set "subsample=$5" --set "training.max_steps=$6"
  fi
  local gguf="$dir/student-$name/model.gguf"
  [ "$gguf" -nt "$dir/student-$name/model/model.safetensors" ] || $TK models gguf "$dir/student-$name/model" -o "$gguf"
  step "eval-$name-s$seed" evaluate "recipes/experiment/$eval.yaml" "$gguf" "$dir/eval-$name"
  if [ "$eval" = eval-agent ]; then
    step "eval-$name-sag-s$seed" evaluate recipes/experiment/eval-agent-sag.yaml "$gguf" "$dir/eval-$name-sag$SAG" --candidates "$SAG"
  fi
}

step prepare-teacher $TK models prepare qwen2.5-coder-1.5b
[ -f "$OUT/tasks/rag-math-500.parquet" ] || step tasks tasks

step teacher-agent $TK build recipes/experiment/teacher.yaml
step teacher-cot $TK build recipes/experiment/teacher-cot.yaml
step teacher-cot-rag $TK build recipes/experiment/teacher-cot-rag.yaml
step eval-teacher $TK eval recipes/experiment/eval-teacher.yaml

# every student gets the same budget: the smallest set the paper's rule keeps, 3 epochs of it
read -r EXAMPLES STEPS < <($PY -m trajkit.experiment budget "$OUT/teacher" "$OUT/teacher-cot" "$OUT/teacher-cot-rag")
echo "experiment: every student trains on $EXAMPLES examples for $STEPS steps"
for name in agent cot cot-rag; do student "$name" "sft-$name" "eval-$name" 0 "$EXAMPLES" "$STEPS"; done
# not part of the equal-budget comparison: the agent student on every trajectory the rule keeps
# (3 epochs), what agent distillation reaches with the data its teacher gives it (first seed only)
read -r ALL ALL_STEPS < <($PY -m trajkit.experiment budget "$OUT/teacher")
student agent-all sft-agent eval-agent 0 "$ALL" "$ALL_STEPS"
for seed in $(seq 1 $((SEEDS - 1))); do
  for name in agent cot cot-rag; do student "$name" "sft-$name" "eval-$name" "$seed" "$EXAMPLES" "$STEPS"; done
done

runs() {  # runs NAME: the run of every seed, comma-separated
  local list=""
  for seed in $(seq 0 $((SEEDS - 1))); do list="$list${list:+,}$OUT/s$seed/$1"; done
  echo "$list"
}
# one seed of every arm: the stages' time across resumed runs, without seeds 1.. and the extra arm
wall=$(awk -F'\t' '$1 !~ /-s[1-9][0-9]*$/ && $1 !~ /agent-all/ {s += $2} END {print s}' "$TIMES")
$PY -m trajkit.experiment report "$OUT/report" \
  --arm "teacher 1.5B, agent=$OUT/eval-teacher" \
  --arm "agent-distilled=$(runs eval-agent)" \
  --arm "agent-distilled + SAG $SAG=$(runs eval-agent-sag$SAG)" \
  --arm "CoT-distilled=$(runs eval-cot)" \
  --arm "CoT+RAG-distilled=$(runs eval-cot-rag)" \
  --arm "agent-distilled, all kept data=$OUT/s0/eval-agent-all" \
  --arm "agent-distilled, all kept data + SAG $SAG=$OUT/s0/eval-agent-all-sag$SAG" \
  --role "teacher=teacher 1.5B, agent" --role "agent=agent-distilled" --role "agent_sag=agent-distilled + SAG $SAG" \
  --role "cot=CoT-distilled" --role "cot_rag=CoT+RAG-distilled" \
  --compare "agent|cot" --compare "agent|cot_rag" --compare "agent_sag|agent" --compare "agent|teacher" \
  --compare "agent-distilled, all kept data|CoT+RAG-distilled" \
  --train "agent=$OUT/teacher" --train "CoT=$OUT/teacher-cot" --train "CoT+RAG=$OUT/teacher-cot-rag" \
  --student "agent=$OUT/s0/student-agent" --student "CoT=$OUT/s0/student-cot" --student "CoT+RAG=$OUT/s0/student-cot-rag" \
  --student "agent, all kept data=$OUT/s0/student-agent-all" \
  --wall-s "$wall" --timings "$TIMES"
