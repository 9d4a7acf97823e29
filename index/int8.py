"""Unit vectors as 8-bit rows, for the sentence vectors kept in the store.

A blob is n float32 scales followed by n x d int8 codes; row i is codes[i] * scales[i].
A quarter of float32's size, and cosines move by about 0.002 (docs/quality.md), far under
what separates a good quote from a poor one.
"""

from __future__ import annotations

import numpy as np


def pack(rows: np.ndarray) -> bytes:
    """(n, d) float32 -> blob; a zero row stays zero."""
    rows = np.asarray(rows, dtype=np.float32)
    scales = np.abs(rows).max(axis=1) / 127.0
    safe = np.where(scales > 0, scales, 1.0)[:, None]
    codes = np.clip(np.rint(rows / safe), -127, 127).astype(np.int8)
    return scales.astype(np.float32).tobytes() + codes.tobytes()


def unpack(blob: bytes, dimension: int) -> np.ndarray:
    """blob -> (n, dimension) float32 rows, renormalised to unit length (zero rows stay)."""
    n, rest = divmod(len(blob), 4 + dimension)
    if rest:
        raise ValueError(f"a blob of {len(blob)} bytes does not hold {dimension}-d int8 rows")
    scales = np.frombuffer(blob, dtype=np.float32, count=n)
    codes = np.frombuffer(blob, dtype=np.int8, offset=4 * n).reshape(n, dimension)
    rows = codes.astype(np.float32) * scales[:, None]
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)
