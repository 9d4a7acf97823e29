"""The project's error hierarchy; every message says what the user can do next."""

from __future__ import annotations


class QAError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(QAError):
    """A setting from a flag or the environment is unusable."""


class IndexMissing(QAError):
    """There is no index where one was expected."""


class IndexMismatch(QAError):
    """The index was built with another model, dimension or format."""


class IndexCorrupt(QAError):
    """The index files disagree with each other."""


class IndexBusy(QAError):
    """Another process holds the write lock."""


class ModelError(QAError):
    """The embedding model could not be loaded."""
