"""How a trajectory looks in Argilla: the dataset settings and trajectory -> record rendering.

The layout is designed for judging an agent trajectory quickly:
- fields: the question, the gold answer, the agent's final answer, and the steps as a chat
  (each step: the thought and code as the agent's turn, the observation / error as the
  environment's turn, in Markdown with fenced code blocks);
- questions: verdict (accept / reject), quality (1-5), error tags, corrected answer, comment;
- metadata for filtering in the UI: correct, domain, source, status, n_steps, tokens, teacher,
  error types;
- suggestions: the automatic grader's verdict (and error tags derived from step errors);
- a vector: the question embedding, for "find similar" in the UI.

Everything here is plain data (dicts) except `argilla_settings`, so it can be tested without a
server. `SETTINGS_VERSION` goes into the dataset's guidelines footer; `check_settings` compares
a remote dataset against these settings before trajkit writes to or reads from it.
"""

from __future__ import annotations

from typing import Any

from trajkit.schema import Step, Trajectory

SETTINGS_VERSION = 1
EMBEDDING_DIM = 384
VECTOR_NAME = "question_embedding"

FIELD_NAMES = ("question", "gold_answer", "final_answer", "steps")
VERDICT, QUALITY, ERROR_TAGS, CORRECTED, COMMENT = (
    "verdict",
    "quality",
    "error_tags",
    "corrected_answer",
    "comment",
)
QUESTION_NAMES = (VERDICT, QUALITY, ERROR_TAGS, CORRECTED, COMMENT)
VERDICT_LABELS = {"accept": "Accept (keep for training)", "reject": "Reject"}
RATING_VALUES = [1, 2, 3, 4, 5]
ERROR_TAG_LABELS = {
    "wrong_answer": "Wrong final answer",
    "wrong_gold": "Gold answer is wrong or ambiguous",
    "bad_reasoning": "Flawed reasoning",
    "hallucination": "Uses facts not found by search",
    "bad_code": "Buggy or pointless code",
    "tool_misuse": "Misused a tool (search / python)",
    "parse_error": "Output not in the Thought/Code format",
    "inefficient": "Too many or redundant steps",
    "leaks_answer": "Answer copied from the question or prompt",
    "other": "Other (explain in the comment)",
}
METADATA_TERMS = ("correct", "domain", "source", "status", "teacher", "error_types")
METADATA_INTEGERS = ("n_steps", "tokens")
CORRECT_TERMS = ["true", "false", "unknown"]
MAX_MESSAGE_CHARS = 6000  # the server refuses chat messages over 20,000 characters

GUIDELINES = f"""\
## Reviewing agent trajectories

Each record is one run of a teacher agent that reasons (**Thought**), runs Python
(**Code**) and reads the result (**Observation**) until it calls `final_answer`.
The automatic grader's verdict is pre-filled as a suggestion; check it.

- **Verdict** — *accept* if a student model should learn from this trajectory: the final
  answer is right *and* the steps are sound. *Reject* otherwise.
- **Quality** — 1 (useless) to 5 (exemplary reasoning and code).
- **Error tags** — what went wrong, if anything.
- **Corrected answer** — the right answer, when the agent's or the gold answer is wrong.
- **Comment** — anything else.

Use the metadata filters (correct, domain, steps, error types, ...) to focus, and "find
similar" on the question embedding to review near-duplicate questions together.

<small>trajkit review settings v{SETTINGS_VERSION}</small>
"""


# ------------------------------------------------------------------------ settings


def argilla_settings(rg) -> Any:
    """The `rg.Settings` of a trajkit review dataset (`rg` is the imported argilla module)."""
    return rg.Settings(
        guidelines=GUIDELINES,
        fields=[
            rg.TextField(name="question", title="Question", use_markdown=False),
            rg.TextField(name="gold_answer", title="Gold answer", use_markdown=False, required=False),
            rg.TextField(name="final_answer", title="Agent's final answer", use_markdown=False, required=False),
            rg.ChatField(name="steps", title="Steps (thought, code, observation)", use_markdown=True),
        ],
        questions=[
            rg.LabelQuestion(name=VERDICT, title="Verdict", labels=VERDICT_LABELS, required=True),
            rg.RatingQuestion(name=QUALITY, title="Quality", values=RATING_VALUES, required=False),
            rg.MultiLabelQuestion(
                name=ERROR_TAGS, title="Error tags", labels=ERROR_TAG_LABELS, required=False, visible_labels=None
            ),
            rg.TextQuestion(name=CORRECTED, title="Corrected answer", required=False, use_markdown=False),
            rg.TextQuestion(name=COMMENT, title="Comment", required=False, use_markdown=False),
        ],
        metadata=[
            rg.TermsMetadataProperty(name="correct", title="Graded correct", options=CORRECT_TERMS),
            rg.TermsMetadataProperty(name="domain", title="Domain"),
            rg.TermsMetadataProperty(name="source", title="Task source"),
            rg.TermsMetadataProperty(name="status", title="Outcome status"),
            rg.TermsMetadataProperty(name="teacher", title="Teacher model"),
            rg.TermsMetadataProperty(name="error_types", title="Step error types"),
            rg.IntegerMetadataProperty(name="n_steps", title="Steps"),
            rg.IntegerMetadataProperty(name="tokens", title="Total tokens"),
        ],
        vectors=[rg.VectorField(name=VECTOR_NAME, title="Question embedding", dimensions=EMBEDDING_DIM)],
    )


def check_settings(dataset, where: str) -> None:
    """Refuse a remote dataset whose settings are not what trajkit pushes and pulls."""
    from trajkit.errors import ConfigError

    settings = dataset.settings
    problems = []
    fields = {f.name for f in settings.fields}
    questions = {q.name: q for q in settings.questions}
    metadata = {m.name for m in settings.metadata}
    vectors = {v.name: v for v in settings.vectors}
    if missing := [name for name in FIELD_NAMES if name not in fields]:
        problems.append(f"fields {missing} are missing")
    if missing := [name for name in QUESTION_NAMES if name not in questions]:
        problems.append(f"questions {missing} are missing")
    elif set(_labels(questions[VERDICT])) != set(VERDICT_LABELS):
        problems.append(f"question {VERDICT!r} has labels {sorted(_labels(questions[VERDICT]))}")
    if missing := [n for n in (*METADATA_TERMS, *METADATA_INTEGERS) if n not in metadata]:
        problems.append(f"metadata {missing} are missing")
    if VECTOR_NAME not in vectors:
        problems.append(f"vector {VECTOR_NAME!r} is missing")
    elif vectors[VECTOR_NAME].dimensions != EMBEDDING_DIM:
        problems.append(f"vector {VECTOR_NAME!r} has {vectors[VECTOR_NAME].dimensions} dimensions, not {EMBEDDING_DIM}")
    if problems:
        raise ConfigError(
            "the Argilla dataset was not made by `trajkit review push` (or by another version): "
            + "; ".join(problems),
            where=where,
            fix="push to a new --name, or delete that dataset in Argilla and push again",
        )


def _labels(question) -> list[str]:
    labels = question.labels
    return list(labels.keys()) if isinstance(labels, dict) else list(labels)


# ------------------------------------------------------------------------- records


def record_fields(traj: Trajectory) -> dict[str, Any]:
    fields: dict[str, Any] = {"question": traj.task.question, "steps": steps_chat(traj)}
    if traj.task.gold_answer not in (None, ""):
        gold = traj.task.gold_answer
        if traj.task.gold_aliases:
            gold += "\n(also accepted: " + "; ".join(traj.task.gold_aliases) + ")"
        fields["gold_answer"] = gold
    if traj.outcome.final_answer not in (None, ""):
        fields["final_answer"] = traj.outcome.final_answer
    return fields


def steps_chat(traj: Trajectory) -> list[dict[str, str]]:
    """The steps as chat messages: the agent's turn, then the environment's answer."""
    messages = []
    for step in traj.steps:
        messages.append({"role": "assistant", "content": _clip(_agent_turn(step))})
        if env := _environment_turn(step):
            messages.append({"role": "user", "content": _clip(env)})
    outcome = traj.outcome
    closing = f"**Outcome:** `{outcome.status}`"
    if outcome.correct is not None:
        closing += f" · graded **{'correct' if outcome.correct else 'incorrect'}**"
        if outcome.grader:
            closing += f" by `{outcome.grader}`"
    if not traj.steps:
        closing = "*(no steps were recorded)*\n\n" + closing
    messages.append({"role": "system", "content": closing})
    return messages


def _agent_turn(step: Step) -> str:
    parts = [f"**Step {step.index + 1}**"]
    if step.prefix:
        parts.append(f"*(first-thought prefix)* {step.prefix.strip()}")
    if step.thought:
        parts.append(f"**Thought:** {step.thought.strip()}")
    if step.code:
        parts.append("**Code:**\n" + _fenced(step.code, "python"))
    if not step.thought and not step.code:
        parts.append("**Raw output** (not parsed):\n" + _fenced(step.raw_output or "(empty)", ""))
    if step.final_answer is not None:
        parts.append(f"**final_answer:** {step.final_answer}")
    return "\n\n".join(parts)


def _environment_turn(step: Step) -> str:
    parts = []
    for call in step.tool_calls:
        line = f"`{call.name}({_short(call.arguments, 200)})`"
        if call.retrieved:
            line += " → " + ", ".join(d.title or d.doc_id for d in call.retrieved[:5])
        if call.error:
            line += f" — **error:** {_short(call.error, 300)}"
        parts.append(line)
    if step.observation:
        parts.append("**Observation:**\n" + _fenced(step.observation, ""))
    if step.error is not None:
        parts.append(f"**{step.error.type}:** " + _fenced(step.error.message, ""))
    return "\n\n".join(parts)


def _fenced(text: str, language: str) -> str:
    longest, run = 0, 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip(text: str) -> str:
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return text[:MAX_MESSAGE_CHARS] + f"\n\n*[… {len(text) - MAX_MESSAGE_CHARS:,} more characters not shown]*"


def error_types(traj: Trajectory) -> list[str]:
    return sorted({step.error.type for step in traj.steps if step.error is not None})


def record_metadata(traj: Trajectory) -> dict[str, Any]:
    correct = traj.outcome.correct
    return {
        "correct": "unknown" if correct is None else str(correct).lower(),
        "domain": traj.task.domain,
        "source": traj.task.source,
        "status": traj.outcome.status,
        "teacher": traj.provenance.model,
        "error_types": error_types(traj) or ["none"],
        "n_steps": len(traj.steps),
        "tokens": int(traj.usage.total_tokens),
    }


def record_suggestions(traj: Trajectory) -> list[dict[str, Any]]:
    """The automatic grader's verdict, and error tags the step errors imply."""
    outcome = traj.outcome
    suggestions = []
    agent = outcome.grader or "trajkit"
    if outcome.correct is not None:
        score = outcome.score if outcome.score is not None else 1.0
        confidence = score if outcome.correct else 1.0 - score if outcome.score is not None else 1.0
        suggestions.append(
            {
                "question_name": VERDICT,
                "value": "accept" if outcome.correct else "reject",
                "score": max(0.0, min(1.0, float(confidence))),
                "agent": agent,
            }
        )
    tags = []
    if outcome.correct is False:
        tags.append("wrong_answer")
    kinds = set(error_types(traj))
    if "parse_error" in kinds:
        tags.append("parse_error")
    if kinds & {"execution_error", "timeout", "forbidden_import", "forbidden_operation"}:
        tags.append("bad_code")
    if "tool_error" in kinds:
        tags.append("tool_misuse")
    if tags:
        suggestions.append({"question_name": ERROR_TAGS, "value": tags, "agent": "trajkit"})
    return suggestions


def to_record(rg, traj: Trajectory, vector: list[float] | None, dataset) -> Any:
    """The `rg.Record` of a trajectory; its id is the trajectory id, so re-pushing updates it."""
    record = rg.Record(
        id=traj.trajectory_id,
        fields=record_fields(traj),
        metadata=record_metadata(traj),
        suggestions=[rg.Suggestion(**s) for s in record_suggestions(traj)],
        vectors={VECTOR_NAME: vector} if vector is not None else None,
    )
    record.dataset = dataset
    return record
