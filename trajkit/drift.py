"""Token drift: does the SFT rendering of a trajectory reproduce the tokens the model produced?

With `capture_tokens: true` a build stores each step's completion token ids (`step.token_ids`).
Training renders the step as text (`trajkit.sft.convert.student_messages`: the turn as the
model wrote it, `step.raw_output`) and re-tokenizes it (`trajkit.sft.masks`). Where the two
disagree, the model is trained (or RL-scored) on tokens it never produced.

For each step with captured tokens, the tokens of its assistant turn in the rendered example
(end-of-turn marker excluded) are compared with the tokens the model saw and wrote there: the
opening the agent loop put in front (first-thought prefix, forced "Thought:"), tokenized, then
the captured completion. A step drifts when they differ; the first difference is located and
classified:

- `retokenized`: the text is the same, the token ids are not (a non-canonical tokenization
  the model sampled, or a merge across the opening's boundary);
- `rendered_text`: the rendering changed the text (a step without raw text, rebuilt from thought
  and code; or a turn trajkit completed itself: `agent.force_format`'s forced code block);
- `stop_boundary`: the text is the model's, stop string included, but the model's last tokens
  before the stop string were split differently from the canonical tokenization of text + stop
  string (e.g. "\n" "```" then "<end_code>" vs "\n```"): the server returns no tokens of the stop
  string, so the model's own split there cannot be recovered;
- `unaligned`: the captured tokens do not decode to the end of the step's raw output (they
  came from another generation, e.g. a forced code block);
- `unrenderable`: the SFT conversion refuses the trajectory (its chat template or tokenizer
  cannot give exact masks), so none of its steps is trained as produced.

A step whose rendering only adds the stop string the model stopped on (`<end_code>`: the model
wrote it, but llama.cpp's server leaves its tokens out of the returned ones) is counted as
`stop_only`, not as drift. A captured end-of-turn token (the model ended its turn itself) stands
for the rendering's end-of-turn marker.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from trajkit.agent.format import STOP_SEQUENCES, cut_at_stop
from trajkit.errors import TrajkitError
from trajkit.schema import Step, Trajectory

EXAMPLES = 5


@dataclass
class StepDrift:
    trajectory_id: str
    step: int
    kind: str  # retokenized, rendered_text, stop_boundary, unaligned, unrenderable
    token: int  # position of the first difference in the turn's tokens
    produced: str  # a little of each side's text at the difference
    rendered: str

    def where(self) -> str:
        return f"{self.trajectory_id[:12]} step {self.step} token {self.token}: {self.kind}"


@dataclass
class DriftReport:
    tokenizer: str = ""
    trajectories: int = 0  # with captured tokens
    steps: int = 0  # with captured tokens
    drifted_trajectories: int = 0
    drifted_steps: int = 0
    stop_only: int = 0  # steps that differ only by the stop string at the end
    kinds: Counter = field(default_factory=Counter)
    by_step: Counter = field(default_factory=Counter)  # step index -> drifted steps
    examples: list[StepDrift] = field(default_factory=list)
    drifting_ids: set[str] = field(default_factory=set)  # trajectories with a drifting step

    def add(self, drift: StepDrift) -> None:
        self.drifted_steps += 1
        self.kinds[drift.kind] += 1
        self.by_step[drift.step] += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(drift)

    def row(self) -> dict:
        """One summary row for `trajkit stats` and the dataset card."""
        return {
            "trajectories_checked": self.trajectories,
            "trajectories_drifting": self.drifted_trajectories,
            "steps_checked": self.steps,
            "steps_drifting": self.drifted_steps,
            "retokenized": self.kinds.get("retokenized", 0),
            "rendered_text": self.kinds.get("rendered_text", 0),
            "stop_boundary": self.kinds.get("stop_boundary", 0),
            "unaligned": self.kinds.get("unaligned", 0),
            "unrenderable": self.kinds.get("unrenderable", 0),
            "stop_only": self.stop_only,
            "by_step": ", ".join(f"{k}: {v}" for k, v in sorted(self.by_step.items())) or "-",
            "first": self.examples[0].where() if self.examples else "-",
            "tokenizer": self.tokenizer,
        }


def captured_steps(trajectories: list[Trajectory]) -> int:
    return sum(1 for t in trajectories for s in t.steps if s.token_ids)


def check_drift(trajectories: list[Trajectory], tokenizer, *, system_prompt: str, mode: str = "agent",
                tokenizer_name: str = "") -> DriftReport:
    """Compare every captured step with its rendered, re-tokenized turn."""
    from trajkit.sft.convert import student_messages
    from trajkit.sft.masks import LossTurn, plan, tokenize_plans

    report = DriftReport(tokenizer=tokenizer_name)
    for traj in trajectories:
        if not any(step.token_ids for step in traj.steps):
            continue
        report.trajectories += 1
        try:
            messages = student_messages(traj, system_prompt, mode=mode)
            assistant = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
            rendered_plan = plan(tokenizer, messages, [LossTurn(i) for i in assistant], where=f"trajectory {traj.trajectory_id}")
            chat = tokenize_plans(tokenizer, [rendered_plan])[0]
        except TrajkitError as exc:  # the SFT conversion itself refuses it: every captured step drifts
            for step in (s for s in traj.steps if s.token_ids):
                report.steps += 1
                report.add(StepDrift(traj.trajectory_id, step.index, "unrenderable", 0, "", str(exc)[:80]))
            report.drifted_trajectories += 1
            report.drifting_ids.add(traj.trajectory_id)
            continue
        spans = {span.message_index: span for span in rendered_plan.spans}
        drifted = False
        for message_index, step in zip(assistant, traj.steps, strict=False):
            if not step.token_ids:
                continue
            report.steps += 1
            span = spans[message_index]
            marker = _encode(tokenizer, rendered_plan.text[span.text_end:span.end])
            turn = chat.input_ids[chat.turn_starts[message_index]:chat.turn_ends[message_index]]
            if marker and turn[-len(marker):] == marker:
                turn = turn[: -len(marker)]
            drift = _compare(traj, step, turn, tokenizer, marker)
            if drift is not None and drift.kind == "stop_only":
                report.stop_only += 1
            elif drift is not None:
                report.add(drift)
                drifted = True
        report.drifted_trajectories += drifted
        if drifted:
            report.drifting_ids.add(traj.trajectory_id)
    return report


def _compare(traj: Trajectory, step: Step, rendered: list[int], tokenizer, marker: list[int]) -> StepDrift | None:
    produced_text = tokenizer.decode(step.token_ids, skip_special_tokens=True)
    visible = cut_at_stop(produced_text)
    raw = step.raw_output
    stop = next((s for s in STOP_SEQUENCES if raw.endswith(s)), "")
    core = raw[: len(raw) - len(stop)]  # the stop string the model ended on is kept in raw_output
    if not raw:  # a step that kept no raw text is rendered from thought and code: compare as is
        core = visible = ""
    if visible and not core.endswith(visible):
        return StepDrift(traj.trajectory_id, step.index, "unaligned", 0, visible[:40], core[-40:])
    opening = core[: len(core) - len(visible)] if visible else core
    produced = list(step.token_ids)
    ended = bool(marker) and produced[-len(marker):] == marker
    if ended:  # the model ended its turn itself: that is the rendering's end-of-turn marker
        produced = produced[: -len(marker)]
    expected = (_encode(tokenizer, opening) if opening else []) + produced
    if expected == rendered:
        return None
    position = next((i for i, (a, b) in enumerate(zip(expected, rendered, strict=False)) if a != b),
                    min(len(expected), len(rendered)))
    stopped = not ended and rendered[: len(expected)] == expected  # on a stop string the server left out
    if stopped and tokenizer.decode(rendered[len(expected):]).strip() in STOP_SEQUENCES:
        return StepDrift(traj.trajectory_id, step.index, "stop_only", position, "", tokenizer.decode(rendered[position:]))
    produced_all = tokenizer.decode(expected, skip_special_tokens=True)
    rendered_all = tokenizer.decode(rendered, skip_special_tokens=True)
    if not ended and stop and rendered_all == produced_all + stop:
        kind = "stop_boundary"
    else:
        kind = "retokenized" if produced_all == rendered_all else "rendered_text"
    return StepDrift(
        traj.trajectory_id, step.index, kind, position,
        tokenizer.decode(expected[position:position + 6]), tokenizer.decode(rendered[position:position + 6]),
    )


def _encode(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# ------------------------------------------------------------------------- datasets


def model_spec_of(dataset) -> str | None:
    """The teacher model spec a dataset was built with (its recipe), None for the embedded one."""
    recipe = dataset.recipe() or {}
    teacher = recipe.get("teacher") or {}
    model = teacher.get("model")
    if model is None and teacher.get("backend", "local") == "llamacpp":
        from trajkit.teachers.llamacpp import DEFAULT_MODEL

        return DEFAULT_MODEL
    return model


def dataset_drift(dataset, *, tokenizer=None, tokenizer_name: str | None = None) -> DriftReport | None:
    """The drift report of a dataset, or None when it has no captured tokens."""
    return trajectories_drift(list(dataset.trajectories()), dataset, tokenizer=tokenizer, tokenizer_name=tokenizer_name)


def trajectories_drift(trajectories: list[Trajectory], dataset, *, tokenizer=None,
                       tokenizer_name: str | None = None) -> DriftReport | None:
    """The drift report of some trajectories of `dataset` (its recipe names the tokenizer), or
    None when none of them has captured tokens."""
    from trajkit.exports.source import student_prompt

    if not captured_steps(trajectories):
        return None
    if tokenizer is None:
        spec = tokenizer_name or model_spec_of(dataset)
        from trajkit.teachers.chat_template import load_tokenizer

        # the tokenizer of the model that produced the tokens (a registry name or .gguf: the GGUF's)
        tokenizer = load_tokenizer(spec, where="tokenizer")
        tokenizer_name = spec or "embedded"
    system_prompt, mode = student_prompt(trajectories, where=str(dataset.path))
    return check_drift(trajectories, tokenizer, system_prompt=system_prompt, mode=mode,
                       tokenizer_name=tokenizer_name or "")


# ------------------------------------------------------------------------- gates

GATED_EXPORTS = ("dpo", "verl", "tokens")  # on-policy formats: trained on the tokens as produced
FILTER_FIX = "trajkit filter SRC DST --preset token-exact"


class DriftError(TrajkitError):
    """Captured steps whose training rendering does not reproduce the tokens the model produced."""


def kinds_text(report: DriftReport) -> str:
    """`retokenized 2, rendered_text 1`: drifting steps by kind, most first."""
    return ", ".join(f"{kind} {n}" for kind, n in report.kinds.most_common()) or "none"


def drift_summary(report: DriftReport) -> str:
    return (f"{report.drifted_steps} of {report.steps} captured steps in {report.drifted_trajectories} of "
            f"{report.trajectories} trajectories drift ({kinds_text(report)})")


@dataclass
class TokenExact:
    """What the token-exact filter keeps of some trajectories, and why it drops the others."""

    keep: set[str]
    report: DriftReport
    uncaptured: int  # trajectories without captured tokens: they cannot be checked

    def dropped(self) -> str:
        parts = []
        if self.report.drifted_trajectories:
            parts.append(f"{self.report.drifted_trajectories} drifting (steps by kind: {kinds_text(self.report)})")
        if self.uncaptured:
            parts.append(f"{self.uncaptured} without captured tokens")
        return ", ".join(parts) or "none"

    def params(self) -> dict:
        """What the filter's lineage records."""
        return {"tokenizer": self.report.tokenizer, "dropped_drifting": self.report.drifted_trajectories,
                "dropped_uncaptured": self.uncaptured, "drifting_steps": dict(self.report.kinds),
                "stop_only": self.report.stop_only}


def token_exact(trajectories: list[Trajectory], dataset, *, tokenizer_name: str | None = None) -> TokenExact:
    """The trajectories none of whose captured steps drift (`stop_only` is fine); those without
    captured tokens are dropped, and a selection with none at all is refused (nothing to check)."""
    report = trajectories_drift(trajectories, dataset, tokenizer_name=tokenizer_name)
    if report is None:
        raise DriftError(
            f"no step of the {len(trajectories)} trajectories has captured token ids, so token-exactness cannot be checked",
            where=str(dataset.path),
            fix="build with capture_tokens: true in the recipe (backends local and llamacpp return token ids)",
        )
    captured = {t.trajectory_id for t in trajectories if any(s.token_ids for s in t.steps)}
    return TokenExact(captured - report.drifting_ids, report, len(trajectories) - len(captured))


def export_gate(dataset, *, fmt: str, allow_drift: bool = False, tokenizer_name: str | None = None) -> str | None:
    """The drift check of `trajkit export --format dpo|verl|tokens`: raises DriftError when captured
    steps drift (unless `allow_drift`); returns a one-line warning or note to print, or None."""
    if fmt not in GATED_EXPORTS:
        return None
    report = dataset_drift(dataset, tokenizer_name=tokenizer_name)
    if report is None:
        if fmt == "tokens":
            return None  # the tokens export itself says that there are none
        return ("note: token-exactness not checked: no step has captured token ids "
                "(build with capture_tokens: true to check it)")
    unchecked = len(dataset) - report.trajectories
    tail = f"; {unchecked} trajectories without captured tokens not checked" if unchecked else ""
    if not report.drifted_steps:
        return f"note: token-exact: {report.steps} captured steps checked{tail}" if unchecked else None
    if not allow_drift:
        raise DriftError(
            f"{drift_summary(report)}: a {fmt} export would train on tokens the model did not produce",
            where=str(dataset.path),
            fix=f"pass --allow-drift to export anyway, or keep the exact trajectories first: {FILTER_FIX}",
        )
    return f"warning: exporting drifting steps (--allow-drift): {drift_summary(report)}{tail}"
