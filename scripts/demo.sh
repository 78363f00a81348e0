#!/usr/bin/env bash
# `make demo`: the main job on the embedded default, offline.
#   1. write a synthetic task set and its corpus
#   2. build teacher trajectories with the embedded Qwen2.5-Coder-1.5B teacher on llama.cpp
#      (sandbox + retriever)
#   3. print the dataset's statistics and one trajectory
set -euo pipefail
cd "$(dirname "$0")/.."
TK=.venv/bin/trajkit
OUT=demo-out
mkdir -p "$OUT"
if [ ! -f "$OUT/tasks/tasks.parquet" ]; then
  $TK tasks synth --n 200 --seed 0 "$OUT/tasks"
fi
$TK build recipes/demo.yaml
$TK stats "$OUT/teacher"
$TK show "$OUT/teacher"
echo
echo "Query it yourself:"
echo "  $TK sql $OUT/teacher \"SELECT status, correct, count(*) FROM trajectories GROUP BY ALL\""
