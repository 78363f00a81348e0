"""`python -m trajkit.experiment prepare | budget | reword | check-teacher | check-tasks | report`: the
experiment's own steps.

    prepare TASKS_DIR              out-of-domain benchmarks and RAG copies (`benchmarks.prepare`)
    budget DATASET...              'N STEPS': the smallest set the paper's rule keeps, and the
                                   optimizer steps of EPOCHS epochs over it (every student's budget)
    reword DATASET OUT [--subsample N] [--seed S] [--model M] [--base-url URL]
                                   a data lever: kept trajectories plus copies whose question the
                                   teacher reworded (`reword`); OUT.rewordings.jsonl lists each try,
                                   OUT.tasks.parquet holds the rewordings as tasks (for the teacher
                                   to solve them: the stricter form of the lever)
    check-teacher SHIPPED RERUN    a re-run teacher stage against its shipped run (`shipped.check`):
                                   exit 1 if their trajectories or accuracy differ
    check-tasks TASKS_DIR DATASET...
                                   the datasets' tasks are the generated ones (shipped runs are
                                   reusable only on the tasks they were made on)
    report OUT_DIR --arm LABEL=RUN[,RUN...] [--role ROLE=LABEL] [--compare A|B] [--train LABEL=DATASET]
                   [--student LABEL=TRAIN_DIR] [--timings TSV] [--wall-s S] [--wall-note TEXT]
                   [--notes-file FILE]
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from trajkit.errors import InputError, TrajkitError


def kept(dataset: Path) -> int:
    from trajkit.curate.presets import PRESETS
    from trajkit.query import connect, run

    con = connect([dataset])
    try:
        return int(run(con, f"SELECT count(*) AS n FROM trajectories WHERE {PRESETS['paper'].where}").to_pylist()[0]["n"])
    finally:
        con.close()


def run_reword(args) -> None:
    import json

    from trajkit.curate.presets import PRESETS
    from trajkit.experiment.reword import reword, reworded_tasks
    from trajkit.tasks.files import write_tasks

    if args.base_url:
        teacher = {"backend": "openai", "base_url": args.base_url, "model": args.model}
    else:
        teacher = {"backend": "llamacpp", "model": args.model, "parallel": 8, "context": 8192}
    done = reword(args.dataset, args.out, teacher=teacher, where=PRESETS["paper"].where,
                  subsample=args.subsample, seed=args.seed, tries=args.tries)
    log = Path(str(args.out).rstrip("/") + ".rewordings.jsonl")
    log.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in done.examples), encoding="utf-8")
    tasks = write_tasks(reworded_tasks(args.out), str(args.out).rstrip("/") + ".tasks.parquet")
    rejected = ", ".join(f"{reason} {count}" for reason, count in done.rejected.most_common()) or "none"
    print(f"reworded {done.copies} of {done.originals} questions (tries rejected: {rejected}); "
          f"wrote {args.out} ({done.originals + done.copies} trajectories), {log} and {tasks}")


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m trajkit.experiment")
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser("prepare", help="out-of-domain benchmarks and RAG copies")
    prepare.add_argument("tasks_dir")
    budget = commands.add_parser("budget", help="examples and steps every student gets")
    budget.add_argument("datasets", nargs="+")
    budget.add_argument("--epochs", type=float, default=3)
    budget.add_argument("--batch-size", type=int, default=4)
    reword = commands.add_parser("reword", help="kept trajectories plus teacher-reworded copies")
    reword.add_argument("dataset")
    reword.add_argument("out")
    reword.add_argument("--model", default="qwen2.5-coder-1.5b",
                        help="the teacher: a registry name or .gguf served by llama.cpp, or the model name at --base-url")
    reword.add_argument("--base-url", help="an OpenAI-compatible server to ask instead of starting llama.cpp")
    reword.add_argument("--subsample", type=int, help="draw this many kept trajectories, as trajkit train does")
    reword.add_argument("--seed", type=int, default=0, help="the subsample's draw and the first try's sampling seed")
    reword.add_argument("--tries", type=int, default=3)
    check_teacher = commands.add_parser("check-teacher", help="a re-run teacher stage against its shipped run")
    check_teacher.add_argument("shipped")
    check_teacher.add_argument("rerun")
    check_tasks = commands.add_parser("check-tasks", help="shipped runs were made on the generated tasks")
    check_tasks.add_argument("tasks_dir")
    check_tasks.add_argument("datasets", nargs="+")
    report = commands.add_parser("report", help="RESULTS.md, results.json, accuracy.png")
    report.add_argument("out")
    report.add_argument("--arm", action="append", default=[], required=True, help="LABEL=RUN[,RUN...] (one run per seed)")
    report.add_argument("--role", action="append", default=[], help="ROLE=LABEL: teacher, agent, agent_sag, cot, cot_rag")
    report.add_argument("--compare", action="append", default=[], help="A|B: paired test of two arms (roles or labels)")
    report.add_argument("--train", action="append", default=[], help="LABEL=DATASET of teacher data")
    report.add_argument("--student", action="append", default=[], help="LABEL=TRAIN_DIR (trajkit train output)")
    report.add_argument("--timings", help="a TSV of stage and seconds")
    report.add_argument("--wall-s", type=float)
    report.add_argument("--wall-note", default="", help="what the wall time covers (shown in its goal)")
    report.add_argument("--notes-file")
    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            from trajkit.experiment.benchmarks import prepare as write_benchmarks

            done = write_benchmarks(args.tasks_dir)
            print(f"gsm-hard: {done.gsm_hard_clean} of {done.gsm_hard_read} items have a non-negative integer gold; "
                  f"{done.gsm_hard_kept} taken; math-500 (levels 1-2): {done.math_500_kept}; "
                  f"written: {', '.join(str(p) for p in done.written)}")
        elif args.command == "budget":
            n = min(kept(Path(path)) for path in args.datasets)
            if n == 0:
                raise InputError("a teacher dataset has no trajectory the paper's rule keeps",
                                 where=", ".join(args.datasets), fix="look at its stats: trajkit stats DATASET")
            print(n, math.ceil(args.epochs * n / args.batch_size))
        elif args.command == "reword":
            run_reword(args)
        elif args.command == "check-teacher":
            from trajkit.experiment.shipped import check

            found = check(Path(args.shipped), Path(args.rerun))
            print(found.line())
            return 0 if found.consistent else 1
        elif args.command == "check-tasks":
            from trajkit.experiment.shipped import stale_tasks

            problems = stale_tasks(Path(args.tasks_dir), [Path(path) for path in args.datasets])
            if problems:
                raise InputError(f"{len(problems)} tasks differ; first: {problems[0]}", where=args.tasks_dir,
                                 fix="the teacher data was made on other tasks: re-run it (TEACHER=run make experiment)")
            print(f"every task of {len(args.datasets)} datasets is a generated task of {args.tasks_dir}")
        else:
            from trajkit.experiment.report import parse_inputs, write

            notes = Path(args.notes_file).read_text(encoding="utf-8") if args.notes_file else ""
            inputs = parse_inputs(args.arm, args.role, args.compare, args.train, args.student,
                                  timings=Path(args.timings) if args.timings else None, wall_s=args.wall_s,
                                  wall_note=args.wall_note, notes=notes)
            paths = write(args.out, inputs)
            print(paths["markdown"].read_text(encoding="utf-8"))
    except TrajkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
