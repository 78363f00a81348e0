# Sourced by the experiment scripts (experiment.sh, lever-reword.sh, experiment-sag-dev.sh) from
# the repository root; `step` needs TIMES (a TSV of stage and seconds) and STAGE_LABEL.

# hold_cpu_lock "$@": re-run the calling script under the CPU lock (/tmp/trajkit-cpu.lock), since
# model work must not share the 2 cores with other jobs; a no-op once held or without flock
hold_cpu_lock() {
  if [ -z "${TRAJKIT_CPU_LOCKED:-}" ] && command -v flock >/dev/null; then
    exec env TRAJKIT_CPU_LOCKED=1 flock /tmp/trajkit-cpu.lock bash "$0" "$@"
  fi
}

step() {  # step NAME COMMAND...: run and record the wall time of one stage in $TIMES
  local name=$1; shift
  local t0; t0=$(date +%s)
  echo "== $STAGE_LABEL: $name"
  "$@"
  printf '%s\t%s\n' "$name" "$(( $(date +%s) - t0 ))" >> "$TIMES"
}
