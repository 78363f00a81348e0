"""A search engine for argilla-server that keeps Elasticsearch-shaped documents in SQLite.

Runs inside the Argilla server's own virtual environment (not trajkit's): import only
`argilla_server` and the standard library here. Importing this module registers the engine
under ENGINE_NAME in Argilla's own registry; select it with ARGILLA_SEARCH_ENGINE=ENGINE_NAME.

Documents have the shape the Elasticsearch engine indexes (status, metadata, responses as a
list with user ids, suggestions keyed by question, inserted_at, ...). Filtering, sorting and
similarity search happen in Python over one dataset's documents: right for small and medium
datasets (tens of thousands of records), which is what a single-machine review needs.
Semantics follow the Elasticsearch engine: "pending" for a user = no response from that
user; similarity score = (1 + cosine) / 2.
"""

from __future__ import annotations

import json
import math
import operator
import os
import sqlite3
from array import array
from datetime import datetime
from typing import Any

from argilla_server.enums import MetadataPropertyType, SimilarityOrder
from argilla_server.search_engine import (
    AndFilter,
    FloatMetadataMetrics,
    IntegerMetadataMetrics,
    MetadataFilterScope,
    RangeFilter,
    RecordFilterScope,
    ResponseFilterScope,
    SearchEngine,
    SearchResponseItem,
    SearchResponses,
    SuggestionFilterScope,
    TermsFilter,
    TermsMetrics,
    TextQuery,
)
from argilla_server.settings import settings

ENGINE_NAME = "trajkit-sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
  id TEXT PRIMARY KEY, dataset_id TEXT NOT NULL, doc TEXT NOT NULL, fields TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS docs_dataset ON docs(dataset_id);
CREATE TABLE IF NOT EXISTS vectors (
  record_id TEXT NOT NULL, settings_id TEXT NOT NULL, dataset_id TEXT NOT NULL,
  unit BLOB NOT NULL, PRIMARY KEY (record_id, settings_id));
CREATE INDEX IF NOT EXISTS vectors_settings ON vectors(settings_id);
"""
_ready_paths: set[str] = set()


def database_path() -> str:
    return os.environ.get("TRAJKIT_ARGILLA_SEARCH_DB") or os.path.join(settings.home_path, "search.db")


def _connect() -> sqlite3.Connection:
    path = database_path()
    conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    if path not in _ready_paths:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
        _ready_paths.add(path)
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _unit(values: list[float]) -> bytes:
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return array("f", (v / norm for v in values)).tobytes()


def _response_doc(response) -> dict:
    return {
        "id": str(response.id),
        "status": str(response.status),
        "user_id": str(response.user_id),
        **{name: (value or {}).get("value") for name, value in (response.values or {}).items()},
    }


def _suggestion_doc(suggestion) -> dict:
    return {
        "type": suggestion.type and str(suggestion.type),
        "agent": suggestion.agent,
        "score": suggestion.score,
        "value": suggestion.value,
    }


def _record_doc(record) -> tuple[dict, dict]:
    dataset = record.dataset
    metadata_names = {p.name for p in dataset.metadata_properties}
    fields = {}
    for field in dataset.fields:
        if field.is_image:
            continue
        value = (record.fields or {}).get(field.name)
        fields[field.name] = str(value) if field.is_custom and value is not None else value
    doc = {
        "id": str(record.id),
        "external_id": record.external_id,
        "status": str(record.status),
        "inserted_at": _iso(record.inserted_at),
        "updated_at": _iso(record.updated_at),
        "metadata": {k: v for k, v in (record.metadata_ or {}).items() if k in metadata_names and v is not None},
        "responses": [_response_doc(r) for r in record.responses],
        "suggestions": {s.question.name: _suggestion_doc(s) for s in record.suggestions},
    }
    return doc, fields


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _terms_match(values: Any, wanted: list[str]) -> bool:
    wanted_text = {str(w) for w in wanted}
    return any(str(v) in wanted_text for v in _as_list(values))


def _range_match(values: Any, ge: float | None, le: float | None) -> bool:
    for value in _as_list(values):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                continue
        if (ge is None or value >= ge) and (le is None or value <= le):
            return True
    return False


def _scope_value(doc: dict, scope) -> Any:
    if isinstance(scope, MetadataFilterScope):
        return doc["metadata"].get(scope.metadata_property)
    if isinstance(scope, SuggestionFilterScope):
        return doc["suggestions"].get(scope.question, {}).get(scope.property)
    if isinstance(scope, RecordFilterScope):
        return doc.get(scope.property)
    raise ValueError(f"Cannot process request for search scope {scope}")


def _user_responses(doc: dict, user) -> list[dict]:
    return [r for r in doc["responses"] if user is None or r["user_id"] == str(user.id)]


def _matches_response(doc: dict, flt) -> bool:
    scope: ResponseFilterScope = flt.scope
    responses = _user_responses(doc, scope.user)
    if scope.question:
        if isinstance(flt, TermsFilter):
            return any(_terms_match(r.get(scope.question), flt.values) for r in responses)
        return any(_range_match(r.get(scope.question), flt.ge, flt.le) for r in responses)
    if scope.property == "status" and isinstance(flt, TermsFilter):
        statuses = {str(v) for v in flt.values}
        if "pending" in statuses and not responses:
            return True
        return any(r["status"] in statuses for r in responses)
    raise ValueError(f"Cannot process filter scope {scope}")


def _matches(doc: dict, flt) -> bool:
    if flt is None:
        return True
    if isinstance(flt, AndFilter):
        return all(_matches(doc, f) for f in flt.filters)
    if isinstance(flt.scope, ResponseFilterScope):
        return _matches_response(doc, flt)
    value = _scope_value(doc, flt.scope)
    if isinstance(flt, TermsFilter):
        return _terms_match(value, flt.values)
    if isinstance(flt, RangeFilter):
        return _range_match(value, flt.ge, flt.le)
    raise ValueError(f"Cannot process request for filter {flt}")


def _text_of(value: Any) -> str:
    if isinstance(value, list):  # chat field: messages with role and content
        return " ".join(_text_of(m.get("content") if isinstance(m, dict) else m) for m in value)
    return "" if value is None else str(value)


def _matches_text(fields: dict, query: TextQuery | str | None) -> bool:
    """simple_query_string with default_operator AND: every term must occur."""
    if query is None:
        return True
    if isinstance(query, str):
        query = TextQuery(q=query)
    names = [query.field] if query.field else list(fields)
    haystack = " ".join(_text_of(fields.get(name)) for name in names).lower()
    return all(term.strip('"*') in haystack for term in str(query.q).lower().split())


def _sort_key(doc: dict, order) -> Any:
    if isinstance(order.scope, ResponseFilterScope):
        scope = order.scope
        name = scope.question or scope.property
        values = [v for r in _user_responses(doc, scope.user) for v in _as_list(r.get(name))]
        numbers = [v for v in values if isinstance(v, (int, float))]
        return sum(numbers) / len(numbers) if numbers else (values[0] if values else None)
    return _scope_value(doc, order.scope)


def _sorted(docs: list[dict], sort) -> list[dict]:
    docs = sorted(docs, key=lambda d: (str(d["inserted_at"]), d["id"]))
    for order in reversed(sort or []):
        present = [d for d in docs if _sort_key(d, order) is not None]
        missing = [d for d in docs if _sort_key(d, order) is None]  # ES puts missing values last
        present.sort(key=lambda d: _sort_key(d, order), reverse=str(order.order) == "desc")
        docs = present + missing
    return docs


@SearchEngine.register(engine_name=ENGINE_NAME)
class SQLiteSearchEngine(SearchEngine):
    def __init__(self) -> None:
        self.conn = _connect()

    @classmethod
    async def new_instance(cls) -> SQLiteSearchEngine:
        return cls()

    async def close(self):
        self.conn.close()

    async def ping(self) -> bool:
        return self.conn.execute("SELECT 1").fetchone() == (1,)

    async def info(self) -> dict:
        return {"engine": ENGINE_NAME, "database": database_path(), "sqlite": sqlite3.sqlite_version}

    # ------------------------------------------------------------------ storage
    def _load(self, dataset_id, with_fields: bool = False) -> list[tuple[dict, dict]]:
        rows = self.conn.execute(
            f"SELECT doc, {'fields' if with_fields else 'NULL'} FROM docs WHERE dataset_id = ?",
            (str(dataset_id),),
        ).fetchall()
        return [(json.loads(doc), json.loads(fields) if fields else {}) for doc, fields in rows]

    def _update(self, record_id, change) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            row = self.conn.execute("SELECT doc FROM docs WHERE id = ?", (str(record_id),)).fetchone()
            if row is not None:
                doc = json.loads(row[0])
                change(doc)
                self.conn.execute("UPDATE docs SET doc = ? WHERE id = ?", (json.dumps(doc, default=str), str(record_id)))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    async def create_index(self, dataset):
        pass  # documents are keyed by record id; nothing to set up per dataset

    async def delete_index(self, dataset):
        self.conn.execute("DELETE FROM docs WHERE dataset_id = ?", (str(dataset.id),))
        self.conn.execute("DELETE FROM vectors WHERE dataset_id = ?", (str(dataset.id),))

    async def configure_metadata_property(self, dataset, metadata_property):
        pass

    async def configure_index_vectors(self, vector_settings):
        pass

    async def index_records(self, dataset, records):
        docs, vectors = [], []
        for record in records:
            doc, fields = _record_doc(record)
            docs.append((doc["id"], str(dataset.id), json.dumps(doc, default=str), json.dumps(fields, default=str)))
            for vector in record.vectors:
                vectors.append((doc["id"], str(vector.vector_settings_id), str(dataset.id), _unit(vector.value)))
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany("INSERT OR REPLACE INTO docs VALUES (?, ?, ?, ?)", docs)
            self.conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", vectors)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    async def partial_record_update(self, record, **update):
        self._update(record.id, lambda doc: doc.update({k: _iso(v) for k, v in update.items()}))

    async def delete_records(self, dataset, records):
        ids = [(str(r.id),) for r in records]
        self.conn.executemany("DELETE FROM docs WHERE id = ?", ids)
        self.conn.executemany("DELETE FROM vectors WHERE record_id = ?", ids)

    async def update_record_response(self, response):
        new = _response_doc(response)

        def change(doc):
            doc["responses"] = [r for r in doc["responses"] if r["id"] != new["id"]] + [new]

        self._update(response.record_id, change)

    async def delete_record_response(self, response):
        def change(doc):
            doc["responses"] = [r for r in doc["responses"] if r["id"] != str(response.id)]

        self._update(response.record_id, change)

    async def update_record_suggestion(self, suggestion):
        name, value = suggestion.question.name, _suggestion_doc(suggestion)
        self._update(suggestion.record_id, lambda doc: doc["suggestions"].update({name: value}))

    async def delete_record_suggestion(self, suggestion):
        name = suggestion.question.name
        self._update(suggestion.record_id, lambda doc: doc["suggestions"].pop(name, None))

    # ------------------------------------------------------------------ metrics
    async def get_dataset_progress(self, dataset) -> dict:
        if dataset.is_draft:
            return {}
        docs = [doc for doc, _ in self._load(dataset.id)]
        counts: dict[str, int] = {}
        for doc in docs:
            counts[doc["status"]] = counts.get(doc["status"], 0) + 1
        return {"total": len(docs), **counts}

    async def get_dataset_user_progress(self, dataset, user) -> dict:
        if dataset.is_draft:
            return {}
        counts: dict[str, int] = {}
        for doc, _ in self._load(dataset.id):
            for response in _user_responses(doc, user):
                counts[response["status"]] = counts.get(response["status"], 0) + 1
        return {"total": sum(counts.values()), **counts}

    async def compute_metrics_for(self, metadata_property):
        values = [
            v
            for doc, _ in self._load(metadata_property.dataset_id)
            for v in _as_list(doc["metadata"].get(metadata_property.name))
        ]
        if metadata_property.type == MetadataPropertyType.terms:
            counts: dict[str, int] = {}
            for v in values:
                counts[str(v)] = counts.get(str(v), 0) + 1
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            return TermsMetrics(
                total=len(values), values=[TermsMetrics.TermCount(term=t, count=c) for t, c in ranked]
            )
        metrics = IntegerMetadataMetrics if metadata_property.type == MetadataPropertyType.integer else FloatMetadataMetrics
        return metrics(min=min(values, default=None), max=max(values, default=None))

    # ------------------------------------------------------------------- search
    def _candidates(self, dataset, query, filter) -> list[dict]:
        return [
            doc
            for doc, fields in self._load(dataset.id, with_fields=query is not None)
            if _matches(doc, filter) and _matches_text(fields, query)
        ]

    async def search(self, dataset, query=None, filter=None, sort=None, offset=0, limit=100, user_id=None):
        docs = _sorted(self._candidates(dataset, query, filter), sort)
        items = [SearchResponseItem(record_id=d["id"], score=1.0) for d in docs[offset : offset + limit]]
        return SearchResponses(items=items, total=len(docs))

    async def similarity_search(
        self,
        dataset,
        vector_settings,
        value=None,
        record=None,
        query=None,
        filter=None,
        max_results=100,
        order=SimilarityOrder.most_similar,
        threshold=None,
    ):
        if bool(value) == bool(record):
            raise ValueError("Must provide either vector value or record to compute the similarity search")
        excluded = None
        if not value:
            excluded = str(record.id)
            value = record.vector_value_by_vector_settings(vector_settings)
        if not value:
            raise ValueError("Cannot find a vector value to apply with provided info")
        target = array("f")
        target.frombytes(_unit(value))
        if order == SimilarityOrder.least_similar:
            target = array("f", (-v for v in target))
        allowed = {d["id"] for d in self._candidates(dataset, query, filter)}
        scored = []
        rows = self.conn.execute("SELECT record_id, unit FROM vectors WHERE settings_id = ?", (str(vector_settings.id),))
        for record_id, blob in rows:
            if record_id == excluded or record_id not in allowed:
                continue
            unit = array("f")
            unit.frombytes(blob)
            score = (1.0 + sum(map(operator.mul, target, unit))) / 2.0
            if threshold is None or score >= threshold:
                scored.append((score, record_id))
        scored.sort(reverse=True)
        items = [SearchResponseItem(record_id=rid, score=score) for score, rid in scored[:max_results]]
        return SearchResponses(items=items, total=len(scored))
