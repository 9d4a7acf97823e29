"""`qa ask` in a fresh process answers through the model's export without importing torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO_ANSWER_START, DEMO_QUESTION, ROOT

pytestmark = pytest.mark.slow

# `qa ask` as the console script runs it, then what the process had imported.
CHILD = """
import sys
from qa.cli import main
status = main(sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "sentence_transformers",
                                                         "transformers"})
print("status", status, "heavy", ",".join(heavy) or "none")
"""


def ask(index: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, "ask", DEMO_QUESTION, "--index", str(index), *flags],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def test_qa_ask_without_torch(demo_index: Path) -> None:
    from index.model_export import ensure_export
    from index.settings import DEFAULT_MODEL

    assert ensure_export(DEFAULT_MODEL) is not None  # as the ingest of the index would have
    proc = ask(demo_index, "-v")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith("status 0 heavy none"), proc.stdout
    first = proc.stdout.split("\n1. ", 1)[1].split("\n2. ", 1)[0]
    assert DEMO_ANSWER_START in " ".join(first.split())
    assert "embedding with OpenVINO" in proc.stderr


def test_first_qa_ask_says_it_prepares_the_model(
    demo_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no export yet, the first question says what the slow first step is, makes the
    export (torch loaded for it alone), answers through it, and leaves no partial folder."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    proc = ask(demo_index)
    assert proc.returncode == 0, proc.stderr
    assert "preparing the model" in proc.stderr and "once" in proc.stderr
    assert "heavy sentence_transformers,torch,transformers" in proc.stdout
    assert DEMO_ANSWER_START in " ".join(proc.stdout.split())
    exports = list((cache / "newsqa" / "exports").iterdir())
    assert len(exports) == 1 and not exports[0].name.endswith(".tmp"), exports
    again = ask(demo_index)
    assert again.stdout.rstrip().endswith("status 0 heavy none"), again.stdout
    assert "preparing" not in again.stderr
