"""Upgrading an index written by an older version: the one place that knows older stores.

`FORMAT_VERSION` (index.manifest) moves with the schema; each step below takes a store from
one format to the next inside one transaction, so an upgrade is whole or not at all. A
writer upgrades the store it opens; a reader that finds an older one upgrades it first
under the write lock (`upgrade_folder`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from index.errors import IndexMismatch, store_damage
from index.lock import write_lock
from index.manifest import FORMAT_VERSION, Layout, Manifest
from index.store import Store
from index.textnorm import fold

log = logging.getLogger(__name__)


def _search_entries(store: Store, manifest: Manifest) -> None:
    """1 -> 2: the search backend gets its own record of each chunk (index.local_backend's
    `search_entries`), filled from the ledger, and of its generation; the keyword rows and
    the vector file stay as they are. (Format 1's stores that lack the aliases or sentence
    vectors tables get them from the schema when opened for writing.)"""
    db = store.connection
    rows = db.execute(
        "SELECT c.id, a.title, a.published, a.source, a.url, "
        'substr(a.text, c.start + 1, c."end" - c.start) '
        "FROM chunks c JOIN articles a ON a.rowid = c.article"
    )
    db.executemany(
        "INSERT OR REPLACE INTO search_entries(id, published, source, url, body) "
        "VALUES (?,?,?,?,?)",
        (
            (cid, published, source, url, fold(f"{title}\n{text}"))
            for cid, title, published, source, url, text in rows
        ),
    )
    store.set_meta("search", {"generation": manifest.generation})


# STEPS[n - 1] takes a store of format n to format n + 1.
STEPS: list[Callable[[Store, Manifest], None]] = [_search_entries]


def upgrade(store: Store, folder: Path) -> Manifest | None:
    """Bring a store opened for writing to FORMAT_VERSION; its manifest (None: empty)."""
    data = store.get_meta("manifest")
    if data is None:
        return None
    manifest = Manifest.from_dict(data)
    if manifest.format > FORMAT_VERSION:
        raise IndexMismatch(
            f"the index in {folder} has format {manifest.format}, newer than this version "
            f"reads ({FORMAT_VERSION}); upgrade newsqa, or run `qa rebuild --index {folder}`"
        )
    if manifest.format == FORMAT_VERSION:
        return manifest
    log.warning(
        "upgrading the index in %s from format %d to %d (once)",
        folder,
        manifest.format,
        FORMAT_VERSION,
    )
    with store.transaction():
        for step in STEPS[manifest.format - 1 :]:
            step(store, manifest)
        manifest = manifest.with_(format=FORMAT_VERSION)
        store.set_meta("manifest", manifest.to_dict())
    manifest.write_mirror(Layout(folder))
    return manifest


def upgrade_folder(folder: Path, on_wait: Callable[[str], None] | None = None) -> None:
    """Upgrade the index in `folder` under the write lock (a reader found it older)."""
    with write_lock(folder, on_wait):
        store = Store(Layout(folder).store)
        try:
            upgrade(store, folder)
        finally:
            store.close()


def ensure_current(folder: Path) -> None:
    """Upgrade the index in `folder` if an older version wrote it (readers call this before
    opening it read-only: they may then count on every table of this version)."""
    store = Store(Layout(folder).store, readonly=True)
    try:
        with store_damage(store.path):
            data = store.get_meta("manifest")
    finally:
        store.close()
    if data is not None and Manifest.from_dict(data).format < FORMAT_VERSION:
        upgrade_folder(folder)
