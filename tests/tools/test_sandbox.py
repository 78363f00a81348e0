"""The sandboxed interpreter: state, values, answers, typed errors, forks, tools, threads."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from trajkit.agent.observation import observation_of, observation_text
from trajkit.errors import ConfigError
from trajkit.schema import Step, StepError, ToolCall
from trajkit.tools.protocol import ExecResult, SandboxError, ToolOutput


def test_state_persists_across_steps(interp):
    assert interp.run("import math\nx = 6\ndef double(v):\n    return 2 * v").ok
    assert interp.run("class Box:\n    size = 3").ok
    result = interp.run("print(double(x), math.factorial(4), Box.size)")
    assert result.error is None
    assert result.stdout == "12 24 3\n"


def test_last_expression_value_and_stdout(interp):
    result = interp.run("print('hi')\n1 + 1")
    assert result.stdout == "hi\n" and result.value == "2"
    assert interp.run("x = 5").value is None
    assert interp.run("None").value is None
    assert interp.run("'text'").value == "text"


def test_final_answer_converts_numpy_and_sympy(interp):
    result = interp.run(
        "import numpy as np, sympy as sp\n"
        "final_answer({'int': np.int64(7), 'float': np.float32(0.5), 'array': np.arange(3),"
        " 'rational': sp.Rational(3, 4), 'integer': sp.Integer(12), 'root': sp.sqrt(2),"
        " 'matrix': sp.Matrix([[1, 2], [3, 4]]), 'nan': float('nan'), 'set': {3, 1, 2},"
        " 'tuple': (1, 'a'), 'bool': sp.true})"
    )
    assert result.answered and result.error is None
    assert result.final_answer == {
        "int": 7,
        "float": 0.5,
        "array": [0, 1, 2],
        "rational": "3/4",
        "integer": 12,
        "root": "sqrt(2)",
        "matrix": [[1, 2], [3, 4]],
        "nan": "nan",
        "set": [1, 2, 3],
        "tuple": [1, "a"],
        "bool": True,
    }
    json.dumps(result.final_answer)  # JSON-serialisable as promised


def test_final_answer_stops_the_step(interp):
    result = interp.run("final_answer(42)\nprint('not reached')")
    assert result.answered and result.final_answer == 42
    assert result.stdout == ""
    assert interp.run("final_answer(None)").answered


def test_parse_error_is_typed_with_line(interp):
    result = interp.run("x = 1\ny = (\n")
    assert result.error.type == "parse_error"
    assert result.error.line is not None
    assert interp.run("return 5").error.type == "parse_error"


def test_execution_error_has_exception_and_failing_line(interp):
    result = interp.run("a = 1\nb = 2\nc = a / (b - 2)\nprint(c)")
    assert result.error.type == "execution_error"
    assert result.error.exception == "ZeroDivisionError"
    assert result.error.line == 3
    assert "c = a / (b - 2)" in result.error.message
    # variables assigned before the failure are kept, as in any REPL
    assert interp.run("a + b").value == "3"


def test_error_inside_function_points_at_the_calling_line(interp):
    interp.run("def boom():\n    raise ValueError('bad value')")
    result = interp.run("x = 1\nboom()")
    assert result.error.exception == "ValueError"
    assert result.error.line == 2


def test_timeout_rolls_back_the_step(interp):
    interp.run("counter = 1")
    result = interp.run("counter = 2\nwhile True:\n    pass", timeout=1)
    assert result.error.type == "timeout"
    assert result.rolled_back
    assert interp.run("counter").value == "1"


def test_stdout_is_capped_not_failed(interp, policy):
    result = interp.run("print('x' * 30000)")
    assert result.error is None
    assert len(result.stdout) == policy.max_output_chars
    assert result.stdout_dropped == 30001 - policy.max_output_chars
    assert "more characters" in observation_text(Step(index=0, code="print(...)", observation=observation_of(result)))


def test_allowed_imports_work_and_others_are_refused(interp):
    allowed = "import collections, datetime, itertools, math, queue, random, re, stat, statistics, time, unicodedata, numpy, sympy"
    assert interp.run(allowed).ok
    # what the reference code refused arbitrarily is fine here
    result = interp.run(
        "import itertools\ntotal = 0\nfor a in range(3):\n    for b in range(3):\n        total += a * b\n"
        "print(total, len(list(itertools.combinations(range(5), 2))))"
    )
    assert result.ok and result.stdout == "9 10\n"
    refused = interp.run("import json")
    assert refused.error.type == "forbidden_import"
    assert "json" in refused.error.message


def test_import_allow_list_is_configurable(pool, policy):
    from trajkit.tools.sandbox import SandboxPool

    with SandboxPool(policy.replace(allowed_imports=("math", "json"))) as custom:
        interp = custom.new_interpreter()
        assert interp.run("import json\njson.dumps([1])").value == "[1]"
        assert interp.run("import numpy").error.type == "forbidden_import"


def test_sympy_and_numpy_work_inside(interp):
    result = interp.run(
        "import sympy as sp, numpy as np\nx = sp.symbols('x')\n"
        "f = sp.lambdify(x, sp.sin(x) ** 2)\n"
        "print(sp.integrate(x ** 2, (x, 0, 3)), sp.solve(x ** 2 - 4, x), round(float(f(1.0)), 4))\n"
        "np.linalg.det(np.array([[2.0, 0.0], [0.0, 3.0]]))"
    )
    assert result.error is None, result.error
    assert result.stdout == "9 [-2, 2] 0.7081\n"
    assert result.value.startswith("6.0")


def test_scratch_files_persist_across_steps(interp):
    assert interp.run("open('notes.txt', 'w').write('kept')").ok
    assert interp.run("open('notes.txt').read()").value == "kept"


def test_fork_copies_state_and_copies_are_isolated(interp):
    interp.run("import numpy as np\nshared = [1, 2]\nopen('f.txt', 'w').write('base')")
    copies = [interp.fork() for _ in range(3)]
    try:
        for i, copy in enumerate(copies):
            result = copy.run(
                f"shared.append({i})\nleak_{i} = True\nopen('f.txt', 'w').write('copy{i}')\nshared"
            )
            assert result.value == f"[1, 2, {i}]"
        for i, copy in enumerate(copies):
            assert copy.run("shared").value == f"[1, 2, {i}]"
            assert copy.run("open('f.txt').read()").value == f"copy{i}"
            others = [j for j in range(3) if j != i]
            for j in others:
                assert copy.run(f"leak_{j}").error.exception == "NameError"
        assert interp.run("shared").value == "[1, 2]"
        assert interp.run("open('f.txt').read()").value == "base"
        assert interp.run("leak_0").error.exception == "NameError"
        assert interp.run("np.ones(2).sum()").value == "2.0"  # imports came along
    finally:
        for copy in copies:
            copy.close()


def test_fork_of_a_fork_and_closing_the_original(pool):
    original = pool.new_interpreter()
    original.run("depth = 0")
    child = original.fork()
    original.close()
    child.run("depth += 1")
    grandchild = child.fork()
    grandchild.run("depth += 1")
    assert child.run("depth").value == "1"
    assert grandchild.run("depth").value == "2"
    child.close()
    grandchild.close()


def test_tool_calls_go_through_the_parent_and_are_recorded(pool):
    from trajkit.schema import RetrievedDoc

    seen = []

    def lookup(query: str, n_results: int = 2):
        seen.append(query)
        return ToolOutput(
            text=f"result for {query}",
            retrieved=[
                RetrievedDoc(doc_id=f"d{i}", title=f"T{i}", score=1.0 / (i + 1))
                for i in range(n_results)
            ],
        )

    def fails(query: str):
        raise RuntimeError("backend down")

    interp = pool.new_interpreter(
        tools={"lookup": lookup, "fails": fails, "plain": lambda x: {"echo": x}}
    )
    try:
        result = interp.run(
            "a = lookup('capital of France')\nb = lookup(query='Nile', n_results=1)\nprint(a)\nplain([1, 2])"
        )
        assert result.error is None
        assert result.stdout == "result for capital of France\n"
        assert result.value == "{'echo': [1, 2]}"
        assert seen == ["capital of France", "Nile"]
        first, second, third = result.tool_calls
        assert isinstance(first, ToolCall) and first.name == "lookup"
        assert json.loads(first.arguments) == {"query": "capital of France"}
        assert json.loads(second.arguments) == {"query": "Nile", "n_results": 1}
        assert [d.doc_id for d in first.retrieved] == ["d0", "d1"]
        assert first.output == "result for capital of France" and first.latency_ms >= 0
        assert json.loads(third.output) == {"echo": [1, 2]}

        failed = interp.run("fails('x')")
        assert failed.error.type == "tool_error"
        assert "backend down" in failed.error.message
        assert failed.tool_calls[0].error == "RuntimeError: backend down"

        caught = interp.run(
            "try:\n    fails('x')\nexcept Exception as e:\n    print('caught', type(e).__name__)"
        )
        assert caught.ok and caught.stdout == "caught ToolError\n"

        wrong = interp.run("lookup()")
        assert wrong.error.type == "tool_error" and "query" in wrong.error.message
    finally:
        interp.close()


def test_results_fit_the_schema(interp):
    result = interp.run("1/0")
    step = Step(
        index=0,
        code="1/0",
        observation=observation_of(result),
        error=result.error,
        tool_calls=result.tool_calls,
    )
    assert isinstance(step.error, StepError) and step.error.type == "execution_error"
    assert isinstance(result, ExecResult) and result.duration_ms > 0


def test_many_interpreters_in_threads(pool):
    interpreters = [pool.new_interpreter() for _ in range(4)]
    errors = []

    def work(i, interpreter):
        try:
            for step in range(5):
                result = interpreter.run(f"value = {i} * 100 + {step}\nvalue")
                assert result.value == str(i * 100 + step), result
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, it)) for i, it in enumerate(interpreters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for interpreter in interpreters:
        interpreter.close()


def test_asyncio_to_thread(pool):
    async def main():
        interpreters = [pool.new_interpreter() for _ in range(3)]
        results = await asyncio.gather(
            *(
                asyncio.to_thread(it.run, f"sum(range({n}))")
                for n, it in zip((10, 20, 30), interpreters, strict=True)
            )
        )
        for it in interpreters:
            it.close()
        return [r.value for r in results]

    assert asyncio.run(main()) == ["45", "190", "435"]


def test_closed_interpreter_refuses_to_run(pool):
    interp = pool.new_interpreter()
    interp.close()
    with pytest.raises(SandboxError):
        interp.run("1")
    with pytest.raises(SandboxError):
        interp.fork()


def test_bad_tool_names_are_refused(pool):
    with pytest.raises(ConfigError):
        pool.new_interpreter(tools={"final_answer": lambda: 1})
    with pytest.raises(ConfigError):
        pool.new_interpreter(tools={"not valid": lambda: 1})


def test_bad_policy_values_are_refused():
    from trajkit.tools.policy import SandboxPolicy

    with pytest.raises(ConfigError):
        SandboxPolicy(wall_time_s=0)
    with pytest.raises(ConfigError):
        SandboxPolicy(memory_mb=64)
    with pytest.raises(ConfigError):
        SandboxPolicy(allowed_imports=("os; rm",))


def test_protections_are_reported(pool):
    for key in (
        "network",
        "processes",
        "filesystem",
        "identity",
        "limits",
        "environment",
        "python",
    ):
        assert pool.protections.get(key), key
    assert "wall" in pool.protections["limits"]
