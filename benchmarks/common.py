"""What every benchmark needs: the machine's description, percentiles, tables, child processes.

Absolute timings drift on a shared machine, so every script measures its baseline in the same
run, interleaved with what it compares, and reports medians.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"  # real text lives in ../shared/eval when it is there


def default_work() -> Path:
    """Where indexes and caches are kept between runs (never inside the repository)."""
    return Path(os.environ.get("BENCH_WORK", Path(tempfile.gettempdir()) / "newsqa-bench"))


def machine() -> str:
    """CPU model, cores, the instruction sets that matter for bfloat16, memory, load."""
    model, flags = platform.processor() or "unknown CPU", set[str]()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("", "unknown CPU", "x86_64"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa: list[str] = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{model}, {os.cpu_count()} cores ({' '.join(isa) or '?'}){mem}; "
        f"Python {platform.python_version()}; {versions()}"
    )


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("torch", "sentence-transformers", "openvino", "faiss-cpu", "numpy"):
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            out.append(f"{name} -")
    return ", ".join(out)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def header(title: str) -> None:
    print(f"# {title}\n")
    print(f"machine: {machine()}")
    print(f"started: {time.strftime('%Y-%m-%d %H:%M:%S')}, {load()}\n", flush=True)


def footer() -> None:
    print(f"\nfinished: {time.strftime('%Y-%m-%d %H:%M:%S')}, {load()}", flush=True)


def median(values: Sequence[float]) -> float:
    return float(np.median(values)) if len(values) else float("nan")


def p95(values: Sequence[float]) -> float:
    return float(np.percentile(values, 95)) if len(values) else float("nan")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, so the output can go into docs/benchmarks.md as it is."""

    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class ChildResult:
    """A child process's last stdout line as JSON, its wall time and peak resident memory."""

    data: dict
    seconds: float
    max_rss_mb: float


def run_child(args: Sequence[str], *, stdin: str | None = None) -> ChildResult:
    """Run `python -m ...args` from the repository root; its last line of stdout is JSON."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = proc.communicate(stdin)
    seconds = time.perf_counter() - started
    # wait4 is gone once communicate() reaped it; the child reports its own peak instead.
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited with {proc.returncode}")
    lines = [line for line in out.splitlines() if line.strip()]
    data = json.loads(lines[-1]) if lines else {}
    return ChildResult(data, seconds, float(data.get("max_rss_mb", float("nan"))))


def max_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """This process's resident memory now (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
