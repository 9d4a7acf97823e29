"""The index folder's layout and its manifest: what built it, and what it holds."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from index.errors import IndexMismatch

# Moves with the store's schema; index.migrate upgrades each older format (1: before the
# search backend kept its own record of each chunk).
FORMAT_VERSION = 2


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Layout:
    """Where each file of an index lives. The FAISS file is named by generation."""

    folder: Path

    @property
    def store(self) -> Path:
        return self.folder / "store.sqlite3"

    @property
    def manifest(self) -> Path:
        return self.folder / "manifest.json"

    def vectors(self, generation: int) -> Path:
        return self.folder / f"vectors-{generation:06d}.faiss"

    def backend(self) -> str | None:
        """The search backend the manifest's mirror names; None without a readable one."""
        try:
            data = json.loads(self.manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        backend = data.get("backend", "local") if isinstance(data, dict) else None
        return backend if backend in ("local", "milvus") else None

    def all_vector_files(self) -> list[Path]:
        return sorted(self.folder.glob("vectors-*.faiss*"))


@dataclass(frozen=True)
class Manifest:
    """Format, model, chunker settings and counts; kept in the store, mirrored to JSON."""

    model: str
    dimension: int
    chunk_tokens: int
    chunk_overlap: int
    format: int = FORMAT_VERSION
    search: str = "flat"
    backend: str = "local"  # which search backend holds its searches (index.backends)
    articles: int = 0
    chunks: int = 0
    generation: int = 0
    created: str = ""
    updated: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_(self, **changes: Any) -> Manifest:
        return replace(self, **changes)

    @property
    def current(self) -> bool:
        """Whether this version reads the format as it is (index.migrate upgrades older)."""
        return self.format == FORMAT_VERSION

    def check_format(self, folder: Path) -> None:
        if self.format != FORMAT_VERSION:
            raise IndexMismatch(
                f"the index in {folder} has format {self.format}, this version reads "
                f"{FORMAT_VERSION}; run `qa doctor --repair --index {folder}` to upgrade it"
            )

    def check_backend(self, asked: str, folder: Path) -> None:
        """Refuse to search or write an index through a backend that does not hold it."""
        if asked != self.backend:
            raise IndexMismatch(
                f"the index in {folder} is searched by its {self.backend} backend, not "
                f"{asked}; use --backend {self.backend} (QA_BACKEND), or move it with "
                f"`qa doctor --repair --backend {asked} --index {folder}` (nothing is "
                "embedded again)"
            )

    def check_model(self, model: str, folder: Path) -> None:
        """Refuse to mix vectors of two models in one index."""
        if model != self.model:
            raise IndexMismatch(
                f"the index in {folder} was built with the model {self.model!r}, not {model!r}; "
                f"run `qa rebuild --index {folder} --model {model}` to re-embed it, or use "
                f"--model {self.model}"
            )

    def write_mirror(self, layout: Layout) -> None:
        """manifest.json beside the store, replaced atomically; the store's copy is the truth."""
        tmp = layout.manifest.with_name("manifest.json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, layout.manifest)
