"""Few-shot examples for the teacher prompt (fictional facts, so they leak no task answer)."""

from __future__ import annotations

TEACHER_EXAMPLES = [
    {
        "question": "In what year was the city of Orvane founded?",
        "steps": [
            {
                "thought": "I will search for Orvane.",
                "code": 'print(search("Orvane"))',
                "observation": "Orvane is a city in Kelmar. It was founded in 1412.",
            },
            {"thought": "Orvane was founded in 1412.", "code": "final_answer(1412)", "observation": None},
        ],
    },
    {
        "question": "What is 48731 × 2093 − 1200?",
        "steps": [
            {"thought": "I compute it with Python.", "code": "final_answer(48731 * 2093 - 1200)", "observation": None},
        ],
    },
]
