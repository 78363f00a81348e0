"""One chat template everywhere: for each embedded model, the prompt llama.cpp's server builds
for a turn, the prompt transformers builds, and the tokens a training example puts before that
turn agree token for token (so what `trajkit train` trains on is what `trajkit eval` shows the
model on llama.cpp and on transformers). Checked against the real server."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import make_trajectory
from trajkit.agent.format import conversation
from trajkit.agent.prompts import load_prompt
from trajkit.sft.convert import to_example
from trajkit.teachers.chat_template import load_tokenizer
from trajkit.teachers.llama_server import LlamaServer

pytestmark = [pytest.mark.model, pytest.mark.server]

MODELS = ["embedded", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]


def _gguf(spec: str):
    if spec == "embedded":
        from trajkit.models.embedded_llm import gguf_path

        return gguf_path()
    from trajkit.models.specs import resolve_gguf

    return resolve_gguf(spec)


def _trajectory():
    traj = make_trajectory(4, n_steps=3)
    # text that tokenizers split in interesting ways: unicode, spaces, a long observation
    traj.task.question = "Wie alt wäre Ada Lovelace heute?  (answer in years)"
    traj.steps[0].observation = "Ada Lovelace — born 10 December 1815 in London.\n" * 3
    traj.steps[0].raw_output = "Thought:  I will search.\nCode:\n```py\nr = search('Ada Lovelace')\nprint(r)\n```<end_code>"
    return traj


@pytest.mark.parametrize("spec", MODELS)
def test_server_transformers_and_training_agree_token_for_token(spec):
    tokenizer = load_tokenizer(spec, where="test")
    system = load_prompt("student").text
    traj = _trajectory()
    example = to_example(traj, tokenizer, system)
    assistant = [i for i, m in enumerate(example.messages) if m["role"] == "assistant"]
    with LlamaServer(_gguf(spec), context=4096, parallel=1, alias="m") as server:
        base = server.base_url.removesuffix("/v1")
        with httpx.Client(timeout=120) as http:
            for step_index, message_index in enumerate(assistant):
                messages = conversation(system, traj.task.question, traj.steps[:step_index])
                server_prompt = http.post(f"{base}/apply-template", json={"messages": messages}).json()["prompt"]
                hf_prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
                assert server_prompt == hf_prompt, f"{spec}: step {step_index}: the templates differ"
                server_ids = http.post(
                    f"{base}/tokenize", json={"content": server_prompt, "add_special": True, "parse_special": True}
                ).json()["tokens"]
                hf_ids = tokenizer(hf_prompt, add_special_tokens=True)["input_ids"]
                assert server_ids == hf_ids, f"{spec}: step {step_index}: the tokenizers differ"
                trained_on = example.input_ids[: example.turn_starts[message_index]]
                assert trained_on == server_ids, f"{spec}: step {step_index}: training saw another prompt"
                # and the server's own chat endpoint evaluates exactly that many prompt tokens
                usage = http.post(
                    f"{server.base_url}/chat/completions",
                    json={"model": "m", "messages": messages, "max_tokens": 1, "temperature": 0},
                ).json()["usage"]
                assert usage["prompt_tokens"] == len(server_ids)
