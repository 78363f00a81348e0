"""Grading: is a final answer the task's gold answer?

    from trajkit.grading.graders import grade
    result = grade(task, "Coahuila, Mexico")   # -> Grade(correct, score, grader, grader_detail)

Modules:

- `graders`: the entry points (`grade`, `agrade`), the grader names stored in
  `Outcome.grader` and how `auto` picks one;
- `text_match`: answer normalisation, exact match and token F1 (`exact_match`, `f1`);
- `math_equivalence`: math-verify equivalence under a hard deadline (`math_equiv`), run in
  the worker process `math_worker` (started as `python -m trajkit.grading.math_worker`);
- `llm_judge`: an LLM judge with a versioned prompt and an on-disk reply cache
  (`llm_judge:<model>`);
- `regrade`: re-grading a dataset's trajectories into a new dataset version.

Nothing is imported here: math-verify, model clients and the store load when used.
"""
