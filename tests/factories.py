"""Factories of realistic trajectories for tests (no model needed)."""

from __future__ import annotations

import json
import random

from trajkit.schema import (
    Candidate,
    Outcome,
    Provenance,
    RetrievedDoc,
    Step,
    StepError,
    Task,
    ToolCall,
    Trajectory,
    Usage,
)


def make_task(i: int = 0, *, domain: str = "qa", split: str = "train", source: str = "synthetic") -> Task:
    return Task(
        task_id=f"{source}:{i}",
        source=source,
        split=split,
        domain=domain,
        question=f"In which year was the city of Velmora{i} founded, plus {i}?",
        gold_answer=str(1800 + 2 * i),
        metadata=json.dumps({"i": i}),
    )


def make_provenance(model: str = "SmolLM2-135M-Instruct", kind: str = "teacher") -> Provenance:
    return Provenance(kind=kind, backend="local", model=model, max_steps=5).with_fingerprint()


def make_steps(i: int, n_steps: int = 3, *, error_at: int | None = None, candidates: int = 0) -> list[Step]:
    steps = []
    for k in range(n_steps):
        last = k == n_steps - 1
        code = f"final_answer({1800 + 2 * i})" if last else f"r = search('Velmora{i}')\nprint(r)"
        error = None
        if error_at == k:
            error = StepError(type="execution_error", message="name 'r2' is not defined", exception="NameError", line=1)
        steps.append(
            Step(
                index=k,
                thought=f"I need step {k} for task {i}.",
                code=code,
                observation=None if last else f"Velmora{i} was founded in {1800 + i}.",
                raw_output=f"Thought: step {k}\nCode:\n```py\n{code}\n```<end_code>",
                tool_calls=[]
                if last
                else [
                    ToolCall(
                        name="search",
                        arguments=json.dumps({"query": f"Velmora{i}"}),
                        output=f"Velmora{i} was founded in {1800 + i}.",
                        latency_ms=1.5,
                        retrieved=[RetrievedDoc(doc_id=f"d{i}", title=f"Velmora{i}", score=0.9)],
                    )
                ],
                error=error,
                final_answer=str(1800 + 2 * i) if last else None,
                prompt_tokens=100 + k,
                completion_tokens=20 + k,
                latency_ms=50.0,
                candidates=[
                    Candidate(index=c, raw_output="x", code=code, parse_ok=True, exec_ok=True, selected=c == 0)
                    for c in range(candidates)
                ],
            )
        )
    return steps


def make_trajectory(
    i: int = 0,
    *,
    n_steps: int = 3,
    correct: bool | None = True,
    sample_index: int = 0,
    domain: str = "qa",
    split: str = "train",
    error_at: int | None = None,
    candidates: int = 0,
    provenance: Provenance | None = None,
) -> Trajectory:
    steps = make_steps(i, n_steps, error_at=error_at, candidates=candidates)
    return Trajectory.new(
        task=make_task(i, domain=domain, split=split),
        provenance=provenance or make_provenance(),
        outcome=Outcome(
            status="answered",
            final_answer=str(1800 + 2 * i) if correct else "1799",
            correct=correct,
            score=None if correct is None else float(correct),
            grader="exact_match",
        ),
        steps=steps,
        sample_index=sample_index,
        usage=Usage(prompt_tokens=300, completion_tokens=60, total_tokens=360, steps=n_steps, model_calls=n_steps, wall_time_s=1.0),
    )


def make_trajectories(n: int, *, seed: int = 0, **kwargs) -> list[Trajectory]:
    rng = random.Random(seed)
    return [
        make_trajectory(i, n_steps=rng.randint(1, 5), correct=rng.random() < 0.6, **kwargs) for i in range(n)
    ]
