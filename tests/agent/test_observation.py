"""The one observation renderer: exec result -> stored text -> the turn the model reads."""

from trajkit.agent.observation import MAX_OBSERVATION_CHARS, observation_of, observation_text
from trajkit.schema import Step, StepError
from trajkit.tools.protocol import ExecResult


def test_stored_observation_is_output_then_last_value():
    assert observation_of(ExecResult(stdout="a\nb\n", value="3")) == "a\nb\nOut: 3"
    assert observation_of(ExecResult(stdout="", value=None)) is None
    # after final_answer(...) the value is not shown
    assert observation_of(ExecResult(stdout="x\n", value="'done'", answered=True, final_answer="done")) == "x"


def test_long_output_is_cut_with_a_note_that_says_how_much():
    long = "x" * (MAX_OBSERVATION_CHARS + 25)
    text = observation_text(Step(index=0, code="print(...)", observation=long))
    assert text.startswith("Observation:\n" + "x" * MAX_OBSERVATION_CHARS + "\n")
    assert text.endswith("... (25 more characters)")
    error = StepError(type="execution_error", message="boom", exception="ValueError", line=2)
    failed = observation_text(Step(index=0, code="f()", observation=long, error=error))
    assert "(25 more characters)" in failed and "ValueError (line 2): boom" in failed


def test_sandbox_output_cut_at_its_limit_reaches_the_model_as_cut():
    # the sandbox keeps max_output_chars (20,000) of stdout; the turn the model reads says it was cut
    result = ExecResult(stdout="y" * 20_000, stdout_dropped=10_001)
    text = observation_text(Step(index=0, code="print(...)", observation=observation_of(result)))
    assert "more characters)" in text and len(text) < MAX_OBSERVATION_CHARS + 100
