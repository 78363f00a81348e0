#!/usr/bin/env bash
# The local Argilla server used by `trajkit review serve` and the review tests.
#
# argilla-server 2.8 pins click<8.2, huggingface-hub<1.0 and datasets<4, which conflict with
# trajkit's own stack, so it gets its own virtual environment at .cache/venvs/argilla-server.
# The trajkit side only talks HTTP to it (the `argilla` SDK lives in the main venv).
# Also installs Debian packages the server and its browser test need: redis-server (background
# jobs) and chromium + chromium-driver (headless check of the web UI).
#
# Idempotent: every step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.cache/venvs/argilla-server
SERVER_VERSION=2.8.0
PYTHON=${PYTHON:-python3}

# ---- Debian packages ------------------------------------------------------------------------
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    echo "argilla.sh: please install ${missing[*]} (apt-get install ${missing[*]})" >&2
    exit 1
  fi
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "argilla.sh: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- the server's own virtual environment ---------------------------------------------------
STAMP="$VENV/.trajkit-argilla-$SERVER_VERSION"
# find_spec, not import: importing argilla_server copies its 14 MB web UI into TMPDIR
if [ -f "$STAMP" ] && "$VENV/bin/python" -c \
    "import importlib.util, sys; sys.exit(importlib.util.find_spec('argilla_server') is None)" 2>/dev/null; then
  exit 0
fi
mkdir -p "$(dirname "$VENV")"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# every import of argilla_server copies its 14 MB UI into TMPDIR: use a scratch folder we remove
scratch=$(mktemp -d "${TMPDIR:-/tmp}/argilla-setup.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
"$VENV/bin/pip" install --disable-pip-version-check -q \
  "argilla-server==$SERVER_VERSION" "click<8.2" "huggingface-hub<1.0" "datasets<4"
TMPDIR="$scratch" "$VENV/bin/python" -c "import argilla_server, argilla_server.search_engine"
touch "$STAMP"
echo "argilla.sh: argilla-server $SERVER_VERSION ready in $VENV"
