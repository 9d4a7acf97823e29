"""The per-user cache of model exports: where an export's folder is, its key, its meta.json,
and the removal of a broken one. Made by `index.model_export`; run by `index.openvino_embedder`.

An export is a folder in the per-user cache, named by `fingerprint(model folder)`:

    model.xml, model.bin   the whole sentence-transformers pipeline (transformer, then its
                           Pooling and Normalize modules, whatever they are) traced as one
                           graph: token ids in; the sentence embedding and the word-pieces'
                           output vectors out (`OUTPUTS`); float32 weights in the .bin file
    tokenizer.json         the fast tokenizer as sentence-transformers configured it
    meta.json              `ExportMeta`: how to tokenise and pad, file sizes, and the vectors
                           sentence-transformers gave for `CANARY`

The folder is built under a temporary name and renamed into place whole, so a half-written
export is never seen.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from index.embedder import resolve_model

log = logging.getLogger(__name__)

FORMAT = 2  # of the export folder; a change makes every old export stale (2: OpenVINO files)
OUTPUTS = ("sentence_embedding", "token_embeddings")  # of the graph, in this order
# Embedded as one padded batch on every load: a corrupt or mismatched export shows here.
CANARY = ("Flooding closed the coastal road.", "What did the central bank decide on interest?")
FILES = ("model.xml", "model.bin", "tokenizer.json")


@dataclass(frozen=True)
class ExportMeta:
    """meta.json of an export folder: what the runtime needs besides the graph and tokenizer."""

    format: int
    key: str  # fingerprint of the model folder it was made from
    folder: str  # that folder, to find stale exports of it
    supported: bool  # False: a marker that the model cannot go this way (see `reason`)
    reason: str = ""
    dimension: int = 0
    max_seq_length: int = 0  # word-pieces per text, special tokens included
    input_names: tuple[str, ...] = ()  # of the graph: input_ids, attention_mask, ...
    pad_id: int = 0
    pad_type_id: int = 0
    padding_side: str = "right"
    truncation_side: str = "right"
    sizes: tuple[tuple[str, int], ...] = ()  # (file, bytes) of FILES
    canary: tuple[tuple[float, ...], ...] = ()  # sentence-transformers' vectors for CANARY
    versions: tuple[tuple[str, str], ...] = ()  # of the libraries that made it, for the record

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> ExportMeta:
        raw = json.loads(text)
        for name in ("input_names", "sizes", "canary", "versions"):
            raw[name] = tuple(tuple(x) if isinstance(x, list) else x for x in raw.get(name, ()))
        return cls(**raw)


def cache_root() -> Path:
    """Where exports live: the per-user cache (XDG_CACHE_HOME on Linux), not the index.

    Keyed by model, not by index: every index of one model shares one export, and an index
    folder stays the plain files its manifest describes.
    """
    from platformdirs import user_cache_path

    return user_cache_path("newsqa") / "exports"


def model_folder(name: str) -> Path | None:
    """The folder of a sentence-transformers model name or path, without loading it."""
    resolved = Path(resolve_model(name))
    if resolved.is_dir():
        return resolved.resolve()
    try:  # a name already in the local Hugging Face cache, as SentenceTransformer finds it
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True)).resolve()
    except (OSError, ValueError) as e:  # not cached, or not a repository name
        log.debug("no local folder for %s: %s", name, e)
        return None


def fingerprint(folder: Path) -> str:
    """A key for the model in `folder`: its path, and every file's relative path, size, mtime.

    A stat per file costs nothing at start, where hashing the weights would cost a second per
    gigabyte; copying, downloading or saving a model changes a file's mtime. The canary check
    on load catches what a fingerprint could miss.
    """
    entries = []
    for base, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            st = (Path(base) / f).stat()  # through symlinks: the Hugging Face cache's blobs
            entries.append((str(Path(base, f).relative_to(folder)), st.st_size, st.st_mtime_ns))
    text = json.dumps([FORMAT, str(folder), entries])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def read_meta(path: Path, key: str) -> ExportMeta | None:
    """The meta.json of an export folder if it is one of this format for `key`, else None."""
    try:
        meta = ExportMeta.from_json((path / "meta.json").read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as e:
        discard(path, f"its meta.json is unreadable ({e})")
        return None
    if meta.format != FORMAT or meta.key != key:
        discard(path, "it was made for another model or format")
        return None
    return meta


def discard(path: Path, why: str) -> None:
    """Remove a broken export folder, so the next ingest or question makes a fresh one."""
    log.warning("ignoring the model export in %s: %s; it is removed", path, why)
    shutil.rmtree(path, ignore_errors=True)
