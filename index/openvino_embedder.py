"""Embedding without torch: a model's cached export, run by OpenVINO and `tokenizers`.

Importing sentence-transformers (and torch under it) takes seconds, longer than the rest of a
`qa ask` together; OpenVINO and tokenizers import in a fraction of one. And OpenVINO's fused
kernels embed a batch faster than torch does, most of all in bfloat16. So questions and ingest
both run an export of the model made once with torch by `index.model_export` (before the first
ingest or rebuild embeds, or by the first question that had to load torch); this module never
imports torch.

The export's folder in the per-user cache is described in `index.export_cache`. A folder that
fails any check (format, key, sizes, loading, or the canary vectors) is removed with a warning
and the caller falls back to sentence-transformers.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.embedder import Embedder, normalise, resolve_dtype
from index.export_cache import (
    CANARY,
    OUTPUTS,
    ExportMeta,
    cache_root,
    discard,
    fingerprint,
    model_folder,
    read_meta,
)
from index.sentence_vectors import read_in_context

log = logging.getLogger(__name__)

MIN_COSINE = 0.9999  # OpenVINO float32 and torch float32 agree to ~1e-6; less means broken
MIN_COSINE_BF16 = 0.999  # bfloat16 rounds: 0.99994 at worst over 300 news chunks


def open_export(
    name: str, *, batch_size: int = 16, dtype: str = "float32", throughput: bool = False
) -> ExportedEmbedder | None:
    """The embedder of the model `name`'s export if a sound one is cached, else None.

    For questions as it stands; for ingest with `throughput` and the settings' `dtype`.
    Each reason for None is logged: at INFO for "none yet" or "not supported", as a warning
    (and the folder removed) for a broken one.
    """
    folder = model_folder(name)
    if folder is None:
        log.info("%s: no local model folder, so no export", name)
        return None
    key = fingerprint(folder)
    path = cache_root() / key
    meta = read_meta(path, key)
    if meta is None:
        log.info("%s: no export yet (%s)", name, path)
        return None
    if not meta.supported:
        log.info("%s: cannot be exported: %s", name, meta.reason)
        return None
    for file, size in meta.sizes:
        actual = (path / file).stat().st_size if (path / file).exists() else -1
        if actual != size:
            discard(path, f"{file} has {actual} bytes, not {size}")
            return None
    try:
        embedder = ExportedEmbedder(
            name, path, meta, batch_size=batch_size, dtype=dtype, throughput=throughput
        )
    except Exception as e:  # OpenVINO's load errors share no type; any of them means broken
        discard(path, f"it does not load ({type(e).__name__}: {e})")
        return None
    cosine = agreement(embedder.embed_batch(CANARY), np.asarray(meta.canary, dtype=np.float32))
    if not cosine >= (MIN_COSINE if embedder.dtype == "float32" else MIN_COSINE_BF16):  # NaN too
        discard(path, f"its vectors disagree with sentence-transformers (cosine {cosine:.6f})")
        return None
    log.info("%s: embedding with OpenVINO (%s) from %s", name, embedder.dtype, path)
    return embedder


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """The lowest cosine between matching rows of two (n, dim) arrays; -1 if shapes differ."""
    if a.shape != b.shape or not len(a):
        return -1.0
    return float((normalise(a) * normalise(b)).sum(axis=1).min())


class ExportedEmbedder(Embedder):
    """A sentence-transformers model's export, run by OpenVINO on the CPU; no torch imported.

    For questions (the default), one batch at a time on every core; for ingest
    (`throughput`), with a stream of batches per core. In bfloat16 where the CPU multiplies it
    natively (`dtype="auto"`): 3.4-3.6x sentence-transformers' float32 encode on an
    AVX512-BF16 machine, where torch's own bfloat16 gave 2.2-2.4x, and 4.3x with AMX.
    """

    def __init__(
        self,
        name: str,
        path: Path,
        meta: ExportMeta,
        *,
        batch_size: int = 16,
        dtype: str = "float32",
        throughput: bool = False,
    ) -> None:
        import openvino as ov
        from tokenizers import Tokenizer

        self.name = name
        self.batch_size = batch_size
        self.dimension = meta.dimension
        self.max_tokens = meta.max_seq_length - 2  # as SentenceTransformerEmbedder counts
        self.dtype = resolve_dtype(dtype)
        self._meta = meta
        config = {
            "INFERENCE_PRECISION_HINT": "bf16" if self.dtype == "bfloat16" else "f32",
            "PERFORMANCE_HINT": "THROUGHPUT" if throughput else "LATENCY",
        }
        self._model: Any = ov.Core().compile_model(str(path / "model.xml"), "CPU", config)
        self._jobs = int(self._model.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        # A batch is padded to a multiple of 16 word-pieces, the rows of an AMX tile: 5-8%
        # more texts a second at ingest than to its longest text (bfloat16, 400 news
        # chunks), and a question's few shapes are ready made (2.2 ms against 2.7, AMX).
        # In float32 one question's padding would only cost (3.7 ms -> 4.0).
        self._pad_to = 16 if throughput or self.dtype == "bfloat16" else 1
        graph_inputs = {i.any_name for i in self._model.inputs}
        if graph_inputs != set(meta.input_names):
            raise ValueError(f"the graph takes {sorted(graph_inputs)}, not {meta.input_names}")
        self._outputs = [self._model.output(n) for n in OUTPUTS]
        self._tokenizer_json = (path / "tokenizer.json").read_text()
        # Truncation as sentence-transformers asks of its tokenizer: longest_first to
        # max_seq_length, special tokens counted. Padding is done below, per batch.
        self._tokenizer = Tokenizer.from_str(self._tokenizer_json)
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(
            meta.max_seq_length, strategy="longest_first", direction=meta.truncation_side
        )
        # An untruncated copy counts word-pieces for chunking; questions never need it, and
        # parsing a tokenizer costs ~45 ms of a cold start, so it is made on first use.
        self._bare: Any = None

    def embed_batch(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        for rows, pooled, _ in self._passes(encodings, range(len(texts)), tokens=False):
            out[rows] = pooled
        return normalise(out)

    def embed_with_sentences(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        *,
        progress: bool = False,
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """As `SentenceTransformerEmbedder.embed_with_sentences`: one pass gives the text's
        vector and its word-pieces' output vectors, which its sentences are pooled from.
        Each text is tokenised once, for the pass and for the pooling alike."""
        if not texts:
            return super().embed_with_sentences(texts, spans, progress=progress)
        encodings = self._tokenizer.encode_batch(list(texts))
        offsets = [
            [o for o, special in zip(e.offsets, e.special_tokens_mask, strict=True) if not special]
            for e in encodings
        ]

        def read(rows: list[int]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
            for batch, pooled, words in self._passes(encodings, rows, tokens=True):
                for r, (i, pieces) in enumerate(batch):
                    yield i, pooled[r], words[r, pieces]  # type: ignore[index]

        return read_in_context(self, texts, spans, read, offsets=offsets, progress=progress)

    def _passes(
        self, encodings: Sequence[Any], rows: Iterable[int], *, tokens: bool
    ) -> Iterator[tuple[Any, np.ndarray, np.ndarray | None]]:
        """The encodings at `rows` through the graph in padded batches, longest first so
        each pads little, as many batches in flight as the compiled model has streams.

        Yields batches in order: (rows, pooled (b, dimension), word-piece outputs
        (b, width, dimension) or None); with `tokens`, `rows` are (index, the columns of its
        word-pieces less special tokens) pairs. The caller's work on one batch (pooling its
        sentences) overlaps the batches still running.

        The requests are driven from this thread, with no completion callback: a Python
        callback runs on OpenVINO's worker threads, and the last reference it dropped there
        (to itself, to this embedder) could free the compiled model on one of the threads
        its destructor joins, which aborts the process ("Resource deadlock avoided").
        """
        batches = self._batches(encodings, rows)
        streams = min(self._jobs, len(batches))
        requests = [self._model.create_infer_request() for _ in range(streams)]
        flying: deque[tuple[int, Any]] = deque()  # (batch, its request), oldest first

        def collect() -> tuple[Any, np.ndarray, np.ndarray | None]:
            at, request = flying.popleft()
            request.wait()
            pooled = request.get_tensor(self._outputs[0]).data.copy()  # the buffer is reused
            if not tokens:
                return batches[at], pooled, None
            words = request.get_tensor(self._outputs[1]).data.copy()
            width = words.shape[1]
            pieces = []
            for i in batches[at]:
                e = encodings[i]
                shift = width - len(e.ids) if self._meta.padding_side == "left" else 0
                plain = np.flatnonzero(np.asarray(e.special_tokens_mask) == 0)
                pieces.append((i, plain + shift))
            return pieces, pooled, words

        try:
            for at, batch in enumerate(batches):
                if len(flying) == len(requests):
                    yield collect()  # the oldest; the others keep running meanwhile
                request = requests[at % len(requests)]  # round robin: the one just collected
                request.start_async(self._feed([encodings[i] for i in batch]))
                flying.append((at, request))
            while flying:
                yield collect()
        finally:
            for _, request in flying:  # a consumer that stopped early: let them finish here
                request.wait()

    def _batches(self, encodings: Sequence[Any], rows: Iterable[int]) -> list[list[int]]:
        """The rows in batches, longest first, so each batch pads little."""
        order = sorted(rows, key=lambda i: -len(encodings[i].ids))
        return [order[b : b + self.batch_size] for b in range(0, len(order), self.batch_size)]

    @property
    def compiled(self) -> Any:
        """The compiled OpenVINO model (benchmarks.shapes runs its batches itself)."""
        return self._model

    @property
    def streams(self) -> int:
        """How many batches it keeps in flight (OpenVINO's optimal number of requests)."""
        return self._jobs

    def feeds(self, texts: Sequence[str]) -> list[dict[str, np.ndarray]]:
        """The graph's inputs for these texts, batch by batch, as `embed_batch` runs them."""
        encodings = self._tokenizer.encode_batch(list(texts))
        return [
            self._feed([encodings[i] for i in batch])
            for batch in self._batches(encodings, range(len(texts)))
        ]

    def _feed(self, encodings: list[Any]) -> dict[str, np.ndarray]:
        """The graph's inputs for one batch, padded to its longest text, rounded up to a
        multiple of `pad_to` word-pieces."""
        width = -(-max(len(e.ids) for e in encodings) // self._pad_to) * self._pad_to
        m = self._meta
        ids = np.full((len(encodings), width), m.pad_id, dtype=np.int64)
        types = np.full((len(encodings), width), m.pad_type_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            cols = slice(width - n, width) if m.padding_side == "left" else slice(0, n)
            ids[row, cols], types[row, cols], mask[row, cols] = e.ids, e.type_ids, 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {n: feed[n] for n in m.input_names}

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        if not texts:
            return []
        if self._bare is None:
            from tokenizers import Tokenizer

            bare = Tokenizer.from_str(self._tokenizer_json)
            bare.no_truncation()
            bare.no_padding()
            self._bare = bare
        encodings = self._bare.encode_batch(list(texts), add_special_tokens=False)
        return [list(e.offsets) for e in encodings]
