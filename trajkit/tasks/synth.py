"""Synthetic tool-requiring tasks: the embedded default's task set.

Two kinds of question, both with exactly computed gold answers:

- **knowledge** questions about a fictional world (cities, rivers, people, organisations,
  countries with generated syllable names). Every fact lives only in short encyclopedia-style
  passages written to the corpus, one passage per entity, so a model can only answer by
  retrieving them. One-hop lookups ("In what year was the city of Zhaeldor founded?"), lookups
  plus one subtraction, and multi-hop chains ("How many years passed between the founding of X
  and of the city where Y was born?").
- **computation** questions whose answers need code: arithmetic with large numbers, dates,
  combinatorics, small algebra and number theory.

Difficulty knobs: `max_hops` (1-3), `digits` (operand size), `knowledge_share`. Train and test
come from two disjoint worlds (no entity in common) and share no question. Everything derives
from one `random.Random(seed)`: the same config gives the same tasks, byte for byte.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from trajkit.errors import ConfigError, InputError
from trajkit.schema import Task, stable_hash

GENERATOR = "trajkit-synth-v1"
SOURCE = "synthetic"

ONSETS = [
    "b", "br", "d", "dr", "f", "g", "gr", "k", "kh", "kr", "l", "m", "n", "p", "r", "s", "sk",
    "t", "th", "tr", "v", "vr", "z", "zh", "q", "y",
]  # fmt: skip
VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o", "ai", "ei", "ou"]
CODAS = ["", "", "", "", "n", "r", "l", "s", "m", "th", "nd", "sk", "v"]
PLACE_ENDINGS = ["", "", "", "", "", "holt", "mar", "ven", "dor", "vik", "grad"]
OCCUPATIONS = [
    "cartographer", "composer", "engineer", "botanist", "architect", "astronomer", "painter",
    "chemist", "novelist", "shipbuilder", "physician", "mathematician", "glassmaker", "poet",
]  # fmt: skip
ORG_KINDS = [
    ("Institute", "research institute"), ("Observatory", "observatory"), ("Works", "manufacturer"),
    ("Museum", "museum"), ("Orchestra", "orchestra"), ("Trading Company", "trading company"),
    ("Academy", "academy"), ("Shipyard", "shipyard"),
]  # fmt: skip
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@dataclass(frozen=True)
class SynthConfig:
    n: int = 500
    seed: int = 0
    test_fraction: float = 0.2
    max_hops: int = 2
    digits: int = 5
    knowledge_share: float = 0.6

    def check(self) -> None:
        if self.n < 1:
            raise ConfigError("n must be at least 1", where="synth")
        if not 0 <= self.test_fraction < 1:
            raise ConfigError("test_fraction must be in [0, 1)", where="synth")
        if self.max_hops not in (1, 2, 3):
            raise ConfigError("max_hops must be 1, 2 or 3", where="synth")
        if not 2 <= self.digits <= 30:
            raise ConfigError("digits must be between 2 and 30", where="synth")
        if not 0 <= self.knowledge_share <= 1:
            raise ConfigError("knowledge_share must be in [0, 1]", where="synth")

    def hop_weights(self) -> dict[int, float]:
        return {1: {1: 1.0}, 2: {1: 0.6, 2: 0.4}, 3: {1: 0.45, 2: 0.35, 3: 0.2}}[self.max_hops]


@dataclass(frozen=True)
class Doc:
    doc_id: str
    title: str
    text: str


@dataclass
class SynthResult:
    tasks: list[Task]
    corpus: list[Doc]
    config: SynthConfig

    def split(self, name: str) -> list[Task]:
        return [t for t in self.tasks if t.split == name]


# ---------------------------------------------------------------------------- names


class Names:
    """Unique, pronounceable, fictional names built from syllables; none contains another, so
    an answer never hides inside a question."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.taken: list[str] = []

    def word(self, syllables: int) -> str:
        parts = []
        for _ in range(syllables):
            parts.append(self.rng.choice(ONSETS) + self.rng.choice(VOWELS) + self.rng.choice(CODAS))
        return "".join(parts).capitalize()

    def fresh(self, make: Callable[[], str], min_length: int = 5) -> str:
        for _ in range(1000):
            name = make()
            lowered = name.lower()
            if len(lowered) < min_length or not re.fullmatch(r"[a-z ]+", lowered):
                continue
            if any(lowered in other or other in lowered for other in self.taken):
                continue
            self.taken.append(lowered)
            return name
        raise RuntimeError("ran out of fresh names")  # never with these inventories

    def place(self) -> str:
        return self.fresh(lambda: self.word(2) + self.rng.choice(PLACE_ENDINGS), min_length=6)

    def person(self) -> str:
        return self.fresh(lambda: f"{self.word(2)} {self.word(2)}")


# ---------------------------------------------------------------------------- world


@dataclass
class Country:
    name: str
    established: int
    capital: str = ""


@dataclass
class City:
    name: str
    country: str
    founded: int
    population: int
    elevation: int
    river: str | None = None


@dataclass
class River:
    name: str
    country: str
    length_km: int


@dataclass
class Person:
    name: str
    born: int
    birthplace: str
    occupation: str
    pronoun: str


@dataclass
class Org:
    name: str
    kind: str
    founded: int
    founder: str
    headquarters: str


@dataclass
class World:
    countries: dict[str, Country] = field(default_factory=dict)
    cities: dict[str, City] = field(default_factory=dict)
    rivers: dict[str, River] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    orgs: dict[str, Org] = field(default_factory=dict)
    docs: dict[str, Doc] = field(default_factory=dict)  # entity name -> passage

    def doc_id(self, name: str) -> str:
        return self.docs[name].doc_id


def doc_id_for(kind: str, name: str) -> str:
    return f"syn-{kind}-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def build_world(rng: random.Random, names: Names, questions: int) -> World:
    """A self-consistent fictional world big enough for `questions` knowledge questions."""
    world = World()
    for _ in range(max(3, questions // 25)):
        country = Country(f"{names.place()}", rng.randint(1200, 1950))
        world.countries[country.name] = country
    country_names = list(world.countries)
    for _ in range(max(3, questions // 12)):
        river = River(f"{names.place()} River", rng.choice(country_names), rng.randint(40, 3200))
        world.rivers[river.name] = river
    river_names = list(world.rivers)
    for _ in range(max(8, questions // 3)):
        city = City(
            name=names.place(),
            country=rng.choice(country_names),
            founded=rng.randint(610, 1890),
            population=rng.randint(4_000, 3_500_000),
            elevation=rng.randint(2, 2400),
            river=rng.choice(river_names) if rng.random() < 0.5 else None,
        )
        world.cities[city.name] = city
    city_names = list(world.cities)
    for country in world.countries.values():
        own = [c for c in city_names if world.cities[c].country == country.name]
        country.capital = rng.choice(own) if own else rng.choice(city_names)
        world.cities[country.capital].country = country.name
    for _ in range(max(8, questions // 3)):
        person = Person(
            name=names.person(),
            born=rng.randint(1880, 1975),
            birthplace=rng.choice(city_names),
            occupation=rng.choice(OCCUPATIONS),
            pronoun=rng.choice(["She", "He"]),
        )
        world.people[person.name] = person
    founders = rng.sample(list(world.people), k=min(len(world.people), max(4, questions // 6)))
    for founder in founders:
        suffix, kind = rng.choice(ORG_KINDS)
        base = names.fresh(lambda: names.word(2))
        person = world.people[founder]
        org = Org(
            name=f"{base} {suffix}",
            kind=kind,
            founded=person.born + rng.randint(22, 55),
            founder=founder,
            headquarters=rng.choice(city_names),
        )
        world.orgs[org.name] = org
    _write_passages(world, rng)
    return world


def _write_passages(world: World, rng: random.Random) -> None:
    for country in world.countries.values():
        text = rng.choice(
            [
                "{n} is a country. It became an independent state in {e}, and its capital is {c}.",
                "{n} is a sovereign state established in {e}. The capital city of {n} is {c}.",
            ]
        ).format(n=country.name, e=country.established, c=country.capital)
        world.docs[country.name] = Doc(doc_id_for("country", country.name), country.name, text)
    for river in world.rivers.values():
        towns = [c.name for c in world.cities.values() if c.river == river.name][:3]
        flows = f" It flows through {', '.join(towns)}." if towns else ""
        text = (
            f"The {river.name} is a river in {river.country}. "
            f"It is {river.length_km} kilometres long.{flows}"
        )
        world.docs[river.name] = Doc(doc_id_for("river", river.name), river.name, text)
    for city in world.cities.values():
        on_river = f" on the banks of the {city.river}" if city.river else ""
        text = rng.choice(
            [
                "{n} is a city in {k}. It was founded in {f}{r}. At the most recent census it had "
                "a population of {p:,}. {n} lies at an elevation of {e} metres.",
                "{n} is a city in {k}, founded in {f}{r}. Its population is {p:,}, and the city "
                "stands {e} metres above sea level.",
            ]
        ).format(n=city.name, k=city.country, f=city.founded, r=on_river, p=city.population, e=city.elevation)
        world.docs[city.name] = Doc(doc_id_for("city", city.name), city.name, text)
    founded_by: dict[str, Org] = {org.founder: org for org in world.orgs.values()}
    for person in world.people.values():
        org = founded_by.get(person.name)
        extra = f" {person.pronoun} is known as the founder of the {org.name}." if org else ""
        text = (
            f"{person.name} (born {person.born}) is {_a(person.occupation)}. "
            f"{person.pronoun} was born in the city of {person.birthplace}.{extra}"
        )
        world.docs[person.name] = Doc(doc_id_for("person", person.name), person.name, text)
    for org in world.orgs.values():
        text = (
            f"The {org.name} is {_a(org.kind)} founded in {org.founded} by {org.founder}. "
            f"Its headquarters are in {org.headquarters}."
        )
        world.docs[org.name] = Doc(doc_id_for("org", org.name), org.name, text)


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


# ------------------------------------------------------------------ knowledge questions


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


# --------------------------------------------------------------------------- assembly


def answer_in_question(answer: str, question: str) -> bool:
    """Is the answer written in the question (as a whole word)?"""
    pattern = r"(?<![\w])" + re.escape(answer.lower()) + r"(?![\w])"
    return re.search(pattern, question.lower()) is not None


def generate(config: SynthConfig | None = None, **knobs) -> SynthResult:
    """Generate the tasks and the corpus; deterministic in the config."""
    config = config or SynthConfig(**knobs)
    config.check()
    rng = random.Random(config.seed)
    names = Names(rng)
    n_test = round(config.n * config.test_fraction)
    plan = [("train", config.n - n_test), ("test", n_test)]
    corpus: dict[str, Doc] = {}
    tasks: list[Task] = []
    questions_seen: set[str] = set()
    for split, count in plan:
        if count == 0:
            continue
        n_knowledge = round(count * config.knowledge_share)
        world = build_world(rng, names, n_knowledge) if n_knowledge else World()
        for doc in world.docs.values():
            corpus[doc.doc_id] = doc
        drafts = _knowledge_drafts(rng, world, n_knowledge, config, questions_seen)
        drafts += _computation_drafts(rng, names, count - len(drafts), config, questions_seen)
        rng.shuffle(drafts)
        tasks += [_to_task(d, split, world, config) for d in drafts]
    docs = sorted(corpus.values(), key=lambda d: d.doc_id)
    return SynthResult(tasks, docs, config)


def _knowledge_drafts(rng, world: World, count: int, config: SynthConfig, seen: set[str]) -> list[Draft]:
    makers = {1: knowledge_one_hop, 2: knowledge_two_hop, 3: knowledge_three_hop}
    weights = config.hop_weights()
    drafts: list[Draft] = []
    attempts = 0
    while len(drafts) < count and attempts < count * 50:
        attempts += 1
        hops = rng.choices(list(weights), weights=list(weights.values()))[0]
        draft = makers[hops](rng, world)
        if draft.question in seen or answer_in_question(draft.answer, draft.question):
            continue
        seen.add(draft.question)
        drafts.append(draft)
    return drafts


def _computation_drafts(rng, names: Names, count: int, config: SynthConfig, seen: set[str]) -> list[Draft]:
    drafts: list[Draft] = []
    attempts = 0
    while len(drafts) < count and attempts < count * 50 + 100:
        attempts += 1
        draft = computation(rng, config.digits, names)
        if draft.question in seen or answer_in_question(draft.answer, draft.question):
            continue
        seen.add(draft.question)
        drafts.append(draft)
    return drafts


def _to_task(draft: Draft, split: str, world: World, config: SynthConfig) -> Task:
    metadata = {
        "generator": GENERATOR,
        "seed": config.seed,
        "kind": draft.kind,
        "template": draft.template,
        "hops": draft.hops,
        "tool_steps": draft.tool_steps,
        "entities": draft.entities,
        "support_doc_ids": [world.doc_id(name) for name in draft.support],
        "solution": draft.solution,
    }
    if draft.grader:
        metadata["grader"] = draft.grader
    content_id = stable_hash([GENERATOR, split, draft.question, draft.answer], length=16)
    return Task(
        task_id=f"{SOURCE}/{split}/{content_id}",
        source=SOURCE,
        split=split,
        domain=draft.domain,
        question=draft.question,
        gold_answer=draft.answer,
        gold_aliases=[a for a in draft.aliases if a != draft.answer],
        metadata=json.dumps(metadata, sort_keys=True),
    )


# ----------------------------------------------------------------------------- writing

TASKS_FILE = "tasks.parquet"
CORPUS_FILE = "corpus.parquet"
MANIFEST_FILE = "synth.json"


def corpus_table(docs: list[Doc]):
    import pyarrow as pa

    schema = pa.schema([("doc_id", pa.string()), ("title", pa.string()), ("text", pa.string())])
    return pa.Table.from_pylist([asdict(d) for d in docs], schema=schema)


def write(result: SynthResult, out: str | Path, *, overwrite: bool = False) -> dict[str, Path]:
    """Write the tasks (one file; the `split` column tells train from test), the corpus and a
    small manifest."""
    import pyarrow.parquet as pq

    from trajkit.tasks.files import write_tasks

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder", where="synth output")
    existing = sorted(p.name for p in out.glob("tasks*.parquet")) if out.is_dir() else []
    if existing and not overwrite:
        raise InputError(
            f"{out} already holds {', '.join(existing)}",
            where="synth output",
            fix="choose another folder or pass --overwrite",
        )
    out.mkdir(parents=True, exist_ok=True)
    for name in existing:
        (out / name).unlink()
    written: dict[str, Path] = {"tasks": write_tasks(result.tasks, out / TASKS_FILE)}
    corpus_path = out / CORPUS_FILE
    temp = out / f".{CORPUS_FILE}.tmp"
    pq.write_table(corpus_table(result.corpus), temp, compression="zstd")
    temp.replace(corpus_path)
    written["corpus"] = corpus_path
    manifest = {
        "generator": GENERATOR,
        "config": asdict(result.config),
        "counts": {
            "tasks": len(result.tasks),
            "train": len(result.split("train")),
            "test": len(result.split("test")),
            "documents": len(result.corpus),
        },
        "files": {key: path.name for key, path in written.items()},
    }
    manifest_path = out / MANIFEST_FILE
    temp = out / f".{MANIFEST_FILE}.tmp"
    temp.write_text(json.dumps(manifest, indent=2) + "\n")
    temp.replace(manifest_path)
    written["manifest"] = manifest_path
    return written
