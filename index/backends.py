"""Which search backend an index uses (`Settings.backend`): the local one, or Milvus."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from index.backend import SearchBackend
from index.local_backend import LocalBackend
from index.settings import Settings
from index.store import Store

Vectors = Callable[[], tuple[np.ndarray, np.ndarray]]


def open_backend(
    settings: Settings,
    store: Store,
    *,
    dimension: int,
    search: str = "auto",
    exact: Vectors | None = None,
) -> SearchBackend:
    """The search backend of the index in `settings.index_dir`, whose ledger is `store`.

    `search` and `exact` are the local backend's (flat or HNSW; the ledger's float32
    vectors); Milvus takes its URI, token, collection prefix and index type from settings.
    """
    if settings.backend == "milvus":
        from index.milvus_backend import MilvusBackend
        from index.milvus_client import SERVER_SCHEMES

        uri = settings.milvus_uri or str(settings.index_dir / "milvus.db")
        server = uri.startswith(SERVER_SCHEMES)
        return MilvusBackend(
            uri,
            token=settings.milvus_token,
            prefix=settings.milvus_collection,
            dimension=dimension,
            index_type=settings.milvus_index or ("AUTOINDEX" if server else "FLAT"),
        )
    return LocalBackend(store, settings.index_dir, dimension=dimension, search=search, exact=exact)
