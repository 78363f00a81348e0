"""The synthetic question templates: knowledge questions over a `World` (one to three hops,
some with a computation on top), computation questions whose answers need code (large
arithmetic, dates, combinatorics, algebra, number theory) and small arithmetic that careful
prose can do without code.

Each template returns a `Draft`: the question, its exactly computed answer, the passages it
needs and a solution in Python; `trajkit.tasks.synth` turns drafts into tasks.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

from trajkit.tasks.synth_world import Names, World

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@dataclass
class Draft:
    """A question before it becomes a Task."""

    question: str
    answer: str
    kind: str
    template: str
    hops: int
    tool_steps: int
    domain: str = "qa"
    grader: str | None = None
    aliases: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    support: list[str] = field(default_factory=list)  # entity names whose passages are needed
    solution: str = ""


def _pick(rng: random.Random, items: dict):
    return items[rng.choice(list(items))]


def knowledge_one_hop(rng: random.Random, w: World) -> Draft:
    choice = rng.randrange(9)
    if choice == 0:
        c = _pick(rng, w.cities)
        return Draft(f"In what year was the city of {c.name} founded?", str(c.founded), "lookup",
                     "city_founded", 1, 1, entities=[c.name], support=[c.name], solution=str(c.founded))
    if choice == 1:
        c = _pick(rng, w.cities)
        return Draft(f"What is the population of {c.name}?", str(c.population), "lookup",
                     "city_population", 1, 1, aliases=[f"{c.population:,}"], entities=[c.name],
                     support=[c.name], solution=str(c.population))
    if choice == 2:
        r = _pick(rng, w.rivers)
        return Draft(f"How long is the {r.name}, in kilometres?", str(r.length_km), "lookup",
                     "river_length", 1, 1, entities=[r.name], support=[r.name], solution=str(r.length_km))
    if choice == 3:
        p = _pick(rng, w.people)
        return Draft(f"In which city was {p.name} born?", p.birthplace, "lookup", "person_birthplace",
                     1, 1, entities=[p.name], support=[p.name], solution=repr(p.birthplace))
    if choice == 4:
        p = _pick(rng, w.people)
        return Draft(f"In what year was {p.name} born?", str(p.born), "lookup", "person_born",
                     1, 1, entities=[p.name], support=[p.name], solution=str(p.born))
    if choice == 5:
        o = _pick(rng, w.orgs)
        return Draft(f"Who founded the {o.name}?", o.founder, "lookup", "org_founder", 1, 1,
                     entities=[o.name], support=[o.name], solution=repr(o.founder))
    if choice == 6:
        o = _pick(rng, w.orgs)
        return Draft(f"In which city are the headquarters of the {o.name}?", o.headquarters,
                     "lookup", "org_headquarters", 1, 1, entities=[o.name], support=[o.name],
                     solution=repr(o.headquarters))
    if choice == 7:
        k = _pick(rng, w.countries)
        return Draft(f"What is the capital of {k.name}?", k.capital, "lookup", "country_capital",
                     1, 1, entities=[k.name], support=[k.name], solution=repr(k.capital))
    c = _pick(rng, w.cities)
    return Draft(f"How many years before the year 2000 was {c.name} founded?", str(2000 - c.founded),
                 "lookup+compute", "city_age", 1, 2, entities=[c.name], support=[c.name],
                 solution=f"2000 - {c.founded}")


def knowledge_two_hop(rng: random.Random, w: World) -> Draft:
    choice = rng.randrange(6)
    if choice == 0:
        p = _pick(rng, w.people)
        c = w.cities[p.birthplace]
        return Draft(f"In what year was the city where {p.name} was born founded?", str(c.founded),
                     "multihop", "birthplace_founded", 2, 2, entities=[p.name],
                     support=[p.name, c.name], solution=str(c.founded))
    if choice == 1:
        o = _pick(rng, w.orgs)
        p = w.people[o.founder]
        return Draft(f"In which city was the founder of the {o.name} born?", p.birthplace,
                     "multihop", "founder_birthplace", 2, 2, entities=[o.name],
                     support=[o.name, p.name], solution=repr(p.birthplace))
    if choice == 2:
        o = _pick(rng, w.orgs)
        c = w.cities[o.headquarters]
        return Draft(f"What is the population of the city where the {o.name} has its headquarters?",
                     str(c.population), "multihop", "headquarters_population", 2, 2,
                     aliases=[f"{c.population:,}"], entities=[o.name], support=[o.name, c.name],
                     solution=str(c.population))
    if choice == 3:
        a, b = (w.cities[n] for n in rng.sample(list(w.cities), 2))
        return Draft(f"How many years passed between the founding of {a.name} and the founding of {b.name}?",
                     str(abs(a.founded - b.founded)), "multihop", "founding_gap", 2, 3,
                     entities=[a.name, b.name], support=[a.name, b.name],
                     solution=f"abs({a.founded} - {b.founded})")
    if choice == 4:
        a, b = (w.cities[n] for n in rng.sample(list(w.cities), 2))
        return Draft(f"What is the combined population of {a.name} and {b.name}?",
                     str(a.population + b.population), "multihop", "population_sum", 2, 3,
                     entities=[a.name, b.name], support=[a.name, b.name],
                     solution=f"{a.population} + {b.population}")
    o = _pick(rng, w.orgs)
    p = w.people[o.founder]
    return Draft(f"How old was the founder of the {o.name} in the year it was founded?",
                 str(o.founded - p.born), "multihop", "founder_age", 2, 3, entities=[o.name],
                 support=[o.name, p.name], solution=f"{o.founded} - {p.born}")


def knowledge_three_hop(rng: random.Random, w: World) -> Draft:
    choice = rng.randrange(3)
    if choice == 0:
        x = _pick(rng, w.cities)
        p = _pick(rng, w.people)
        c = w.cities[p.birthplace]
        if c.name == x.name:
            return knowledge_two_hop(rng, w)
        return Draft(f"How many years passed between the founding of {x.name} and of the city where {p.name} was born?",
                     str(abs(x.founded - c.founded)), "multihop", "founding_gap_birthplace", 3, 4,
                     entities=[x.name, p.name], support=[x.name, p.name, c.name],
                     solution=f"abs({x.founded} - {c.founded})")
    o = _pick(rng, w.orgs)
    p = w.people[o.founder]
    c = w.cities[p.birthplace]
    if choice == 1:
        return Draft(f"What is the population of the city where the founder of the {o.name} was born?",
                     str(c.population), "multihop", "founder_birthplace_population", 3, 3,
                     aliases=[f"{c.population:,}"], entities=[o.name],
                     support=[o.name, p.name, c.name], solution=str(c.population))
    return Draft(f"In what year was the city where the founder of the {o.name} was born founded?",
                 str(c.founded), "multihop", "founder_birthplace_founded", 3, 3, entities=[o.name],
                 support=[o.name, p.name, c.name], solution=str(c.founded))


# ---------------------------------------------------------------- computation questions


def _number(rng: random.Random, digits: int) -> int:
    return rng.randint(10 ** (digits - 1), 10**digits - 1)


def _date(rng: random.Random, start: int = 1900, end: int = 2099) -> dt.date:
    first, last = dt.date(start, 1, 1).toordinal(), dt.date(end, 12, 31).toordinal()
    return dt.date.fromordinal(rng.randint(first, last))


def _spoken(date: dt.date) -> str:
    return f"{date.strftime('%B')} {date.day}, {date.year}"


def computation(rng: random.Random, digits: int, names: Names) -> Draft:
    choice = rng.randrange(14)
    d = digits
    if choice == 0:
        a, b = _number(rng, d), _number(rng, d)
        return Draft(f"What is {a} × {b}?", str(a * b), "arithmetic", "multiply", 0, 1,
                     domain="math", solution=f"{a} * {b}")
    if choice == 1:
        a, b, c = _number(rng, d + 2), _number(rng, d + 1), _number(rng, d)
        return Draft(f"What is {a} + {b} − {c} × 7?", str(a + b - c * 7), "arithmetic",
                     "mixed_ops", 0, 1, domain="math", solution=f"{a} + {b} - {c} * 7")
    if choice == 2:
        lo = _number(rng, max(2, d - 2))
        hi = lo + _number(rng, d)
        return Draft(f"What is the sum of all integers from {lo} to {hi}, inclusive?",
                     str((lo + hi) * (hi - lo + 1) // 2), "arithmetic", "range_sum", 0, 1,
                     domain="math", solution=f"sum(range({lo}, {hi} + 1))")
    if choice == 3:
        base, exp = rng.randint(13, 97), rng.randint(6, 6 + d)
        return Draft(f"What is {base} raised to the power {exp}?", str(base**exp), "arithmetic",
                     "power", 0, 1, domain="math", solution=f"{base} ** {exp}")
    if choice == 4:
        a, b = sorted(rng.sample([_date(rng) for _ in range(2)], 2))
        return Draft(f"How many days are there from {_spoken(a)} to {_spoken(b)}?", str((b - a).days),
                     "dates", "days_between", 0, 1, domain="math",
                     solution=f"(date({b.year}, {b.month}, {b.day}) - date({a.year}, {a.month}, {a.day})).days")
    if choice == 5:
        day = _date(rng, 1800, 2199)
        return Draft(f"On what day of the week did {_spoken(day)} fall?", WEEKDAYS[day.weekday()],
                     "dates", "weekday", 0, 1, domain="math", grader="exact_match",
                     solution=f"date({day.year}, {day.month}, {day.day}).strftime('%A')")
    if choice == 6:
        start, days = _date(rng, 1950, 2060), rng.randint(100, 20_000)
        end = start + dt.timedelta(days=days)
        return Draft(f"What date is {days} days after {_spoken(start)}? Answer in the form YYYY-MM-DD.",
                     end.isoformat(), "dates", "date_offset", 0, 1, domain="math",
                     grader="exact_match", aliases=[_spoken(end)],
                     solution=f"(date({start.year}, {start.month}, {start.day}) + timedelta(days={days})).isoformat()")
    if choice == 7:
        n = rng.randint(20, 40 + 4 * d)
        k = rng.randint(3, n // 2)
        return Draft(f"In how many ways can a committee of {k} be chosen from {n} people?",
                     str(math.comb(n, k)), "combinatorics", "binomial", 0, 1, domain="math",
                     solution=f"math.comb({n}, {k})")
    if choice == 8:
        n = rng.randint(11, 14 + d)
        return Draft(f"In how many different orders can {n} distinct books be arranged on a shelf?",
                     str(math.factorial(n)), "combinatorics", "factorial", 0, 1, domain="math",
                     solution=f"math.factorial({n})")
    if choice == 9:
        word = names.fresh(lambda: names.word(3)).upper()
        counts = [word.count(ch) for ch in dict.fromkeys(word)]
        ways = math.factorial(len(word))
        for count in counts:
            ways //= math.factorial(count)
        return Draft(f"How many distinct arrangements are there of the letters of the word {word}?",
                     str(ways), "combinatorics", "anagrams", 0, 1, domain="math",
                     solution=f"math.factorial({len(word)}) // math.prod(math.factorial({word!r}.count(c)) for c in set({word!r}))")
    if choice == 10:
        x = rng.randint(-999, 9999)
        a = rng.randint(13, 999)
        b = _number(rng, d)
        c = a * x + b
        return Draft(f"Solve for x: {a}x + {b} = {c}.", str(x), "algebra", "linear_equation", 0, 1,
                     domain="math", solution=f"({c} - {b}) // {a}")
    if choice == 11:
        r1, r2 = sorted(rng.sample(range(-300, 900), 2))
        s, p = r1 + r2, r1 * r2
        b_term = f"- {s}x" if s >= 0 else f"+ {-s}x"
        c_term = f"+ {p}" if p >= 0 else f"- {-p}"
        return Draft(f"What is the larger root of x^2 {b_term} {c_term} = 0?", str(r2), "algebra",
                     "quadratic_root", 0, 1, domain="math",
                     solution=f"max(({s} + math.isqrt({s * s - 4 * p})) // 2, ({s} - math.isqrt({s * s - 4 * p})) // 2)")
    if choice == 12:
        base, exp, mod = rng.randint(3, 999), _number(rng, d), rng.randint(1000, 99_999)
        return Draft(f"What is the remainder when {base}^{exp} is divided by {mod}?",
                     str(pow(base, exp, mod)), "number_theory", "modular_power", 0, 1,
                     domain="math", solution=f"pow({base}, {exp}, {mod})")
    k = rng.randint(100, 400 * d)
    return Draft(f"What is the {_ordinal(k)} prime number?", str(_nth_prime(k)), "number_theory",
                 "nth_prime", 0, 1, domain="math", solution=f"sympy.prime({k})")


def small_arithmetic(rng: random.Random) -> Draft:
    """Arithmetic on two- and three-digit numbers: a careful chain of thought can do it."""
    choice = rng.randrange(5)
    if choice == 0:
        a, b = rng.randint(12, 98), rng.randint(12, 98)
        return Draft(f"What is {a} × {b}?", str(a * b), "small_arithmetic", "small_multiply", 0, 1,
                     domain="math", solution=f"{a} * {b}")
    if choice == 1:
        a, b, c = rng.randint(300, 999), rng.randint(100, 299), rng.randint(11, 99)
        return Draft(f"What is {a} − {b} + {c}?", str(a - b + c), "small_arithmetic", "small_sum", 0, 1,
                     domain="math", solution=f"{a} - {b} + {c}")
    if choice == 2:
        per, crates, loose = rng.randint(6, 36), rng.randint(3, 19), rng.randint(1, 9)
        return Draft(f"A crate holds {per} apples. How many apples are there in {crates} full crates "
                     f"and {loose} loose apples?", str(per * crates + loose), "small_arithmetic",
                     "small_crates", 0, 1, domain="math", solution=f"{per} * {crates} + {loose}")
    if choice == 3:
        each, children = rng.randint(3, 25), rng.randint(3, 15)
        return Draft(f"If {each * children} sweets are shared equally among {children} children, how many "
                     f"sweets does each child get?", str(each), "small_arithmetic", "small_share", 0, 1,
                     domain="math", solution=f"{each * children} // {children}")
    percent = rng.choice([5, 10, 15, 20, 25, 30, 40, 50, 75])
    base = 20 * rng.randint(2, 40)
    return Draft(f"What is {percent}% of {base}?", str(percent * base // 100), "small_arithmetic",
                 "small_percent", 0, 1, domain="math", solution=f"{percent} * {base} // 100")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _nth_prime(k: int) -> int:
    limit = max(100, int(k * (math.log(k) + math.log(math.log(k)) + 2)))
    sieve = bytearray([1]) * (limit + 1)
    sieve[0:2] = b"\x00\x00"
    for i in range(2, int(limit**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(range(i * i, limit + 1, i)))
    count = 0
    for i, is_prime in enumerate(sieve):
        count += is_prime
        if count == k:
            return i
    raise AssertionError("sieve too small")

