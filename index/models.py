"""Which embedder a model name gets: the policy ingest, rebuild and questions share.

The model's cached export (index/openvino_embedder.py) where it can be made, in the settings'
dtype (bfloat16 where the CPU multiplies it natively) for questions and ingest alike;
sentence-transformers (torch) otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from index.embedder import Embedder
from index.settings import Settings
from index.st_embedder import SentenceTransformerEmbedder

log = logging.getLogger(__name__)


def load_embedder(
    settings: Settings, *, writing: bool = False, notify: Callable[[str], None] | None = None
) -> Callable[[str], Embedder]:
    """A factory of the real embedder for a model name.

    The model's cached export (index/openvino_embedder.py): OpenVINO and tokenizers, ready in a
    fraction of a second where importing torch and sentence-transformers takes seconds, and
    faster per batch. In the settings' dtype, bfloat16 where that is fast: a question's
    vector then comes in ~2.5 ms instead of ~4 (AMX; both cores busy: ~3 against ~8), and
    it is made as the chunks' were. When `writing` (ingest, rebuild: long runs of batches)
    with a stream of batches per core.
    The first use of a model makes its export (torch is imported then, and `notify` told);
    a model that cannot be exported is embedded by sentence-transformers.
    """

    def make(model: str) -> Embedder:
        from index.model_export import ensure_export
        from index.openvino_embedder import open_export

        ensure_export(model, notify)
        fast = open_export(
            model,
            batch_size=settings.batch_size,
            dtype=settings.dtype,
            throughput=writing,
        )
        if fast is not None:
            return fast
        log.info("%s: embedding with sentence-transformers (torch)", model)
        return SentenceTransformerEmbedder(
            model, dtype=settings.dtype, batch_size=settings.batch_size
        )

    return make
