"""The connection to Milvus: a pymilvus client whose errors are this project's, and the
Milvus Lite server pymilvus starts for a file, stopped when the last client on it closes."""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from index.errors import BackendUnavailable, ConfigError

SERVER_SCHEMES = ("http://", "https://", "tcp://", "unix:")
CONNECT_TIMEOUT = 5.0  # seconds to reach a server before saying it cannot be reached
# Milvus Lite files open in this process, by how many clients: the last to close stops the
# file's server (pymilvus starts it and would leave it running until this process exits).
_LITE_USERS: dict[str, int] = {}
_LITE_LOCK = threading.Lock()


def connect(uri: str, token: str | None = None) -> Any:
    """A client of the Milvus at `uri` (a server, or a Milvus Lite file): pymilvus's
    MilvusClient, each call raising BackendUnavailable instead of pymilvus's errors."""
    # gRPC's C core logs a line when Milvus Lite forks its server; only errors, please.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    try:
        with warnings.catch_warnings():  # milvus-lite 2.5 imports pkg_resources
            warnings.simplefilter("ignore")
            from pymilvus import MilvusClient
    except ImportError:
        raise ConfigError('the Milvus backend needs pymilvus: pip install -e ".[milvus]"') from None
    # pymilvus logs each failure itself before raising it; the raised error is what this
    # project reports (one line, naming the server), so its own log is kept to fatal ones.
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    with warnings.catch_warnings(), spoken(uri):
        warnings.simplefilter("ignore")
        return Client(MilvusClient(uri, token=token or "", timeout=CONNECT_TIMEOUT), uri)


@contextmanager
def spoken(uri: str) -> Iterator[None]:
    """pymilvus's errors, as the one-line BackendUnavailable that names the server."""
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except MilvusException as e:
        said = getattr(e, "message", "") or str(e)
        raise BackendUnavailable(
            f"Milvus at {uri} (QA_MILVUS_URI): {said}; is it running, and the token right?"
        ) from e


class Client:
    """A MilvusClient whose calls raise BackendUnavailable (an unreachable server, a refused
    request); `close` also stops a Milvus Lite file's server when no client is left on it."""

    def __init__(self, client: Any, uri: str) -> None:
        self._client, self._uri = client, uri
        self._lite: str | None = None
        if not uri.startswith(SERVER_SCHEMES):
            self._lite = str(Path(uri).resolve())
            with _LITE_LOCK:
                _LITE_USERS[self._lite] = _LITE_USERS.get(self._lite, 0) + 1

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with spoken(self._uri):
                return method(*args, **kwargs)

        return call

    def close(self) -> None:
        self._client.close()
        lite, self._lite = self._lite, None  # a second close does nothing
        if lite is None:
            return
        with _LITE_LOCK:
            _LITE_USERS[lite] -= 1
            if _LITE_USERS[lite]:
                return
            del _LITE_USERS[lite]
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(lite)
