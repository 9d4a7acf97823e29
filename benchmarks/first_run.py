"""First runs: `qa ingest` and `qa ask` from an empty model cache, on a busy CPU, counted.

    python -m benchmarks.first_run [--runs 50] [--busy 2] [--commands ingest,ask]

Each run is a fresh process with a new, empty per-user cache (XDG_CACHE_HOME), so it makes
the model's export first, as a new user's first command does:

  ingest   qa ingest examples/demo --index NEW       (exports, then embeds through the export)
  ask      qa ask QUESTION --index DEMO -v           (falls back to torch, exports meanwhile)

while `--busy` other processes spin on the CPU (a shared machine's usual state, where the
export's abort showed most: 6 of 8 first runs before the fix, 0 of 10 on an idle CPU).
Counts, by command: clean exits, aborts (killed by a signal, or 134), other failures, runs
that left a temporary export folder behind, and the median seconds of a run.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.cold_start import QUESTION, child_env
from benchmarks.common import ROOT, footer, header

DEMO = ROOT / "examples" / "demo"


@dataclass
class Tally:
    """What the runs of one command came to."""

    ok: int = 0
    aborted: int = 0
    failed: int = 0
    leftovers: int = 0
    seconds: list[float] = field(default_factory=list)
    first_error: str = ""


def busy(n: int) -> list[subprocess.Popen[bytes]]:
    """`n` processes that spin until killed."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def run_once(command: str, work: Path, demo_index: Path) -> tuple[int, float, str, bool]:
    """(exit status, seconds, the first error line, a .tmp folder left) of one first run."""
    cache = Path(tempfile.mkdtemp(dir=work, prefix="cache-"))
    if command == "ingest":
        args = ["-m", "qa", "ingest", str(DEMO), "--index", str(cache / "index")]
    else:
        args = ["-m", "qa", "ask", QUESTION, "--index", str(demo_index), "-v"]
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=child_env(cache), capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    exports = cache / "newsqa" / "exports"
    left = exports.is_dir() and any(p.name.endswith(".tmp") for p in exports.iterdir())
    lines = [ln for ln in proc.stderr.splitlines() if "rror" in ln or "terminate" in ln]
    shutil.rmtree(cache, ignore_errors=True)
    return proc.returncode, seconds, lines[0] if lines else "", left


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=50, help="runs of each command (default 50)")
    p.add_argument("--busy", type=int, default=2, help="spinning processes meanwhile (2)")
    p.add_argument("--commands", default="ingest,ask", help="ingest, ask or both (default)")
    args = p.parse_args()
    commands = [c for c in args.commands.split(",") if c]
    if not commands or set(commands) - {"ingest", "ask"}:
        p.error("--commands takes ingest, ask or ingest,ask")

    header(f"first runs from an empty model cache, {args.busy} busy processes beside them")
    work = Path(tempfile.mkdtemp(prefix="newsqa-first-run-"))
    demo_index = work / "demo-index"
    if "ask" in commands:  # the index every `ask` run reads; its cache is thrown away
        prep = work / "prep-cache"
        subprocess.run(
            [sys.executable, "-m", "qa", "ingest", str(DEMO), "--index", str(demo_index)],
            cwd=ROOT, env=child_env(prep), check=True, capture_output=True,
        )  # fmt: skip
        shutil.rmtree(prep)
    tallies = {c: Tally() for c in commands}
    spinners = busy(args.busy)
    try:
        for i in range(args.runs):
            for command in commands:
                rc, seconds, error, left = run_once(command, work, demo_index)
                t = tallies[command]
                t.seconds.append(seconds)
                t.leftovers += left
                if rc == 0:
                    t.ok += 1
                elif rc < 0 or rc == 128 + signal.SIGABRT:
                    t.aborted += 1
                else:
                    t.failed += 1
                if rc != 0 and not t.first_error:
                    t.first_error = error or f"exit {rc}"
                status = "ok" if rc == 0 else f"exit {rc}: {error}"
                print(f"run {i + 1:3d} {command:6s} {seconds:5.1f} s  {status}", flush=True)
    finally:
        for s in spinners:
            s.kill()
            s.wait()
        shutil.rmtree(work, ignore_errors=True)

    print("\n| command | runs | clean | aborted | other failures | .tmp left | median s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for command, t in tallies.items():
        runs = t.ok + t.aborted + t.failed
        median = statistics.median(t.seconds) if t.seconds else float("nan")
        print(
            f"| {command} | {runs} | {t.ok} | {t.aborted} | {t.failed} | {t.leftovers} "
            f"| {median:.1f} |"
        )
        if t.first_error:
            print(f"\n{command}: first failure: {t.first_error}")
    footer()


if __name__ == "__main__":
    main()
