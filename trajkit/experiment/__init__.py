"""The distillation experiment (`make experiment`, `scripts/experiment.sh`): its benchmarks and
its report.

- `benchmarks`: the out-of-domain task files (GSM-hard restricted to clean golds, a MATH-500
  subset) and the retrieval-augmented copies of every benchmark the CoT + RAG arm reads;
- `results`: per-task outcomes of each arm (one run per seed), accuracy per benchmark and task
  category with Wilson intervals and the seeds' mean ± sd, exact McNemar tests on paired tasks;
- `report`: RESULTS.md, results.json and accuracy.png from them, with the issue's goals checked.

    python -m trajkit.experiment prepare TASKS_DIR
    python -m trajkit.experiment report OUT_DIR --arm LABEL=RUN[,RUN...] ... [--compare A|B ...]
"""
