"""Named, documented filter presets: SQL predicates over the `trajectories` view.

`trajkit filter SRC DST --preset paper` keeps what the paper kept: correct trajectories
without parse errors that finished within the step limit.

One preset is not SQL: `token-exact` re-tokenizes every captured step (`trajkit.drift`) and keeps
the trajectories none of whose steps drift; only `trajkit filter` computes it
(`trajkit.filters.filter_with_presets`), so a training recipe filters on its output instead.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    where: str | None  # None: computed by `trajkit filter` (needs the tokenizer), not SQL


TOKEN_EXACT = "token-exact"


_NO_STEP_ERROR = (
    "trajectory_id NOT IN (SELECT trajectory_id FROM steps WHERE error_type = '{kind}')"
)

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "paper",
            "the paper's rule: answered correctly, no parse errors, finished within max steps",
            "correct AND status = 'answered' AND " + _NO_STEP_ERROR.format(kind="parse_error"),
        ),
        Preset("correct", "graded correct", "correct"),
        Preset("answered", "called final_answer (did not run out of steps or fail)", "status = 'answered'"),
        Preset("no-parse-errors", "no step with a parse error", _NO_STEP_ERROR.format(kind="parse_error")),
        Preset(
            "no-exec-errors",
            "no step whose code raised",
            _NO_STEP_ERROR.format(kind="execution_error"),
        ),
        Preset(
            "no-errors",
            "no step error of any kind",
            "trajectory_id NOT IN (SELECT trajectory_id FROM steps WHERE error_type IS NOT NULL)",
        ),
        Preset("max-3-steps", "at most 3 steps", "n_steps <= 3"),
        Preset("max-2k-tokens", "at most 2,000 tokens in total", "total_tokens <= 2000"),
        Preset("accepted", "reviewed and accepted in Argilla", "review_status = 'submitted' AND review_label = 'accept'"),
        Preset("not-rejected", "not rejected by a reviewer", "review_label IS DISTINCT FROM 'reject'"),
        Preset(
            TOKEN_EXACT,
            "every captured step's training rendering re-tokenizes to the tokens the model produced "
            "(stop string only is fine); trajectories without captured tokens are dropped",
            None,
        ),
    ]
}
