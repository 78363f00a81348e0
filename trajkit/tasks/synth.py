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

Difficulty knobs: `max_hops` (1-3), `digits` (operand size), `knowledge_share`, and
`small_arithmetic_share` (the share of computation questions on two- and three-digit numbers,
which careful prose can answer). Every task's metadata names its `category`
(`trajkit.tasks.synth_shapes.CATEGORIES`). Train and test come from two disjoint worlds (no
entity in common) and share no question. With `heldout_templates`, those templates never occur
in train or test: they, and paraphrases of the seen templates, make a third split, `test_unseen`
(`unseen_fraction` of the test world's tasks), which measures whether a student learned to use
its tools or learned the templates. Everything derives
from one `random.Random(seed)`: the same config gives the same tasks, byte for byte.

The world and its passages are `trajkit.tasks.synth_world`'s, the question templates
`trajkit.tasks.synth_questions`'; this module assembles them into tasks and writes them.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from trajkit.errors import ConfigError, InputError
from trajkit.schema import Task, stable_hash
from trajkit.tasks.synth_questions import (
    Draft,
    computation,
    knowledge_one_hop,
    knowledge_three_hop,
    knowledge_two_hop,
    small_arithmetic,
)
from trajkit.tasks.synth_shapes import HELDOUT_TEMPLATES, category, paraphrase
from trajkit.tasks.synth_world import Doc, Names, World, build_world

GENERATOR = "trajkit-synth-v1"
SOURCE = "synthetic"


@dataclass(frozen=True)
class SynthConfig:
    n: int = 500
    seed: int = 0
    test_fraction: float = 0.2
    max_hops: int = 2
    digits: int = 5
    knowledge_share: float = 0.6
    small_arithmetic_share: float = 0.0
    heldout_templates: tuple[str, ...] = ()
    unseen_fraction: float = 0.0

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
        if not 0 <= self.small_arithmetic_share <= 1:
            raise ConfigError("small_arithmetic_share must be in [0, 1]", where="synth")
        if not 0 <= self.unseen_fraction < 1:
            raise ConfigError("unseen_fraction must be in [0, 1)", where="synth")
        if self.unseen_fraction and not self.heldout_templates:
            raise ConfigError("unseen_fraction needs heldout_templates", where="synth",
                              fix=f"name the held-out templates, e.g. {', '.join(HELDOUT_TEMPLATES[:3])}")

    def hop_weights(self) -> dict[int, float]:
        return {1: {1: 1.0}, 2: {1: 0.6, 2: 0.4}, 3: {1: 0.45, 2: 0.35, 3: 0.2}}[self.max_hops]



@dataclass
class SynthResult:
    tasks: list[Task]
    corpus: list[Doc]
    config: SynthConfig

    def split(self, name: str) -> list[Task]:
        return [t for t in self.tasks if t.split == name]



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
    n_unseen = round(n_test * config.unseen_fraction)
    corpus: dict[str, Doc] = {}
    tasks: list[Task] = []
    questions_seen: set[str] = set()
    seen_shape = _seen_shape(config)
    worlds = [("train", [("train", config.n - n_test, seen_shape)]),
              ("test", [("test", n_test - n_unseen, seen_shape), ("test_unseen", n_unseen, _unseen_shape(rng, config))])]
    for _, splits in worlds:
        if sum(count for _, count, _ in splits) == 0:
            continue
        n_knowledge = {split: round(count * config.knowledge_share) for split, count, _ in splits}
        total_knowledge = sum(n_knowledge.values())
        world = build_world(rng, names, total_knowledge) if total_knowledge else World()
        for doc in world.docs.values():
            corpus[doc.doc_id] = doc
        for split, count, shape in splits:
            if count == 0:
                continue
            drafts = _knowledge_drafts(rng, world, n_knowledge[split], config, questions_seen, shape)
            drafts += _computation_drafts(rng, names, count - len(drafts), config, questions_seen, shape)
            rng.shuffle(drafts)
            tasks += [_to_task(d, split, world, config) for d in drafts]
    docs = sorted(corpus.values(), key=lambda d: d.doc_id)
    return SynthResult(tasks, docs, config)


Shape = Callable[[Draft], "Draft | None"]  # keeps a draft (maybe reworded) for a split, or refuses it


def _seen_shape(config: SynthConfig) -> Shape:
    heldout = set(config.heldout_templates)
    return lambda draft: None if draft.template in heldout else draft


def _unseen_shape(rng: random.Random, config: SynthConfig) -> Shape:
    """Held-out templates as they are; seen ones paraphrased, for about a third of the rest."""
    heldout = set(config.heldout_templates)

    def shape(draft: Draft) -> Draft | None:
        if draft.template in heldout:
            return draft
        return paraphrase(draft) if rng.random() < 0.35 else None

    return shape


def _knowledge_drafts(rng, world: World, count: int, config: SynthConfig, seen: set[str], shape: Shape) -> list[Draft]:
    makers = {1: knowledge_one_hop, 2: knowledge_two_hop, 3: knowledge_three_hop}
    weights = config.hop_weights()
    drafts: list[Draft] = []
    attempts = 0
    while len(drafts) < count and attempts < count * 50:
        attempts += 1
        hops = rng.choices(list(weights), weights=list(weights.values()))[0]
        draft = shape(makers[hops](rng, world))
        if draft is None or draft.question in seen or answer_in_question(draft.answer, draft.question):
            continue
        seen.add(draft.question)
        drafts.append(draft)
    return drafts


def _computation_drafts(rng, names: Names, count: int, config: SynthConfig, seen: set[str], shape: Shape) -> list[Draft]:
    drafts: list[Draft] = []
    attempts = 0
    while len(drafts) < count and attempts < count * 50 + 100:
        attempts += 1
        small = config.small_arithmetic_share and rng.random() < config.small_arithmetic_share
        draft = shape(small_arithmetic(rng) if small else computation(rng, config.digits, names))
        if draft is None or draft.question in seen or answer_in_question(draft.answer, draft.question):
            continue
        seen.add(draft.question)
        drafts.append(draft)
    return drafts


def _to_task(draft: Draft, split: str, world: World, config: SynthConfig) -> Task:
    metadata = {
        "generator": GENERATOR,
        "seed": config.seed,
        "kind": draft.kind,
        "category": category(draft),
        "template": draft.template,
        "shape": _shape_name(draft, config),
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


def _shape_name(draft: Draft, config: SynthConfig) -> str:
    if draft.template.endswith("~paraphrase"):
        return "paraphrase"
    return "heldout" if draft.template in config.heldout_templates else "seen"


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
            "test_unseen": len(result.split("test_unseen")),
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
