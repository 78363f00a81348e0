"""Few-shot examples for the teacher prompt (fictional facts, so they leak no task answer).

They show the three moves the tasks need: one search and an answer computed from the fact; a
chain of searches where the first passage names the entity to look up next; and arithmetic done
in Python. Changing them changes what the teacher writes: bump the version line of
prompts/teacher.j2 so the prompt hash in provenance changes too.
"""

from __future__ import annotations

TEACHER_EXAMPLES = [
    {
        "question": "How many years before the year 2000 was the city of Orvane founded?",
        "steps": [
            {
                "thought": "I need the founding year of Orvane.",
                "code": 'print(search("Orvane"))',
                "observation": "Orvane is a city in Kelmar. It was founded in 1412.",
            },
            {
                "thought": "Orvane was founded in 1412, so I subtract it from 2000.",
                "code": "final_answer(2000 - 1412)",
                "observation": None,
            },
        ],
    },
    {
        "question": "What is the population of the city where the Brenmor Institute has its headquarters?",
        "steps": [
            {
                "thought": "First I find the city where the Brenmor Institute has its headquarters.",
                "code": 'print(search("Brenmor Institute"))',
                "observation": "The Brenmor Institute is a research institute founded in 1873. "
                "Its headquarters are in the city of Tessaly.",
            },
            {
                "thought": "The headquarters are in Tessaly. Now I need the population of Tessaly.",
                "code": 'print(search("Tessaly"))',
                "observation": "Tessaly is a city in Kelmar. It was founded in 1120. At the most "
                "recent census it had a population of 845,301.",
            },
            {"thought": "Tessaly has 845,301 inhabitants.", "code": "final_answer(845301)", "observation": None},
        ],
    },
    {
        "question": "What is 48731 × 2093 − 1200?",
        "steps": [
            {"thought": "I compute it with Python.", "code": "final_answer(48731 * 2093 - 1200)", "observation": None},
        ],
    },
]
