"""The data model: one place, one source of truth.

Pydantic models define the fields and their validation. The Arrow schema used for storage
and the published JSON Schema (`schemas/`) are both derived from these models, so they cannot
drift apart. One row of storage is one `Trajectory`, nested; DuckDB views unnest it
(`trajkit.query`).

Free-form mappings (task metadata, tool arguments, grader details) are stored as JSON text
so that every Parquet reader sees the same flat, stable types.

Schema versions: `SCHEMA_VERSION` is written into every Parquet file's metadata, into
every row (`schema_version`) and into the dataset manifest. Reading data with a different
version goes through `check_version`: newer data is refused with a message to upgrade
trajkit; older data is upgraded by the functions in `UPGRADES` (none exist yet: v1 is the
first version) or refused.
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trajkit.errors import SchemaVersionError

SCHEMA_VERSION = 1
PARQUET_VERSION_KEY = b"trajkit.schema_version"

ErrorType = Literal[
    "parse_error",  # model output had no usable thought/code
    "execution_error",  # the code raised
    "timeout",  # wall or CPU time limit hit
    "memory_limit",
    "output_limit",  # printed more than the cap
    "forbidden_import",
    "forbidden_operation",  # sandbox refused an operation (file outside scratch, network, ...)
    "tool_error",  # a tool (retriever, ...) failed
    "sandbox_error",  # the sandbox process running the step died
    "teacher_error",  # the model backend failed after retries
    "max_steps",
]
TrajectoryStatus = Literal[
    "answered",  # final_answer was called
    "max_steps",  # ran out of steps without an answer
    "teacher_error",  # the backend failed after retries
    "sandbox_error",
    "parse_error",  # gave up after repeated unparseable output
    "imported_error",  # imported from a log that recorded a failed run
]
ProvenanceKind = Literal["teacher", "student", "import"]
ReviewStatus = Literal["pending", "draft", "submitted", "discarded"]

JsonText = Annotated[str, Field(description="JSON text")]


class Model(BaseModel):
    """The base of every trajkit model, data and recipe blocks alike: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------------------- task


class Task(Model):
    task_id: str = Field(min_length=1, description="stable id: source + original id, or a content hash")
    source: str = Field(min_length=1, description="dataset name, e.g. hotpotqa, math_500, synthetic")
    split: str = "train"
    domain: str = Field("qa", description="qa, math, ...")
    question: str = Field(min_length=1)
    gold_answer: str | None = None
    gold_aliases: list[str] = Field(default_factory=list, description="other accepted answers")
    metadata: JsonText = "{}"

    @field_validator("metadata")
    @classmethod
    def _metadata_is_json(cls, value: str) -> str:
        return _check_json_text(value, "metadata")


# ----------------------------------------------------------------------- provenance


class Sampling(Model):
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int | None = None
    n: int = 1
    seed: int | None = None
    stop: list[str] = Field(default_factory=list)


class ToolInfo(Model):
    name: str
    version: str = ""


class Provenance(Model):
    kind: ProvenanceKind
    backend: str = Field(description="openai, vllm, local, scripted, reference-import, ...")
    model: str
    model_sha256: str | None = Field(None, description="sha256 of the model file, when trajkit loaded one (GGUF)")
    model_licence: str | None = Field(None, description="licence of the model, from trajkit's model registry")
    sampling: Sampling = Field(default_factory=Sampling)
    prompt_template: str = Field("", description="prompt template id")
    prompt_hash: str = Field("", description="content hash of the rendered template source")
    first_thought_prefix: bool = False
    sag_n: int = Field(1, ge=1, description="candidates per step (self-consistent action generation)")
    max_steps: int | None = None
    tools: list[ToolInfo] = Field(default_factory=list)
    trajkit_version: str = ""
    recipe_hash: str | None = None
    fingerprint: str = Field("", description="hash over every other provenance field")

    def compute_fingerprint(self) -> str:
        body = self.model_dump(exclude={"fingerprint"})
        return stable_hash(body)

    def with_fingerprint(self) -> Provenance:
        return self.model_copy(update={"fingerprint": self.compute_fingerprint()})


# ---------------------------------------------------------------------------- steps


class StepError(Model):
    type: ErrorType
    message: str
    exception: str | None = Field(None, description="exception class for execution errors")
    line: int | None = Field(None, description="failing line of the step's code, 1-based")


class RetrievedDoc(Model):
    doc_id: str
    title: str = ""
    score: float | None = None


class ToolCall(Model):
    name: str
    arguments: JsonText = "{}"
    output: str | None = None
    error: str | None = None
    latency_ms: float | None = None
    retrieved: list[RetrievedDoc] = Field(default_factory=list)

    @field_validator("arguments")
    @classmethod
    def _arguments_are_json(cls, value: str) -> str:
        return _check_json_text(value, "arguments")


class Candidate(Model):
    """One sampled action at a step (self-consistent action generation)."""

    index: int = Field(ge=0)
    raw_output: str
    thought: str | None = None
    code: str | None = None
    parse_ok: bool = False
    exec_ok: bool = False
    output: str | None = Field(None, description="observation of running it")
    final_answer: str | None = None
    vote_key: str | None = Field(None, description="what this candidate voted with")
    votes: int = 0
    selected: bool = False
    error: StepError | None = None


class Step(Model):
    index: int = Field(ge=0)
    thought: str | None = None
    code: str | None = None
    observation: str | None = None
    raw_output: str = ""
    prefix: str | None = Field(None, description="text injected by the first-thought prefix")
    tool_calls: list[ToolCall] = Field(default_factory=list)
    error: StepError | None = None
    final_answer: str | None = Field(None, description="set on the step that called final_answer")
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    candidates: list[Candidate] = Field(default_factory=list)
    train: bool = Field(True, description="should this step carry loss")
    token_ids: list[int] | None = Field(None, description="optional, for RL tools")
    logprobs: list[float] | None = Field(None, description="optional, for RL tools")


# ------------------------------------------------------------------ outcome & usage


class Outcome(Model):
    status: TrajectoryStatus
    final_answer: str | None = None
    correct: bool | None = None
    score: float | None = None
    grader: str | None = Field(None, description="exact_match, f1, math_equiv, llm_judge:<model>")
    grader_detail: JsonText | None = Field(None, description="grader rationale/details as JSON")


class Usage(Model):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    steps: int = 0
    model_calls: int = 0
    wall_time_s: float = 0.0


class ReviewResponse(Model):
    """One annotator's response."""

    annotator: str
    status: ReviewStatus
    label: str | None = Field(None, description="accept / reject")
    rating: int | None = None
    tags: list[str] = Field(default_factory=list)
    comment: str | None = None
    corrected_answer: str | None = None
    at: datetime | None = None


class Review(Model):
    """The consolidated review of a trajectory; every annotator's response is in `responses`."""

    status: ReviewStatus = "pending"
    label: str | None = None
    rating: float | None = None
    tags: list[str] = Field(default_factory=list)
    comment: str | None = None
    corrected_answer: str | None = None
    annotator: str | None = None
    at: datetime | None = None
    responses: list[ReviewResponse] = Field(default_factory=list)


# ------------------------------------------------------------------------ trajectory


class Trajectory(Model):
    schema_version: int = SCHEMA_VERSION
    trajectory_id: str = Field(min_length=1)
    sample_index: int = Field(0, ge=0)
    task: Task
    provenance: Provenance
    steps: list[Step] = Field(default_factory=list)
    outcome: Outcome
    usage: Usage = Field(default_factory=Usage)
    review: Review | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        check_version(value, where="trajectory")
        return value

    @classmethod
    def new(
        cls,
        *,
        task: Task,
        provenance: Provenance,
        outcome: Outcome,
        steps: list[Step] | None = None,
        sample_index: int = 0,
        **fields: Any,
    ) -> Trajectory:
        """Build a trajectory with its provenance fingerprint and deterministic id filled in."""
        if not provenance.fingerprint:
            provenance = provenance.with_fingerprint()
        return cls(
            trajectory_id=trajectory_id(task.task_id, provenance.fingerprint, sample_index),
            sample_index=sample_index,
            task=task,
            provenance=provenance,
            outcome=outcome,
            steps=steps or [],
            **fields,
        )


# ----------------------------------------------------------------------------- ids


def stable_hash(value: Any, length: int = 16) -> str:
    """Hash of a JSON-serialisable value, independent of key order."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def trajectory_id(task_id: str, fingerprint: str, sample_index: int) -> str:
    """Deterministic id, so resume and re-push are idempotent."""
    return stable_hash([task_id, fingerprint, sample_index], length=24)


def _check_json_text(value: str, field: str) -> str:
    try:
        json.loads(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{field} must be JSON text ({exc})") from None
    return value


# ------------------------------------------------------------------------ versions

# from_version -> function(row dict) -> row dict of from_version + 1
UPGRADES: dict[int, typing.Callable[[dict], dict]] = {}


def check_version(version: Any, *, where: str) -> None:
    """Refuse data whose schema version this trajkit cannot read."""
    if not isinstance(version, int) or isinstance(version, bool):
        raise SchemaVersionError(
            f"schema version {version!r} is not an integer",
            where=where,
            fix="the file is not trajkit data or is damaged",
        )
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"written with trajkit schema v{version}, this trajkit reads up to v{SCHEMA_VERSION}",
            where=where,
            fix="upgrade trajkit (pip install -U trajkit)",
        )
    if version < SCHEMA_VERSION and version not in UPGRADES:
        raise SchemaVersionError(
            f"schema v{version} is not a version trajkit ever wrote (oldest is v1)",
            where=where,
            fix="re-create the data with this trajkit or check where it came from",
        )


def upgrade_row(row: dict) -> dict:
    """Bring one row (as a dict) up to SCHEMA_VERSION, one version at a time."""
    version = row.get("schema_version", SCHEMA_VERSION)
    check_version(version, where="row")
    while version < SCHEMA_VERSION:
        row = UPGRADES[version](row)
        version += 1
        row["schema_version"] = version
    return row


# -------------------------------------------------------------- derived: Arrow schema


def _arrow_type(annotation: Any, field_name: str):
    import pyarrow as pa

    origin = get_origin(annotation)
    if origin is Annotated:
        return _arrow_type(get_args(annotation)[0], field_name)
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            raise TypeError(f"{field_name}: unions other than Optional are not storable")
        return _arrow_type(members[0], field_name)
    if origin is Literal:
        return pa.string()
    if origin is list:
        return pa.list_(_arrow_type(get_args(annotation)[0], field_name))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return arrow_struct(annotation)
    scalar = {
        str: pa.string(),
        int: pa.int64(),
        float: pa.float64(),
        bool: pa.bool_(),
        datetime: pa.timestamp("us", tz="UTC"),
    }
    if annotation in scalar:
        return scalar[annotation]
    raise TypeError(f"{field_name}: no Arrow mapping for {annotation!r}")


def _arrow_fields(model: type[BaseModel]):
    # Every Arrow field is nullable: required-ness is enforced by validation (the models and
    # trajkit.validate), which keeps the files friendly to every reader and to schema evolution.
    import pyarrow as pa

    hints = typing.get_type_hints(model, include_extras=True)
    return [
        pa.field(name, _arrow_type(hints[name], f"{model.__name__}.{name}"))
        for name in model.model_fields
    ]


def arrow_struct(model: type[BaseModel]):
    import pyarrow as pa

    return pa.struct(_arrow_fields(model))


_ARROW_SCHEMA = None


def arrow_schema():
    """The storage schema of one trajectory row, derived from `Trajectory`."""
    global _ARROW_SCHEMA
    if _ARROW_SCHEMA is None:
        import pyarrow as pa

        _ARROW_SCHEMA = pa.schema(
            _arrow_fields(Trajectory),
            metadata={PARQUET_VERSION_KEY: str(SCHEMA_VERSION).encode()},
        )
    return _ARROW_SCHEMA


def json_schema() -> dict:
    """The published JSON Schema of one trajectory row (`trajkit schema export`)."""
    schema = Trajectory.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://trajkit.dev/schemas/trajectory.v{SCHEMA_VERSION}.json"
    schema["title"] = f"trajkit trajectory (schema v{SCHEMA_VERSION})"
    return schema


def json_schema_filename(version: int = SCHEMA_VERSION) -> str:
    return f"trajectory.v{version}.json"


# Closed vocabularies, checked column-wise when whole Arrow tables are validated.
ALLOWED_VALUES: dict[str, tuple[str, ...]] = {
    "provenance.kind": get_args(ProvenanceKind),
    "outcome.status": get_args(TrajectoryStatus),
    "steps.error.type": get_args(ErrorType),
    "review.status": get_args(ReviewStatus),
}
