"""The synthetic tasks' fictional world: syllable names, countries, cities, rivers, people,
organisations, and one encyclopedia-style passage per entity (the retrieval corpus).

Every fact a knowledge question asks about lives only in these passages, so a model can only
answer by retrieving them. Everything is drawn from the caller's `random.Random`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Doc:
    doc_id: str
    title: str
    text: str



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

