"""The LLM judge: versioned prompt, verdict parsing, on-disk cache, any teacher backend."""

from __future__ import annotations

import asyncio
import json

import pytest

from trajkit.errors import ConfigError
from trajkit.grading import llm_judge as judge_module
from trajkit.grading.graders import agrade, grade
from trajkit.grading.llm_judge import (
    PROMPT_HASH,
    PROMPT_ID,
    JudgeCache,
    LLMJudge,
    judge_from_backend,
    judge_messages,
    parse_verdict,
)
from trajkit.schema import Task


class RuleJudge:
    """A deterministic local model: correct when the candidate contains the gold's last word."""

    def __init__(self):
        self.seen: list[list[dict]] = []

    def __call__(self, messages):
        self.seen.append(messages)
        user = messages[-1]["content"]
        gold = user.split("Gold answer: ")[1].split("\n")[0]
        candidate = user.split("Candidate answer: ")[1].split("\n")[0]
        verdict = "correct" if gold.split()[-1].lower() in candidate.lower() else "incorrect"
        return json.dumps({"rationale": f"compared {candidate!r} with {gold!r}", "verdict": verdict})


def task(gold="President Richard Nixon", aliases=()):
    return Task(task_id="q/1", source="t", question="Who resigned in 1974?", gold_answer=gold, gold_aliases=list(aliases))


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"rationale": "same person", "verdict": "correct"}', True),
        ('Sure! {"rationale": "different city", "verdict": "Incorrect"}', False),
        ('```json\n{"verdict": "correct", "rationale": "ok"}\n```', True),
        ("Rationale: a different year.\nVerdict: incorrect", False),
        ("Verdict - CORRECT", True),
        ("The candidate is not correct.", False),
        ("The answer is correct.", True),
        ("It could be correct or incorrect.", None),
        ("I cannot tell.", None),
        ("", None),
    ],
)
def test_parse_verdict(reply, expected):
    assert parse_verdict(reply)[0] is expected


def test_prompt_is_versioned_and_holds_the_inputs():
    messages = judge_messages("Who?", "Ann Lee", "ann", ["A. Lee"])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "Gold answer: Ann Lee" in messages[1]["content"] and "A. Lee" in messages[1]["content"]
    assert PROMPT_ID == "qa-judge-v1" and len(PROMPT_HASH) == 16


def test_verdicts_are_cached_on_disk_and_never_paid_twice(tmp_path):
    model = RuleJudge()
    judge = LLMJudge(model, "rule-v1", cache=tmp_path / "judge.sqlite")
    first = grade(task(), "Richard Nixon", "llm_judge:rule-v1", judge=judge)
    assert first.correct is True and first.score == 1.0
    detail = first.detail
    assert detail["prompt_id"] == PROMPT_ID and detail["prompt_hash"] == PROMPT_HASH
    assert detail["rationale"].startswith("compared") and detail["cached"] is False
    again = grade(task(), "Richard Nixon", "llm_judge:rule-v1", judge=judge)
    assert again.correct is True and again.detail["cached"] is True and len(model.seen) == 1
    # a new process (a new judge over the same cache file) does not pay either
    fresh_model = RuleJudge()
    reopened = LLMJudge(fresh_model, "rule-v1", cache=tmp_path / "judge.sqlite")
    assert reopened.judge("Who resigned in 1974?", "President Richard Nixon", "Richard Nixon").cached
    assert fresh_model.seen == [] and reopened.calls == 0
    # a different answer, a different model name or a different prompt is a new question
    assert grade(task(), "Gerald Ford", "llm_judge:rule-v1", judge=judge).correct is False
    other = LLMJudge(model, "rule-v2", cache=tmp_path / "judge.sqlite")
    other.judge("Who resigned in 1974?", "President Richard Nixon", "Richard Nixon")
    assert len(model.seen) == 3
    assert len(JudgeCache(tmp_path / "judge.sqlite")) == 3


def test_prompt_change_changes_the_cache_key(tmp_path, monkeypatch):
    judge = LLMJudge(RuleJudge(), "rule", cache=tmp_path / "c.sqlite")
    key = judge.cache_key("q", "g", "a", [])
    monkeypatch.setattr(judge_module, "PROMPT_HASH", "0" * 16)
    assert judge.cache_key("q", "g", "a", []) != key


def test_unparseable_reply_gives_no_verdict(tmp_path):
    judge = LLMJudge(lambda messages: "hmm, hard to say", "vague", cache=tmp_path / "c.sqlite")
    result = grade(task(), "Nixon", "llm_judge:vague", judge=judge)
    assert result.correct is None and result.score is None
    assert result.detail["raw"] == "hmm, hard to say"


def test_async_chat_functions_and_agrade(tmp_path):
    calls = []

    async def chat(messages):
        await asyncio.sleep(0)
        calls.append(messages)
        return '{"rationale": "r", "verdict": "incorrect"}'

    judge = LLMJudge(chat, "async-model", cache=tmp_path / "c.sqlite")

    async def main():
        return await asyncio.gather(*(agrade(task(), f"Nixon {i}", "llm_judge:async-model", judge=judge) for i in range(3)))

    results = asyncio.run(main())
    assert [r.correct for r in results] == [False, False, False] and len(calls) == 3
    # the synchronous path works too, also when called from inside a running loop
    async def inside():
        return judge.judge("q?", "gold", "other answer")

    assert asyncio.run(inside()).correct is False


def test_judge_must_match_the_grader_model(tmp_path):
    judge = LLMJudge(RuleJudge(), "rule-v1", cache=tmp_path / "c.sqlite")
    with pytest.raises(ConfigError, match="not 'gpt-4o-mini'"):
        grade(task(), "Nixon", "llm_judge:gpt-4o-mini", judge=judge)
    with pytest.raises(ConfigError, match="needs a judge"):
        grade(task(), "Nixon", "llm_judge:gpt-4o-mini")


def test_judge_through_a_real_openai_compatible_server(tmp_path):
    from trajkit.teachers import make_backend
    from trajkit.teachers.scripted_server import ScriptedServer

    reply = '{"rationale": "Nixon is the same person.", "verdict": "correct"}'
    with ScriptedServer([reply], model="judge-model") as server:
        backend = make_backend({"backend": "openai", "base_url": server.base_url, "model": "judge-model"})
        judge = judge_from_backend(backend, cache=tmp_path / "c.sqlite")
        try:
            first = grade(task(), "Nixon", "llm_judge:judge-model", judge=judge)
            second = grade(task(), "Nixon", "llm_judge:judge-model", judge=judge)
        finally:
            judge.close()
        chats = [r for r in server.requests if r["path"].endswith("/chat/completions")]
    assert first.correct is True and first.detail["rationale"] == "Nixon is the same person."
    assert second.detail["cached"] is True
    assert len(chats) == 1
    body = chats[0]["body"]
    assert body["model"] == "judge-model" and body["temperature"] == 0.0
    assert body["messages"][0]["content"].startswith("You grade answers")
