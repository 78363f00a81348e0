"""The child process of `LlamaServer`: builds xllamacpp's CommonParams and serves until signalled.

    python -m trajkit.teachers.llama_process '{"model_path": ..., "port": ..., ...}'

xllamacpp's `Server` runs llama.cpp's native HTTP server on its own threads; this process only
keeps it alive and exits on SIGTERM/SIGINT (its parent also arranges SIGKILL on its own death).
"""

from __future__ import annotations

import json
import signal
import sys
import threading


def build_params(settings: dict):
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = settings["model_path"]
    params.n_ctx = int(settings["context"])
    params.n_parallel = int(settings["parallel"])
    params.cont_batching = True
    params.cache_prompt = True  # multi-turn rollouts re-send a growing prefix: reuse its KV cache
    params.cpuparams.n_threads = int(settings["threads"])
    params.cpuparams_batch.n_threads = int(settings["threads"])
    params.port = int(settings["port"])
    params.hostnames = [settings["host"]]
    params.model_alias = [settings["alias"]]  # a set of names in this API; a bare str becomes its letters
    return params


def main(argv: list[str]) -> int:
    settings = json.loads(argv[1])
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    import xllamacpp as xlc

    server = xlc.Server(build_params(settings))  # listens once the constructor returns
    print(f"llama.cpp server listening on {settings['host']}:{settings['port']}", flush=True)
    while not stop.wait(1.0):
        pass
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
