#!/usr/bin/env bash
# Installs the real external services the test-suite drives. Idempotent: each step is skipped
# when already done. Each service has its own script in scripts/services/.
set -euo pipefail
cd "$(dirname "$0")/.."
for step in scripts/services/*.sh; do
  [ -e "$step" ] || continue
  echo "== setup: $step"
  bash "$step"
done
