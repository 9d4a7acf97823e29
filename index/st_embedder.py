"""Embedding with sentence-transformers (torch) on the CPU, for a model that has no OpenVINO
export (`index.openvino_embedder`)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from index.embedder import Embedder, normalise, resolve_dtype, resolve_model
from index.errors import ModelError
from index.sentence_vectors import read_in_context

log = logging.getLogger(__name__)

POOL_SLICE = 256  # texts per encode call when sentence vectors are pooled too


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model on the CPU, in bfloat16 where that is fast."""

    def __init__(self, name: str, *, dtype: str = "auto", batch_size: int = 16) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.name = name
        self.batch_size = batch_size
        self.dtype = resolve_dtype(dtype)
        kwargs: dict[str, Any] = {"dtype": torch.bfloat16} if self.dtype == "bfloat16" else {}
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

    def embed_with_sentences(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        *,
        progress: bool = False,
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """One forward pass gives both: the pooled text vector, and each sentence's vector as
        the mean of its word-pieces' output vectors (the model's own pooling, over a span).

        Read in its passage, a sentence's vector carries what its words refer to ("it", "the
        treaty"); quotes are scored with these, so a question needs no sentence embedding.
        """
        if self._tokenizer is None or not texts:
            return super().embed_with_sentences(texts, spans, progress=progress)

        def read(rows: list[int]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
            # Longest first, in slices: the batches are as even as encode's own sorting makes
            # them, and only one slice of token vectors is held at a time.
            order = sorted(rows, key=lambda i: -len(texts[i]))
            for at in range(0, len(order), POOL_SLICE):
                part = order[at : at + POOL_SLICE]
                outs: Any = self._model.encode(
                    [texts[i] for i in part], batch_size=self.batch_size, output_value=None
                )  # one dict of tensors per text
                for i, out in zip(part, outs, strict=True):
                    seen = int(out["attention_mask"].sum()) - 2  # less [CLS] and [SEP]
                    tokens = out["token_embeddings"][1 : 1 + seen].float().numpy()
                    yield i, out["sentence_embedding"].float().numpy(), tokens

        return read_in_context(self, texts, spans, read, progress=progress)

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
    return [m.span() for m in re.finditer(r"\S+", text)]
