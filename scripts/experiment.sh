#!/usr/bin/env bash
# `make experiment`: the paper's comparison in miniature, on the embedded default, offline and seeded.
# Is a small student distilled from agent trajectories better than one distilled from chain-of-thought
# answers, with or without retrieved passages in its prompt, and on which kinds of task?
#   1. tasks: 300 synthetic tasks in two disjoint fictional worlds: 159 train; 80 test with question
#      shapes seen in training; 61 `test_unseen` with held-out templates and paraphrases (same test
#      world). Four categories: single lookup, multi-hop, small arithmetic, exact computation.
#      Out of domain: GSM-hard (clean golds only) and MATH-500 (levels 1-2).
#   2. teacher (Qwen2.5-Coder-1.5B-Instruct on llama.cpp): agent trajectories on the train split,
#      without and with the first-thought prefix (FTP); CoT answers and CoT + RAG answers (2 samples
#      each at temperature 0.7) on 80 train questions; the teacher as an agent on every test task
#      (the yardstick). By default these start from the reported run's teacher data, shipped in
#      experiment-data/teacher-runs (about 118 minutes of teacher work on 2 cores); TEACHER=run re-runs
#      them and checks each against its shipped run (`python -m trajkit.experiment check-teacher`).
#   3. rejection sampling (the paper's rule) and four SmolLM2-135M students with the same budget
#      (examples: the smallest kept set; steps: 3 epochs of it): agent-, agent + FTP-, CoT- and
#      CoT + RAG-distilled
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
TEACHER=${TEACHER:-shipped}  # shipped: start from experiment-data/teacher-runs; run: re-run and check
SHIPPED=experiment-data/teacher-runs
TEACHER_RUNS="teacher teacher-ftp teacher-cot teacher-cot-rag eval-teacher"
SAG=4
case "$TEACHER" in
  shipped|run) ;;
  *) echo "error: TEACHER=$TEACHER — use TEACHER=shipped (the default) or TEACHER=run" >&2; exit 2 ;;
esac
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

student() {  # student NAME SFT_RECIPE EVAL_RECIPE SEED EXAMPLES STEPS [sag]: train, write the GGUF, evaluate
  local name=$1 sft=$2 eval=$3 seed=$4 sag=${7:-} dir="$OUT/s$4"
  if [ ! -f "$dir/student-$name/model/config.json" ]; then
    step "train-$name-s$seed" $TK train "recipes/experiment/$sft.yaml" -o "$dir/student-$name" --overwrite \
      --set "seed=$seed" --set "subsample=$5" --set "training.max_steps=$6"
  fi
  local gguf="$dir/student-$name/model.gguf"
  [ "$gguf" -nt "$dir/student-$name/model/model.safetensors" ] || $TK models gguf "$dir/student-$name/model" -o "$gguf"
  step "eval-$name-s$seed" evaluate "recipes/experiment/$eval.yaml" "$gguf" "$dir/eval-$name"
  if [ -n "$sag" ]; then
    step "eval-$name-sag-s$seed" evaluate recipes/experiment/eval-agent-sag.yaml "$gguf" "$dir/eval-$name-sag$SAG" --candidates "$SAG"
  fi
}

step prepare-teacher $TK models prepare qwen2.5-coder-1.5b
[ -f "$OUT/tasks/rag-math-500.parquet" ] || step tasks tasks

teacher_data() {  # shipped: copy each missing teacher run; run: refuse a copied one (it would only resume)
  for name in $TEACHER_RUNS; do
    if [ "$TEACHER" = shipped ]; then
      [ -e "$OUT/$name" ] || { rm -rf "$OUT/.$name.part" && cp -r "$SHIPPED/$name" "$OUT/.$name.part" &&
        mv "$OUT/.$name.part" "$OUT/$name"; }
    elif cmp -s "$OUT/$name/trajkit.json" "$SHIPPED/$name/trajkit.json"; then
      echo "error: $OUT/$name is the shipped run, not a re-run — remove it (rm -r $OUT/$name) and run again" >&2
      exit 2
    fi
  done
  if [ "$TEACHER" = shipped ]; then  # the shipped runs must have been made on these very tasks
    $PY -m trajkit.experiment check-tasks "$OUT/tasks" $(for name in $TEACHER_RUNS; do echo "$OUT/$name"; done)
  fi
}
teacher_data

step teacher-agent $TK build recipes/experiment/teacher.yaml
step teacher-ftp $TK build recipes/experiment/teacher-ftp.yaml
step teacher-cot $TK build recipes/experiment/teacher-cot.yaml
step teacher-cot-rag $TK build recipes/experiment/teacher-cot-rag.yaml
step eval-teacher $TK eval recipes/experiment/eval-teacher.yaml
NOTES="$OUT/teacher-data.md"  # where the teacher data came from, for the report
if [ "$TEACHER" = run ]; then
  WALL_NOTE="teacher stages run"
  echo "Teacher stages run here (TEACHER=run), each checked against its shipped run:" > "$NOTES"
  for name in $TEACHER_RUNS; do
    echo "- $($PY -m trajkit.experiment check-teacher "$SHIPPED/$name" "$OUT/$name" || true)" >> "$NOTES"
  done
else
  WALL_NOTE="teacher stages from the shipped runs"
  echo "Teacher stages: the shipped runs of experiment-data/teacher-runs (TEACHER=run re-runs and checks them); their stage times in the table are a resume's." > "$NOTES"
fi
cat "$NOTES"

# every student gets the same budget: the smallest set the paper's rule keeps, 3 epochs of it
read -r EXAMPLES STEPS < <($PY -m trajkit.experiment budget "$OUT/teacher" "$OUT/teacher-ftp" "$OUT/teacher-cot" "$OUT/teacher-cot-rag")
echo "experiment: every student trains on $EXAMPLES examples for $STEPS steps"
students() {  # students SEED: every arm of the equal-budget comparison
  student agent sft-agent eval-agent "$1" "$EXAMPLES" "$STEPS" sag
  student agent-ftp sft-agent-ftp eval-agent "$1" "$EXAMPLES" "$STEPS"
  student cot sft-cot eval-cot "$1" "$EXAMPLES" "$STEPS"
  student cot-rag sft-cot-rag eval-cot-rag "$1" "$EXAMPLES" "$STEPS"
}
students 0
# not part of the equal-budget comparison: the agent student on every trajectory the rule keeps
# (3 epochs), what agent distillation reaches with the data its teacher gives it (first seed only)
read -r ALL ALL_STEPS < <($PY -m trajkit.experiment budget "$OUT/teacher")
student agent-all sft-agent eval-agent 0 "$ALL" "$ALL_STEPS" sag
for seed in $(seq 1 $((SEEDS - 1))); do students "$seed"; done

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
  --arm "agent-distilled + FTP=$(runs eval-agent-ftp)" \
  --arm "CoT-distilled=$(runs eval-cot)" \
  --arm "CoT+RAG-distilled=$(runs eval-cot-rag)" \
  --arm "agent-distilled, all kept data=$OUT/s0/eval-agent-all" \
  --arm "agent-distilled, all kept data + SAG $SAG=$OUT/s0/eval-agent-all-sag$SAG" \
  --role "teacher=teacher 1.5B, agent" --role "agent=agent-distilled" --role "agent_sag=agent-distilled + SAG $SAG" \
  --role "cot=CoT-distilled" --role "cot_rag=CoT+RAG-distilled" \
  --compare "agent|cot" --compare "agent|cot_rag" --compare "agent_sag|agent" --compare "agent-distilled + FTP|agent" \
  --compare "agent|teacher" \
  --compare "agent-distilled, all kept data|CoT+RAG-distilled" \
  --train "agent=$OUT/teacher" --train "agent + FTP=$OUT/teacher-ftp" --train "CoT=$OUT/teacher-cot" --train "CoT+RAG=$OUT/teacher-cot-rag" \
  --student "agent=$OUT/s0/student-agent" --student "agent + FTP=$OUT/s0/student-agent-ftp" --student "CoT=$OUT/s0/student-cot" --student "CoT+RAG=$OUT/s0/student-cot-rag" \
  --student "agent, all kept data=$OUT/s0/student-agent-all" \
  --wall-s "$wall" --wall-note "$WALL_NOTE" --timings "$TIMES" --notes-file "$NOTES"
