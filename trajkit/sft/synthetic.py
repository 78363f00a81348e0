"""Scripted demo trajectories in the agent's format, for `dataset: synthetic:N` recipes.

They let `trajkit train recipes/sft-demo.yaml` run on a fresh machine before any teacher run
exists, and give tests and benchmarks realistic data: lookups in a fictional world (search,
then answer), arithmetic (compute, then answer), two-hop questions (two searches, a
subtraction, the answer), a share of execution errors followed by a fix, first-thought
prefixes, and a share of wrong final answers (graded incorrect). Deterministic in (n, seed).
"""

from __future__ import annotations

import json
import random

from trajkit import __version__
from trajkit.agent.format import render_action
from trajkit.schema import (
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

SOURCE = "sft-demo"
_SYLLABLES = ["ka", "lo", "mir", "ven", "tor", "sa", "dun", "el", "rho", "quin", "ba", "zet", "or", "fa"]
_COUNTRIES = ["Aldoria", "Brevania", "Cestor", "Dramel", "Estova", "Fyrland"]


def synthetic_trajectories(n: int, seed: int = 0, *, failed_share: float = 0.15,
                           error_share: float = 0.15, prefix_share: float = 0.3) -> list[Trajectory]:
    rng = random.Random(seed)
    provenance = Provenance(
        kind="teacher",
        backend="scripted",
        model="trajkit-sft-demo",
        prompt_template="student/v1",
        max_steps=5,
        trajkit_version=__version__,
        first_thought_prefix=prefix_share > 0,
    ).with_fingerprint()
    kinds = [_lookup, _arithmetic, _two_hop]
    out = []
    for i in range(n):
        question, gold, steps = kinds[i % len(kinds)](rng, i, error=rng.random() < error_share)
        if rng.random() < prefix_share and steps[0].thought:
            first = steps[0]
            first.prefix = f"Thought: {first.thought.split('. ')[0].rstrip('.')}."
        wrong = rng.random() < failed_share
        answer = str(int(gold) + rng.choice([-2, -1, 1, 3])) if wrong else gold
        if wrong:
            last = steps[-1]
            last.code = f"final_answer({answer})"
            last.final_answer = answer
        for index, step in enumerate(steps):
            step.index = index
            step.raw_output = render_action(step.thought, step.code)
            step.completion_tokens = len(step.raw_output) // 4
        out.append(
            Trajectory.new(
                task=Task(task_id=f"{SOURCE}:{seed}:{i}", source=SOURCE, domain="qa", question=question,
                          gold_answer=gold, metadata=json.dumps({"seed": seed, "i": i})),
                provenance=provenance,
                outcome=Outcome(status="answered", final_answer=answer, correct=not wrong,
                                score=float(not wrong), grader="exact_match"),
                steps=steps,
                usage=Usage(steps=len(steps), model_calls=len(steps),
                            completion_tokens=sum(s.completion_tokens or 0 for s in steps)),
            )
        )
    return out


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def _passage(name: str, year: int, country: str) -> str:
    return (f"{name} is a city in {country}. It was founded in {year} on the banks of a river and is "
            f"known for its {name.lower()}stone bridges and a yearly lantern market.")


def _search_step(name: str, year: int, country: str, thought: str) -> Step:
    passage = _passage(name, year, country)
    query = f"{name} city founded"
    return Step(
        index=0,
        thought=thought,
        code=f"result = search({query!r})\nprint(result)",
        observation=passage,
        tool_calls=[ToolCall(name="search", arguments=json.dumps({"query": query}), output=passage,
                             retrieved=[RetrievedDoc(doc_id=f"wiki:{name}", title=name, score=0.8)])],
    )


def _answer_step(thought: str, answer: str) -> Step:
    return Step(index=0, thought=thought, code=f"final_answer({answer})", final_answer=answer)


def _error_step(thought: str, code: str, exception: str, message: str) -> Step:
    return Step(index=0, thought=thought, code=code,
                error=StepError(type="execution_error", message=message, exception=exception, line=1))


def _lookup(rng: random.Random, i: int, *, error: bool):
    name, year, country = _name(rng), rng.randint(1100, 1950), rng.choice(_COUNTRIES)
    question = f"In what year was the city of {name} founded?"
    steps = [
        _search_step(name, year, country, f"I need the founding year of {name}. I will search for it."),
        _answer_step(f"The passage says {name} was founded in {year}.", str(year)),
    ]
    if error:
        steps.insert(0, _error_step(f"I will look up {name} in the encyclopedia.",
                                    f"print(lookup({name!r}))", "NameError", "name 'lookup' is not defined"))
        steps[1].thought = "The function is called search, not lookup. I will use search."
    return question, str(year), steps


def _arithmetic(rng: random.Random, i: int, *, error: bool):
    a, b, c = rng.randint(100, 9999), rng.randint(11, 999), rng.randint(1, 99999)
    value = a * b + c
    question = f"What is {a} multiplied by {b}, plus {c}?"
    compute = Step(index=0, thought="I will compute this exactly with Python.",
                   code=f"value = {a} * {b} + {c}\nprint(value)", observation=str(value))
    steps = [compute, _answer_step(f"The result is {value}.", str(value))]
    if error:
        steps.insert(0, _error_step("I will compute the product and the sum.",
                                    f"print(int('{a}x') * {b} + {c})", "ValueError",
                                    f"invalid literal for int() with base 10: '{a}x'"))
        steps[1].thought = "The number had a typo. I will compute it again with plain integers."
    return question, str(value), steps


def _two_hop(rng: random.Random, i: int, *, error: bool):
    first, second = _name(rng), _name(rng)
    y1, y2 = sorted(rng.sample(range(1100, 1950), 2))
    question = f"How many years after {first} was the city of {second} founded?"
    steps = [
        _search_step(first, y1, rng.choice(_COUNTRIES), f"I need the founding years of {first} and {second}. First {first}."),
        _search_step(second, y2, rng.choice(_COUNTRIES), f"{first} was founded in {y1}. Now {second}."),
        Step(index=0, thought=f"{second} was founded in {y2}. I will subtract.",
             code=f"gap = {y2} - {y1}\nprint(gap)", observation=str(y2 - y1)),
        _answer_step(f"{second} was founded {y2 - y1} years after {first}.", str(y2 - y1)),
    ]
    if error:
        steps[2] = _error_step(f"{second} was founded in {y2}. I will subtract.",
                               f"print(gap - {y1})", "NameError", "name 'gap' is not defined")
        steps.insert(3, Step(index=0, thought="I forgot to define the variable. I will compute directly.",
                             code=f"gap = {y2} - {y1}\nprint(gap)", observation=str(y2 - y1)))
    return question, str(y2 - y1), steps
