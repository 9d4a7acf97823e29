"""Consistency checks of an index folder, and repair of what can be derived from the store.

The store (SQLite) is the ledger and the truth. The search backend's contents (the FAISS
file, the keyword rows, the search entries), the manifest's counts and manifest.json are all
derived from it, so `repair` refills them without re-embedding anything, and upgrades a
store an older version wrote (index.migrate). What cannot be derived (a corrupt SQLite
file) is reported with the command to run. A file in the folder that the index did not make
is the user's: it is named, never deleted, and moved aside (`move_unknown`) only when asked.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from index.backend import refill
from index.backends import open_backend
from index.errors import IndexCorrupt, IndexMissing
from index.local_backend import LocalBackend
from index.lock import write_lock
from index.manifest import FORMAT_VERSION, Layout, Manifest, now_iso
from index.migrate import upgrade
from index.settings import Settings
from index.store import Store
from index.vectors import VectorIndex
from index.wording import plural

# What the index keeps in its folder besides the current vector file. SQLite's journals are
# part of the store (a hot journal is what makes a crashed write recoverable).
KNOWN_FILES = {
    "store.sqlite3",
    "store.sqlite3-wal",
    "store.sqlite3-shm",
    "store.sqlite3-journal",
    "manifest.json",
    ".lock",
}
UNKNOWN_DIR = "unknown-files"  # where `move_unknown` puts what the index did not make
# Files the index itself writes and may leave behind: vector files of other generations, and
# the temporary files of an interrupted write (VectorIndex.save, Manifest.write_mirror).
DERIVED = re.compile(r"vectors-\d{6}\.faiss(\.tmp)?|manifest\.json\.tmp")


@dataclass(frozen=True)
class Problem:
    """One finding. `severe` ones make answers wrong or impossible; the others are tidiness.

    `unknown` names a file of the user's in the index folder: not repairable, never deleted.
    """

    what: str
    severe: bool = True
    repairable: bool = True
    unknown: str | None = None

    def __str__(self) -> str:
        kind = "error" if self.severe else "note"
        fix = "" if self.repairable or self.unknown else " (not repairable: re-ingest the corpus)"
        return f"{kind}: {self.what}{fix}"


def check(folder: Path, settings: Settings | None = None) -> list[Problem]:
    """Every inconsistency found in the index at `folder`; an empty list means healthy.
    `settings` choose its search backend (default: local).

    Raises IndexMissing when there is no index there at all.
    """
    layout = Layout(folder)
    if not layout.store.exists():
        raise IndexMissing.at(folder)
    try:
        store = Store(layout.store, readonly=True)
        try:
            return _check_store(layout, store, settings or Settings(index_dir=folder))
        finally:
            store.close()
    except (sqlite3.DatabaseError, IndexCorrupt) as e:
        why = e.__cause__ if isinstance(e, IndexCorrupt) and e.__cause__ else e
        return [Problem(f"the store {layout.store} is unreadable: {why}", repairable=False)]


def stored_format(folder: Path) -> int | None:
    """The format the index at `folder` is written in (index.manifest.FORMAT_VERSION is
    this version's); None when its manifest cannot be read."""
    try:
        store = Store(Layout(folder).store, readonly=True)
        try:
            data = store.get_meta("manifest")
        finally:
            store.close()
    except (sqlite3.DatabaseError, IndexCorrupt):
        return None
    return None if data is None else Manifest.from_dict(data).format


def _check_store(layout: Layout, store: Store, settings: Settings) -> list[Problem]:
    data = store.get_meta("manifest")
    if data is None:
        return [
            Problem(
                "the store holds no manifest (nothing was ever committed)",
                severe=False,
                repairable=False,
            )
        ]
    manifest = Manifest.from_dict(data)
    if manifest.format > FORMAT_VERSION:
        return [
            Problem(
                f"format {manifest.format}, newer than this version reads ({FORMAT_VERSION}): "
                "upgrade newsqa",
                repairable=False,
            )
        ]
    if manifest.format < FORMAT_VERSION:
        return [
            Problem(
                f"format {manifest.format}, written by an older version; this one reads "
                f"{FORMAT_VERSION} and upgrades it on the next write, `qa ask`, or "
                "`qa doctor --repair`",
                severe=False,
            )
        ]
    if manifest.backend != settings.backend:
        return [
            Problem(
                f"the index is searched by its {manifest.backend} backend, not the "
                f"{settings.backend} one asked for; `qa doctor --repair --backend "
                f"{settings.backend}` fills that one from the store and moves the index to it",
                severe=False,
            )
        ]
    h = store.health(manifest.dimension)
    if h.integrity != "ok":
        lines = [x.strip() for x in h.integrity.splitlines() if x.strip()]
        said = [x for x in lines if not x.startswith("***")] or lines  # "*** in database main"
        more = f" (and {len(said) - 1} more)" if len(said) > 1 else ""
        return [Problem(f"SQLite integrity check failed: {said[0]}{more}", repairable=False)]
    problems: list[Problem] = []
    chunks = len(h.chunk_ids)
    if h.orphan_chunks:
        problems.append(Problem(f"{plural(h.orphan_chunks, 'chunk')} belong to no article"))
    if h.bad_spans:
        problems.append(
            Problem(
                f"{plural(h.bad_spans, 'chunk')} with offsets outside its article", repairable=False
            )
        )
    if h.bad_vectors:
        problems.append(
            Problem(
                f"{plural(h.bad_vectors, 'chunk')} with a vector of the wrong size; "
                "run `qa rebuild`",
                repairable=False,
            )
        )
    if (manifest.articles, manifest.chunks) != (h.articles, chunks):
        problems.append(
            Problem(
                f"the manifest counts {plural(manifest.articles, 'article')} and "
                f"{plural(manifest.chunks, 'chunk')}, "
                f"the store holds {h.articles} and {chunks}"
            )
        )
    if settings.backend != "local":
        return problems + _check_backend(settings, store, manifest, chunks)
    search = LocalBackend(store, layout.folder)
    if search.keyword_rows() != chunks:
        problems.append(
            Problem(
                f"the keyword index has {plural(search.keyword_rows(), 'row')} for "
                f"{plural(chunks, 'chunk')}"
            )
        )
    if search.entry_count() != chunks:
        problems.append(
            Problem(
                f"the search backend has {plural(search.entry_count(), 'entry', 'entries')} "
                f"for {plural(chunks, 'chunk')}"
            )
        )
    problems += _check_vectors(layout, manifest, set(h.chunk_ids))
    problems += _check_files(layout, manifest)
    return problems


def _check_backend(
    settings: Settings, store: Store, manifest: Manifest, chunks: int
) -> list[Problem]:
    """A remote backend (Milvus): it answers, at the ledger's generation, with every chunk."""
    try:
        search = open_backend(settings, store, dimension=manifest.dimension)
    except Exception as e:  # the engine's errors share no type: any of them means unusable
        return [Problem(f"the {settings.backend} backend cannot be reached: {e}")]
    try:
        problems = []
        kept = search.kept_manifest()
        if search.holds_payload and kept is None and manifest.generation > 0:
            return [
                Problem(
                    f"the {settings.backend} backend was written by an earlier version: it "
                    "keeps no manifest, and replicas cannot answer from it"
                )
            ]
        if kept is not None and kept.get("created") != manifest.created:
            return [
                Problem(
                    f"the {settings.backend} backend holds an index written from another "
                    f"index folder (created {kept.get('created')}), not this one's"
                )
            ]
        if search.generation != manifest.generation:
            problems.append(
                Problem(
                    f"the {settings.backend} backend is at generation {search.generation}, the "
                    f"ledger at {manifest.generation}"
                )
            )
        if (held := search.count()) != chunks:
            problems.append(
                Problem(
                    f"the {settings.backend} backend holds {plural(held, 'chunk')}, the "
                    f"ledger {chunks}"
                )
            )
        return problems
    finally:
        search.close()


def _check_vectors(layout: Layout, manifest: Manifest, chunk_ids: set[int]) -> list[Problem]:
    path = layout.vectors(manifest.generation)
    if not path.exists():
        return [
            Problem(f"the vector file {path.name} of generation {manifest.generation} is missing")
        ]
    try:
        index = VectorIndex.load(path)
    except RuntimeError as e:
        return [Problem(f"the vector file {path.name} is unreadable: {str(e)[:200]}")]
    if index.dimension != manifest.dimension:
        return [
            Problem(
                f"the vector file has dimension {index.dimension}, the manifest "
                f"{manifest.dimension}"
            )
        ]
    if len(index) != len(chunk_ids):
        return [
            Problem(
                f"the vector file holds {plural(len(index), 'vector')} for "
                f"{plural(len(chunk_ids), 'chunk')}"
            )
        ]
    if set(index.ids().tolist()) != chunk_ids:  # every id, not a sample: ~0.2 s at 1M
        return [Problem("the vector file's ids differ from the store's chunk ids")]
    return []


def _check_files(layout: Layout, manifest: Manifest) -> list[Problem]:
    problems = []
    current = layout.vectors(manifest.generation).name
    for p in sorted(layout.folder.iterdir()):
        if p.name in KNOWN_FILES or p.name in (current, UNKNOWN_DIR):
            continue
        if p.is_file() and DERIVED.fullmatch(p.name):
            problems.append(
                Problem(f"stray file {p.name} (left by an interrupted write)", severe=False)
            )
        else:
            kind = "folder" if p.is_dir() else "file"
            problems.append(
                Problem(
                    f"unknown {kind} {p.name} (not made by qa; left alone: move it out, or "
                    f"`qa doctor --move-unknown` moves it into {UNKNOWN_DIR}/)",
                    severe=False,
                    repairable=False,
                    unknown=p.name,
                )
            )
    try:
        mirror = json.loads(layout.manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        mirror = None
    if mirror != manifest.to_dict():
        problems.append(Problem("manifest.json differs from the store's manifest", severe=False))
    return problems


def repair(
    folder: Path,
    on_wait: Callable[[str], None] | None = None,
    settings: Settings | None = None,
) -> list[Problem]:
    """Rebuild every derived part from the store, without re-embedding; returns what remains.

    Takes the write lock and commits a new generation, so running readers switch to the
    repaired files before their next question. Stray files the index made are removed; the
    user's files are not touched.
    """
    layout = Layout(folder)
    settings = settings or Settings(index_dir=folder)
    with write_lock(folder, on_wait):
        if any(not p.repairable and not p.unknown for p in check(folder, settings)):
            return check(folder, settings)
        store = Store(layout.store)
        try:
            manifest = upgrade(store, folder) or Manifest.from_dict(store.get_meta("manifest"))
            search = open_backend(
                settings,
                store,
                dimension=manifest.dimension,
                search=manifest.search if manifest.search in ("flat", "hnsw") else "auto",
                exact=lambda: store.vectors(manifest.dimension),
            )
            shared = search.shares_ledger_transaction
            with store.transaction():
                store.delete_orphan_chunks()
                refill(search, store.entries(manifest.dimension, payload=search.holds_payload))
                articles, chunks = store.counts()
                manifest = manifest.with_(
                    articles=articles,
                    chunks=chunks,
                    # A backend outside the ledger's transaction commits after it (as
                    # index.writer's writes do): the ledger first, then the backend.
                    generation=search.commit() if shared else search.generation + 1,
                    search=search.kind,
                    backend=settings.backend,  # --repair --backend B moves an index to B
                    updated=now_iso(),
                )
                store.set_meta("manifest", manifest.to_dict())
            if not shared:
                search.describe(manifest.to_dict())
                search.commit()
            manifest.write_mirror(layout)
            search.tidy()
            search.close()
        finally:
            store.close()
        for p in layout.folder.iterdir():  # temporary files of interrupted writes
            if p.is_file() and p.name.endswith(".tmp") and DERIVED.fullmatch(p.name):
                p.unlink()
    return check(folder, settings)


def move_unknown(folder: Path) -> list[tuple[Path, Path]]:
    """Move every file and folder the index did not make into `folder/unknown-files/`,
    never over an earlier one of the same name; returns (from, to) for each."""
    layout = Layout(folder)
    if not layout.store.exists():
        raise IndexMissing.at(folder)
    found = [p.unknown for p in check(folder) if p.unknown]
    moved = []
    for name in found:
        target_dir = folder / UNKNOWN_DIR
        target_dir.mkdir(exist_ok=True)
        source, target = folder / name, target_dir / name
        n = 1
        while target.exists() or target.is_symlink():
            target = target_dir / f"{name}.{n}"
            n += 1
        source.rename(target)
        moved.append((source, target))
    return moved
