#!/usr/bin/env bash
# llama.cpp's OpenAI-compatible server (llama-cpp-python[server]) in its own virtualenv,
# .cache/venvs/llama, so its dependencies never touch .venv. The teacher-backend tests and
# bench/teachers.py start it on 127.0.0.1 serving the embedded GGUF.
#
# Idempotent: does nothing when the server already imports. The first run builds llama.cpp
# from source (about 5.5 minutes on 2 cores; pip caches the wheel afterwards). The default
# build segfaults on these CPUs (AMX path, llama.cpp issue 20824), hence the portable flags.
# The build is CPU-heavy, so it runs under the shared CPU lock unless the caller already holds
# it (TRAJKIT_CPU_LOCKED=1).
set -euo pipefail
cd "$(dirname "$0")/../.."

LLAMA_VENV=${TRAJKIT_LLAMA_VENV:-.cache/venvs/llama}
LLAMA_VERSION=0.3.36
CPU_LOCK=/tmp/trajkit-cpu.lock
PYTHON=${PYTHON:-python3}

if [ -x "$LLAMA_VENV/bin/python" ] &&
   "$LLAMA_VENV/bin/python" -c "import llama_cpp.server.app" 2>/dev/null; then
  echo "llama.cpp server: ready in $LLAMA_VENV"
  exit 0
fi

if [ -z "${TRAJKIT_CPU_LOCKED:-}" ] && command -v flock >/dev/null; then
  echo "llama.cpp server: waiting for the CPU lock ($CPU_LOCK)"
  exec env TRAJKIT_CPU_LOCKED=1 flock "$CPU_LOCK" bash "$0" "$@"
fi

echo "llama.cpp server: installing llama-cpp-python[server]==$LLAMA_VERSION into $LLAMA_VENV"
test -x "$LLAMA_VENV/bin/python" || "$PYTHON" -m venv "$LLAMA_VENV"
export CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}
"$LLAMA_VENV/bin/pip" install --disable-pip-version-check -q "llama-cpp-python[server]==$LLAMA_VERSION"
"$LLAMA_VENV/bin/python" -c "import llama_cpp.server.app"
echo "llama.cpp server: ready in $LLAMA_VENV"
