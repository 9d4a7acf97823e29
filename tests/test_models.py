"""Which embedder questions get (index.models): the export, in the settings' dtype."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.embedder import Embedder, resolve_dtype
from index.settings import DEFAULT_MODEL, Settings

QUESTIONS = [
    "Why won't South Korea arm Ukraine?",
    "Which former pope was laid to rest this week?",
    "NFL player Damar Hamlin suffered an on-field medical emergency this week. He is a valued "
    "member of which team?",
]


@pytest.mark.parametrize("dtype", ["auto", "float32"])
def test_questions_are_embedded_in_the_settings_dtype_as_the_chunks_were(
    dtype: str, private_cache: Path, real_embedder: Embedder
) -> None:
    """A question's vector is made in the dtype ingest used for the chunks (bfloat16 where
    the CPU multiplies it natively, ~2.5 ms a question against ~4 in float32), and agrees
    with the ingest embedder's vector of the same text."""
    from index.models import load_embedder
    from index.openvino_embedder import ExportedEmbedder

    asking = load_embedder(Settings.from_env({"QA_DTYPE": dtype}))(DEFAULT_MODEL)
    assert isinstance(asking, ExportedEmbedder)
    assert asking.dtype == resolve_dtype(dtype)
    vectors = np.stack([asking.embed_query(q) for q in QUESTIONS])
    batch = real_embedder.embed_batch(QUESTIONS)  # ingest's embedder, the settings' dtype
    cosines = (vectors * batch).sum(axis=1)
    assert cosines.min() > (0.9999 if asking.dtype == real_embedder.dtype else 0.99)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
