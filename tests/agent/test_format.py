from trajkit.agent.format import conversation, parse_action, render_action
from trajkit.agent.loop import first_step
from trajkit.agent.observation import observation_text
from trajkit.schema import Step, StepError


def test_render_then_parse_roundtrips():
    text = render_action("I add.", "x = 1 + 1\nprint(x)")
    parsed = parse_action(text)
    assert (parsed.thought, parsed.code, parsed.error) == ("I add.", "x = 1 + 1\nprint(x)", None)


def test_parse_variants_and_errors():
    assert parse_action("Thought: t\nCode:\n```python\nprint(1)\n```").code == "print(1)"
    assert parse_action("Thought: t\nCode:\n```py\nprint(1)").code == "print(1)"  # stopped at <end_code>
    assert parse_action("```py\nfinal_answer(3)\n```<end_code>\nObservation: junk").code == "final_answer(3)"
    missing = parse_action("Thought: the answer is 4")
    assert missing.code is None and missing.error.type == "parse_error" and missing.thought == "the answer is 4"
    assert parse_action("Code:\n```py\n\n```").error.type == "parse_error"


def test_observation_text_shows_errors_for_recovery():
    ok = Step(index=0, code="print(1)", observation="1")
    assert observation_text(ok) == "Observation:\n1"
    bad = Step(index=0, code="y", error=StepError(type="execution_error", message="name 'y' is not defined", exception="NameError", line=1))
    text = observation_text(bad)
    assert "NameError (line 1)" in text and "retry" in text


def test_conversation_alternates_and_skips_observation_after_answer():
    steps = [
        Step(index=0, thought="a", code="print(1)", observation="1"),
        Step(index=1, thought="b", code="final_answer(1)", final_answer="1"),
    ]
    roles = [m["role"] for m in conversation("sys", "q?", steps)]
    assert roles == ["system", "user", "assistant", "user", "assistant"]


def test_first_step_for_prefix():
    assert first_step("The city was founded in 1790.\nSo...\n\nFinal answer: 30") == "Thought: The city was founded in 1790."
    assert first_step("Thought: x\n\ny") == "Thought: x"
    assert first_step("   ") is None


def test_first_step_takes_the_plan_s_first_item_and_never_the_answer():
    plan = "To answer this, I'll follow these steps:\n1. Find the founder\n2. Find the city\nFinal answer: Budapest"
    assert first_step(plan) == "Thought: To answer this, I'll follow these steps:\n1. Find the founder"
    assert first_step("Final answer: 12") is None
    assert first_step("final answer: 12\nThe sum is 12.") == "Thought: The sum is 12."


def test_written_turn_keeps_what_the_model_wrote_and_how_it_ended():
    from trajkit.agent.format import written_turn
    from trajkit.teachers.base import Choice

    code = "Thought: add\nCode:\n```py\nprint(1 + 1)\n```"
    # the backend saw the stop string (local, vLLM, client-side trimming): it is kept
    assert written_turn(None, Choice(code, "stop", stop="<end_code>")) == code + "<end_code>"
    assert written_turn(None, Choice(code + "\n", "stop", stop="Observation:")) == code + "\nObservation:"
    # a server that cut silently after the closing fence stopped on <end_code>
    assert written_turn(None, Choice(code, "stop")) == code + "<end_code>"
    # ... unless the model ended its turn itself, or ran out of tokens: nothing is added
    assert written_turn(None, Choice(code, "stop", end_of_turn=True)) == code
    assert written_turn(None, Choice(code, "length")) == code
    # the opening the loop put in front (first-thought prefix, forced "Thought:") comes first,
    # and text is never normalised (spaces, missing labels stay as written)
    assert written_turn("Thought:", Choice("  odd  spacing", "stop", end_of_turn=True)) == "Thought:  odd  spacing"


def test_a_step_is_rendered_as_written_and_parsed_up_to_the_stop():
    from trajkit.agent.format import step_assistant_text

    raw = "Thought:   spaced\nCode:\n```py\nx = 1\nprint(x)\n```\nObservation:"
    parsed = parse_action(raw)
    assert parsed.code == "x = 1\nprint(x)" and parsed.thought == "spaced"
    step = Step(index=0, thought=parsed.thought, code=parsed.code, raw_output=raw)
    assert step_assistant_text(step) == raw
    assert step_assistant_text(Step(index=0, thought="t", code="c")) == render_action("t", "c")


def test_a_turn_cut_at_max_tokens_carries_no_loss():
    from trajkit.agent.sag import CandidateRun
    from trajkit.agent.steps import action_step
    from trajkit.teachers.base import Choice, GenerationResponse

    def step(reason):
        run = CandidateRun(0, "Thought: x\nCode:\n```py\nprint(1)", "x", "print(1)", True, True, "1", None, False)
        response = GenerationResponse([Choice(run.raw_output, reason)], 10, 5, 1.0)
        return action_step(0, run, response, prefix=None, tool_calls=[], candidates=[],
                           completion_tokens=5, latency_ms=1.0, capture_tokens=False)

    assert step("stop").train and not step("length").train
