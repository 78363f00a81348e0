"""Self-consistent action generation on the real sandbox: isolation and voting."""

import asyncio

import pytest

from trajkit.agent.format import render_action
from trajkit.agent.loop import _run_candidates
from trajkit.agent.sag import choose, to_candidates
from trajkit.tools.sandbox import SandboxPool


@pytest.fixture(scope="module")
def pool():
    with SandboxPool() as pool:
        yield pool


def _act(code: str) -> str:
    return render_action("try", code)


def test_votes_on_final_answers_not_printed_output(pool):
    """The reference code's case: final_answer(2), (3), (3) must give 3."""
    interpreter = pool.new_interpreter()
    interpreter.run("base = 10")
    texts = [_act("final_answer(2)"), _act("final_answer(3)"), _act("final_answer(base - 7)")]
    runs = asyncio.run(_run_candidates(texts, interpreter))
    winner, counts = choose(runs)
    assert winner.final_answer == 3 and winner.index == 1
    assert counts == {"answer:2": 1, "answer:3": 2}
    stored = to_candidates(runs, winner, counts)
    assert [c.selected for c in stored] == [False, True, False]
    assert [c.votes for c in stored] == [1, 2, 2]
    for run in runs:
        run.interpreter.close()
    interpreter.close()


def test_losing_candidate_leaves_no_variables(pool):
    interpreter = pool.new_interpreter()
    interpreter.run("shared = 1")
    texts = [_act("leak = 42\nprint('a')"), _act("print('b')"), _act("kept = 7\nprint('b')")]
    runs = asyncio.run(_run_candidates(texts, interpreter))
    winner, counts = choose(runs)
    assert winner.index == 1 and counts == {"output:a": 1, "output:b": 2}
    state = winner.interpreter.run("print(sorted(k for k in ('leak', 'kept', 'shared') if k in globals()))")
    assert state.stdout.strip() == "['shared']"
    assert interpreter.run("print('leak' in globals())").stdout.strip() == "False"
    for run in runs:
        run.interpreter.close()
    interpreter.close()


def test_failed_candidates_are_dropped_and_ties_break_to_first(pool):
    interpreter = pool.new_interpreter()
    texts = ["no code here", _act("1/0"), _act("print('x')"), _act("print('y')")]
    runs = asyncio.run(_run_candidates(texts, interpreter))
    assert [r.parse_ok for r in runs] == [False, True, True, True]
    assert [r.exec_ok for r in runs] == [False, False, True, True]
    winner, counts = choose(runs)
    assert winner.index == 2 and counts == {"output:x": 1, "output:y": 1}
    stored = to_candidates(runs, winner, counts)
    assert stored[0].error.type == "parse_error" and stored[1].error.type == "execution_error"
    assert stored[0].vote_key is None
    for run in runs:
        run.interpreter.close()
    interpreter.close()
