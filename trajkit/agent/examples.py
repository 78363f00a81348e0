"""Few-shot examples for the teacher prompt (fictional facts, so they leak no task answer)."""

from __future__ import annotations

TEACHER_EXAMPLES = [
    {
        "question": "How many years passed between the founding of Orvane and the founding of Talsk?",
        "steps": [
            {
                "thought": "I need the founding years of both cities. I will search for each.",
                "code": 'print(search("Orvane founded"))\nprint(search("Talsk founded"))',
                "observation": "Orvane: Orvane is a city founded in 1412 ...\nTalsk: Talsk is a town founded in 1587 ...",
            },
            {
                "thought": "Orvane was founded in 1412 and Talsk in 1587. I compute the difference.",
                "code": "final_answer(1587 - 1412)",
                "observation": None,
            },
        ],
    },
    {
        "question": "What is 48731 multiplied by 2093, minus 1200?",
        "steps": [
            {
                "thought": "This is arithmetic; I compute it with Python.",
                "code": "result = 48731 * 2093 - 1200\nfinal_answer(result)",
                "observation": None,
            },
        ],
    },
]
