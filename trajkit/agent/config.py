"""What one agent run is told: the recipe's `agent:` block, and the settings a plan adds to it.

`AgentConfig` is the `agent:` block of build and eval recipes, validated as is; the agent loop
reads it directly (no copy). `AgentSettings` joins it with what a plan resolves around it: the
rendered system prompt, the sampling, the first-thought prompt and token capture.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from trajkit.schema import Model, Sampling


class AgentConfig(Model):
    """The `agent:` block of a recipe."""

    max_steps: int = Field(5, ge=1, le=50)
    first_thought_prefix: bool = False
    candidates: int = Field(1, ge=1, le=64, description="self-consistent action generation when > 1")
    candidate_temperature: float = 0.4
    candidate_top_p: float = 0.8
    force_format: bool = Field(False, description="constrained decoding of Thought/Code for weak models")
    force_final_answer: bool = Field(False, description="the last step starts with final_answer( (max-steps fallback)")

    def candidate_sampling(self, sampling: Sampling) -> Sampling:
        """`sampling` with the candidates' temperature and top_p (self-consistent actions)."""
        return sampling.model_copy(update={"temperature": self.candidate_temperature, "top_p": self.candidate_top_p})


@dataclass(frozen=True)
class AgentSettings:
    """Everything the agent loop reads: the recipe's agent block and what the plan resolved."""

    agent: AgentConfig
    system_prompt: str
    sampling: Sampling
    cot_prompt: str | None = None  # system prompt of the first-thought pass (first_thought_prefix)
    capture_tokens: bool = False  # store each step's completion token ids and logprobs
