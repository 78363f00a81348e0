"""Question shapes of the synthetic tasks: which kind of skill a question tests (its category),
which templates are held out of training, and paraphrases of the seen templates.

A student that learned to use tools answers a question whose wording it never saw; a student
that learned the templates does not. `trajkit tasks synth --heldout-templates default` keeps
`HELDOUT_TEMPLATES` (a quarter or more of each domain's templates) out of train and the
in-template test split; they, and paraphrases of seen templates (`paraphrase`), make the
`test_unseen` split.
"""

from __future__ import annotations

import re
from dataclasses import replace

from trajkit.tasks.synth_questions import Draft

QA_TEMPLATES = frozenset({
    "city_founded", "city_population", "river_length", "person_birthplace", "person_born", "org_founder",
    "org_headquarters", "country_capital", "city_age", "birthplace_founded", "founder_birthplace",
    "headquarters_population", "founding_gap", "population_sum", "founder_age", "founding_gap_birthplace",
    "founder_birthplace_population", "founder_birthplace_founded",
})
MATH_TEMPLATES = frozenset({
    "multiply", "mixed_ops", "range_sum", "power", "days_between", "weekday", "date_offset", "binomial",
    "factorial", "anagrams", "linear_equation", "quadratic_root", "modular_power", "nth_prime",
    "small_multiply", "small_sum", "small_crates", "small_share", "small_percent",
})
TEMPLATES = QA_TEMPLATES | MATH_TEMPLATES
CATEGORIES = ("single_lookup", "multi_hop", "small_arithmetic", "exact_computation")

# 5 of the 18 knowledge templates and 5 of the 19 math templates, at least one per category
HELDOUT_TEMPLATES: tuple[str, ...] = (
    "river_length", "org_headquarters",                                # single lookup
    "founder_age", "population_sum", "founder_birthplace_founded",     # multi-hop
    "small_percent",                                                   # small arithmetic
    "anagrams", "quadratic_root", "date_offset", "modular_power",      # exact computation
)


def parse_heldout(text: str) -> tuple[str, ...]:
    """`--heldout-templates`: a comma list of template names, 'default' (`HELDOUT_TEMPLATES`)
    or empty (none)."""
    from trajkit.errors import ConfigError

    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if names == ("default",):
        return HELDOUT_TEMPLATES
    unknown = [name for name in names if name not in TEMPLATES]
    if unknown:
        raise ConfigError(f"unknown template {unknown[0]!r}", where="--heldout-templates",
                          fix=f"use 'default' or names among: {', '.join(sorted(TEMPLATES))}")
    return names


def category(draft: Draft) -> str:
    """The skill a question tests: one of `CATEGORIES`."""
    if draft.kind in ("lookup", "lookup+compute"):
        return "single_lookup"
    if draft.kind == "multihop":
        return "multi_hop"
    if draft.kind == "small_arithmetic":
        return "small_arithmetic"
    return "exact_computation"


# template -> (pattern of the seen wording, the paraphrase); groups carry the names and numbers
_N = r"([^?]+?)"
_PARAPHRASES: dict[str, tuple[str, str]] = {
    "city_founded": (rf"^In what year was the city of {_N} founded\?$", r"Which year saw the founding of the city \1?"),
    "city_population": (rf"^What is the population of {_N}\?$", r"How many people live in \1?"),
    "person_birthplace": (rf"^In which city was {_N} born\?$", r"What is the birthplace (a city) of \1?"),
    "person_born": (rf"^In what year was {_N} born\?$", r"What is the birth year of \1?"),
    "org_founder": (rf"^Who founded the {_N}\?$", r"Name the person who established the \1."),
    "country_capital": (rf"^What is the capital of {_N}\?$", r"Which city serves as the capital of \1?"),
    "birthplace_founded": (rf"^In what year was the city where {_N} was born founded\?$",
                           r"\1 was born in a city. In which year was that city founded?"),
    "founder_birthplace": (rf"^In which city was the founder of the {_N} born\?$",
                           r"The \1 has a founder. Which city was that person born in?"),
    "founding_gap": (rf"^How many years passed between the founding of {_N} and the founding of {_N}\?$",
                     r"How many years apart were \1 and \2 founded?"),
    "multiply": (rf"^What is {_N} × {_N}\?$", r"Compute the product of \1 and \2."),
    "small_multiply": (rf"^What is {_N} × {_N}\?$", r"Multiply \1 by \2. What do you get?"),
    "range_sum": (rf"^What is the sum of all integers from {_N} to {_N}, inclusive\?$",
                  r"Add up every whole number between \1 and \2, both included. What is the total?"),
    "days_between": (rf"^How many days are there from {_N} to {_N}\?$", r"Count the days that pass between \1 and \2."),
    "binomial": (rf"^In how many ways can a committee of {_N} be chosen from {_N} people\?$",
                 r"How many different \1-person groups can be formed out of \2 people?"),
    "factorial": (rf"^In how many different orders can {_N} distinct books be arranged on a shelf\?$",
                  r"\1 different books go on a shelf in a row. How many orderings are possible?"),
    "small_share": (rf"^If {_N} sweets are shared equally among {_N} children, how many sweets does each child get\?$",
                    r"\2 children split \1 sweets evenly. How many sweets does one child receive?"),
}


def paraphrase(draft: Draft) -> Draft | None:
    """The draft with a wording no training question has (template `NAME~paraphrase`), or None
    where the template has no paraphrase."""
    rule = _PARAPHRASES.get(draft.template)
    if rule is None:
        return None
    pattern, replacement = rule
    question, count = re.subn(pattern, replacement, draft.question)
    if count != 1:
        return None
    return replace(draft, question=question, template=f"{draft.template}~paraphrase")
