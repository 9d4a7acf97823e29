"""Indexes of 10k to 1M chunks: real stored text, vectors scattered around real embeddings.

Embedding a million chunks takes days on two cores, so big indexes hold synthetic vectors.
Random vectors would say nothing about approximate search (real embeddings are anisotropic
and clustered), so each synthetic vector is a real chunk's MiniLM vector moved by noise
with the covariance of the real vectors, to a cosine of 0.6-0.95 from it, and the chunk
stores that real chunk's text and its real sentence vectors: keyword search, quotes and
citations work on real prose, as they do in an index `qa ingest` wrote.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from benchmarks.corpus import RealChunks
from index.backend import refill
from index.local_backend import LocalBackend
from index.manifest import Layout, Manifest, now_iso
from index.migrate import upgrade
from index.records import Article, Chunk
from index.settings import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_TOKENS, DEFAULT_MODEL
from index.store import Store

CHUNKS_PER_ARTICLE = 4
COSINE_TO_ANCHOR = (0.6, 0.95)


def real_shaped(anchors: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, d) float32 unit vectors around real ones, and (n,) the index of each one's anchor."""
    rng = np.random.default_rng(seed)
    centred = anchors - anchors.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    basis = (s[:, None] / np.sqrt(len(anchors))) * vt  # noise @ basis has the anchors' covariance
    which = rng.integers(len(anchors), size=n)
    out = np.empty((n, anchors.shape[1]), dtype=np.float32)
    for start in range(0, n, 65536):
        a = anchors[which[start : start + 65536]]
        noise = rng.standard_normal((len(a), len(s))).astype(np.float32) @ basis
        noise -= (noise * a).sum(axis=1, keepdims=True) * a  # orthogonal to the anchor
        cos = rng.uniform(*COSINE_TO_ANCHOR, size=(len(a), 1))
        noise *= np.sqrt(1 / cos**2 - 1) / np.linalg.norm(noise, axis=1, keepdims=True)
        v = a + noise
        out[start : start + len(a)] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out, which


def build_store(folder: Path, real: RealChunks, n: int, seed: int = 0) -> None:
    """A store of `n` chunks, the ledger only: `index_folder` fills its search backend."""
    vecs, which = real_shaped(real.vectors, n, seed)
    folder.mkdir(parents=True, exist_ok=True)
    layout = Layout(folder)
    store = Store(layout.store)
    now = now_iso()
    hashes: set[str] = set()
    started = time.perf_counter()
    for start in range(0, n, 40_000):
        with store.transaction():
            for first in range(start, min(start + 40_000, n), CHUNKS_PER_ARTICLE):
                picks = range(first, min(first + CHUNKS_PER_ARTICLE, n))
                bodies = [real.bodies[which[i]] for i in picks]
                text = "\n".join(bodies)
                j = first // CHUNKS_PER_ARTICLE
                article = Article(
                    id=f"bench:{j}",
                    title=real.titles[which[first]],
                    text=text,
                    published=f"{2000 + j % 25}-{1 + j % 12:02d}-{1 + j % 28:02d}",
                    source="benchmark",
                )
                if article.text_hash in hashes:
                    continue  # the same four chunks drawn twice: stored once, as ingest would
                hashes.add(article.text_hash)
                chunks, offset = [], 0
                for seq, (i, body) in enumerate(zip(picks, bodies, strict=True)):
                    spans = tuple((offset + s, offset + e) for s, e in real.sentences[which[i]])
                    chunks.append(Chunk(seq, offset, offset + len(body), spans, len(body) // 5))
                    offset += len(body) + 1
                rowid = store.put_article(article, now)
                rows = (
                    [real.sentence_vectors[which[i]] for i in picks]
                    if real.sentence_vectors
                    else None
                )
                store.add_chunks(rowid, article, chunks, vecs[list(picks)], rows)
        print(f"  stored {min(start + 40_000, n)} chunks ({time.perf_counter() - started:.0f} s)")
    articles, chunks_total = store.counts()
    manifest = Manifest(
        model=DEFAULT_MODEL,
        dimension=real.vectors.shape[1],
        chunk_tokens=DEFAULT_CHUNK_TOKENS,
        chunk_overlap=DEFAULT_CHUNK_OVERLAP,
        articles=articles,
        chunks=chunks_total,
        created=now,
        updated=now,
    )
    with store.transaction():
        store.set_meta("manifest", manifest.to_dict())
    store.close()
    manifest.write_mirror(layout)


def index_folder(work: Path, real: RealChunks, n: int, kind: str, seed: int = 0) -> Path:
    """work/index-N-KIND: a complete index with `kind` search, built once and kept."""
    # v2: sentence vectors stored; v3: flat in float16; v4: format 2, the backend's entries
    folder = work / f"index-v4-{n}-{kind}"
    if (folder / "manifest.json").exists():
        return folder
    base = work / f"store-v2-{n}"
    if not (base / "manifest.json").exists():
        print(f"building a store of {n} chunks in {base} ...", flush=True)
        shutil.rmtree(base, ignore_errors=True)
        build_store(base, real, n, seed)
    print(f"writing {folder} ({kind}) ...", flush=True)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(base, tmp)
    layout = Layout(tmp)
    store = Store(layout.store)
    manifest = upgrade(store, tmp)  # a store cached by an older version: brought up to date
    if manifest is None:
        raise SystemExit(f"{base} holds no manifest: remove it to build it again")
    search = LocalBackend(
        store,
        tmp,
        dimension=manifest.dimension,
        search=kind,
        exact=lambda: store.vectors(manifest.dimension),
    )
    started = time.perf_counter()
    with store.transaction():  # the search backend filled from the ledger, as doctor does
        refill(search, store.entries(manifest.dimension))
        manifest = manifest.with_(search=kind, generation=search.commit())
        store.set_meta("manifest", manifest.to_dict())
    search.tidy()
    print(
        f"  {kind} index of {search.count()} vectors built in {time.perf_counter() - started:.0f} s"
    )
    store.close()
    manifest.write_mirror(layout)
    tmp.rename(folder)
    return folder
