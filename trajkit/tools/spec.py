"""The names and JSON schemas of the agent's tools, in one place, beside the tools.

The agent writes Python; its code runs in the `python_interpreter` tool, and from that code it
calls two functions: `search(query)` (top passages of the corpus, as text) and
`final_answer(x)` (ends the task). The sandbox registers them under these names
(`trajkit.tools.toolbox`, `trajkit.tools.registry`); the teacher and student prompts
(`trajkit/prompts/`) name them so, a recorded step's tool calls carry them
(`trajkit.schema.ToolCall.name`), and the renderings for other trainers describe them with the
schemas below (the tools know no agent: the agent renders them):

- `PYTHON_TOOL`: the one tool of the OpenAI tool-calling rendering (`trajkit.agent.tool_calls`),
  whose argument is the step's code;
- `CODE_FUNCTIONS`: the functions the code may call, for message exports whose trainers
  want a `tools` list (the CodeAct system prompt already describes them to the model).
"""

from __future__ import annotations

PYTHON_INTERPRETER = "python_interpreter"
SEARCH = "search"
FINAL_ANSWER = "final_answer"

PYTHON_TOOL = {
    "type": "function",
    "function": {
        "name": PYTHON_INTERPRETER,
        "description": (
            f"Runs Python code with state kept across calls. `{SEARCH}(query)` returns Wikipedia "
            f"passages; `{FINAL_ANSWER}(x)` returns the answer."
        ),
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "Python code to run"}},
            "required": ["code"],
        },
    },
}
SEARCH_FUNCTION = {
    "type": "function",
    "function": {
        "name": SEARCH,
        "description": "Return the top Wikipedia passages for a query, as text.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    },
}
FINAL_ANSWER_FUNCTION = {
    "type": "function",
    "function": {
        "name": FINAL_ANSWER,
        "description": "Give the final answer and end the task.",
        "parameters": {"type": "object", "properties": {"answer": {}}, "required": ["answer"]},
    },
}
CODE_FUNCTIONS = [SEARCH_FUNCTION, FINAL_ANSWER_FUNCTION]
