"""The project's error hierarchy; every message says what the user can do next."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class QAError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(QAError):
    """A setting from a flag or the environment is unusable."""


class IndexMissing(QAError):
    """There is no index where one was expected."""

    @classmethod
    def at(cls, folder: Path) -> IndexMissing:
        """The one message every command gives for a folder without an index."""
        return cls(f"no index in {folder}; run `qa ingest PATH --index {folder}` first")


class IndexMismatch(QAError):
    """The index was built with another model, dimension or format."""


class IndexCorrupt(QAError):
    """The index files disagree with each other, or one of them is damaged."""


class IndexBusy(QAError):
    """Another process holds the write lock."""


class ModelError(QAError):
    """The embedding model could not be loaded."""


class BackendUnavailable(QAError):
    """The search backend (a Milvus server) could not be reached, or refused a request."""


# SQLite's own words for a damaged file ("file is not a database", "database disk image is
# malformed"). Other sqlite3 errors (a locked or read-only file, a full disk) are not damage.
_DAMAGE = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}


def is_damage(error: sqlite3.Error) -> bool:
    """Whether SQLite raised `error` because the file itself is damaged."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _DAMAGE


@contextmanager
def store_damage(path: Path) -> Iterator[None]:
    """Turn SQLite's complaint about a damaged file at `path` into IndexCorrupt, naming the
    file and the command that examines it."""
    try:
        yield
    except sqlite3.DatabaseError as e:
        if not is_damage(e):
            raise
        raise IndexCorrupt(
            f"the index store {path} is damaged (SQLite: {e}); "
            f"run `qa doctor --index {path.parent}` to see what can be done"
        ) from e
