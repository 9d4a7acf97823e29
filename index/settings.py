"""One Settings value, built at each entry point from flags and the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from index.errors import ConfigError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_CHUNK_TOKENS = 256  # the model's window: paragraphs stay whole (docs/quality.md)
DEFAULT_CHUNK_OVERLAP = 40

# Environment variable -> Settings field; the README's configuration table mirrors this.
ENV_VARS = {
    "QA_INDEX": "index_dir",
    "QA_MODEL": "model",
    "QA_CHUNK_TOKENS": "chunk_tokens",
    "QA_CHUNK_OVERLAP": "chunk_overlap",
    "QA_BATCH_SIZE": "batch_size",
    "QA_DTYPE": "dtype",
    "QA_MAX_FILE_MB": "max_file_mb",
    "QA_BACKEND": "backend",
    "QA_MILVUS_URI": "milvus_uri",
    "QA_MILVUS_TOKEN": "milvus_token",
    "QA_MILVUS_COLLECTION": "milvus_collection",
    "QA_MILVUS_INDEX": "milvus_index",
}

DTYPES = ("auto", "float32", "bfloat16")
BACKENDS = ("local", "milvus")


def default_index_dir() -> Path:
    """The per-user data folder, outside any source tree."""
    from platformdirs import user_data_path

    return user_data_path("newsqa") / "index"


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about where the index is and how it is built."""

    index_dir: Path
    # None: what the index was built with, or the default for a new index. A value that
    # differs from the index's is refused until `qa rebuild` re-embeds with it.
    model: str | None = None
    chunk_tokens: int | None = None  # word-pieces per chunk, title prefix included
    chunk_overlap: int | None = None  # word-pieces of trailing sentences repeated
    batch_size: int = 16
    dtype: str = "auto"  # auto: bfloat16 where the CPU has AMX or AVX512-BF16
    max_file_mb: float = 50.0
    # Where searches run (index.backends): "local" (FAISS and SQLite FTS5 in the index
    # folder) or "milvus" (a server or cluster at milvus_uri, or a Milvus Lite file; default
    # INDEX/milvus.db). The index folder keeps the store, the ledger, either way.
    backend: str = "local"
    milvus_uri: str | None = None
    milvus_token: str | None = None  # never logged
    milvus_collection: str = "newsqa"  # the prefix of its collections' names
    # None: FLAT on Milvus Lite (its AUTOINDEX keeps no raw vectors of growing segments),
    # AUTOINDEX on a server; IVF_FLAT (Lite too), HNSW and DISKANN (a server) when asked.
    milvus_index: str | None = None

    def __post_init__(self) -> None:
        tokens = self.chunk_tokens or DEFAULT_CHUNK_TOKENS
        if tokens < 16:
            raise ConfigError(f"chunk size must be at least 16 tokens, got {tokens}")
        overlap = self.effective_overlap(tokens)
        if not 0 <= overlap < tokens // 2:
            raise ConfigError(
                f"chunk overlap must be between 0 and {tokens // 2 - 1} (under half the chunk "
                f"size), got {overlap}"
            )
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be positive, got {self.batch_size}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.max_file_mb <= 0:
            raise ConfigError(f"file size limit must be positive, got {self.max_file_mb}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")

    def effective_overlap(self, chunk_tokens: int) -> int:
        """The overlap asked for, else the default scaled down for small chunks."""
        if self.chunk_overlap is not None:
            return self.chunk_overlap
        return min(DEFAULT_CHUNK_OVERLAP, chunk_tokens // 5)

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: Any) -> Settings:
        """Settings from `env` (QA_* variables), then `overrides` (flags; None means unset)."""
        values: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}
        for var, name in ENV_VARS.items():
            raw = env.get(var, "").strip()
            if raw:
                values[name] = _convert(var, raw, types[name])
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "index_dir" not in values:
            values["index_dir"] = default_index_dir()
        values["index_dir"] = Path(values["index_dir"]).expanduser()
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _convert(var: str, raw: str, kind: object) -> Any:
    try:
        if "int" in str(kind):
            return int(raw)
        if "float" in str(kind):
            return float(raw)
    except ValueError:
        raise ConfigError(f"{var}={raw!r} is not a number") from None
    return raw
