"""The `qa` command. Each subcommand lives in qa/commands/NAME.py with `add_parser` and `run`.

Errors of the project (QAError) become one-line messages and exit status 2 here, and only here.
Exit statuses: 0 done; 1 done, with some inputs failed or problems found (ingest, doctor); 2 a
usage or project error (a one-line message says what to do; `qa` alone prints the help);
130 interrupted; 141 standard output closed early (`qa stats | head -1`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from index.errors import QAError, store_damage
from index.manifest import Layout
from index.settings import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_TOKENS, DEFAULT_MODEL, Settings

# Order is the order of `qa --help`. A module is imported to build the parser, so command
# modules import their heavy dependencies inside `run`.
COMMANDS = (
    "ingest", "ask", "timeline",
    "list", "show", "delete", "prune", "export",  # managing the archive (index.manage)
    "rebuild", "stats", "doctor", "watch", "eval", "bot",
)  # fmt: skip

DEMO_QUESTION = "Why won't South Korea arm Ukraine?"

EPILOG = f"""\
examples:
  qa ingest examples/demo            add articles (files or folders, recursively)
  qa ask "{DEMO_QUESTION}"
  qa ask --json < questions.txt      one question a line, one JSON answer a line
  qa rebuild --model /path/to/model  re-embed everything with another model
  qa stats

environment (flags win):
  QA_INDEX          index folder (default: the per-user data folder, see `qa stats`)
  QA_MODEL          sentence-transformers model name or folder (default {DEFAULT_MODEL},
                    loaded from the bundled package; nothing is downloaded)
  QA_CHUNK_TOKENS   word-pieces per chunk (default {DEFAULT_CHUNK_TOKENS})
  QA_CHUNK_OVERLAP  word-pieces repeated between chunks (default {DEFAULT_CHUNK_OVERLAP})
  QA_BATCH_SIZE     texts per embedding batch (default 16)
  QA_DTYPE          auto | float32 | bfloat16 (auto: bfloat16 where the CPU has AMX/AVX512-BF16)
  QA_MAX_FILE_MB    larger input files are refused unread (default 50)
  QA_BACKEND        local | milvus: where searches run (default local: FAISS and SQLite in
                    the index folder; milvus needs pip install -e ".[milvus]")
  QA_MILVUS_URI     a Milvus server or cluster (http://host:19530) or a Milvus Lite file
                    (default INDEX/milvus.db)
  QA_MILVUS_TOKEN   its token (user:password, or an API key)
  QA_MILVUS_COLLECTION  the prefix of its collections' names (default newsqa)
  QA_MILVUS_INDEX   AUTOINDEX | FLAT | IVF_FLAT (Milvus Lite: these) | HNSW | DISKANN
"""


def add_common(p: argparse.ArgumentParser) -> None:
    """The index and model options every command takes."""
    g = p.add_argument_group("index and model")
    g.add_argument("--index", metavar="DIR", type=Path, help="index folder [QA_INDEX]")
    g.add_argument("--model", metavar="NAME", help="embedding model name or path [QA_MODEL]")
    g.add_argument("--chunk-tokens", type=int, metavar="N", help="chunk size [QA_CHUNK_TOKENS]")
    g.add_argument("--chunk-overlap", type=int, metavar="N", help="overlap [QA_CHUNK_OVERLAP]")
    g.add_argument("--batch-size", type=int, metavar="N", help="embedding batch [QA_BATCH_SIZE]")
    g.add_argument("--dtype", choices=("auto", "float32", "bfloat16"), help="[QA_DTYPE]")
    g.add_argument(
        "--backend",
        choices=("local", "milvus"),
        help="where searches run: local (FAISS, SQLite) or milvus [QA_BACKEND; default: "
        "the index's own, else local]",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")


def version() -> str:
    """'qa (newsqa) 0.1.0': the installed distribution's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return f"qa (newsqa) {installed('newsqa')}"
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "qa (newsqa) unknown version (not installed)"


class _Version(argparse.Action):
    """--version, with the version looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        print(version())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa",
        description="Answer questions about a news archive with verbatim, cited quotes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"qa.commands.{name}")
        p = module.add_parser(sub)
        add_common(p)
        p.set_defaults(run=module.run)
    return parser


def settings_from(args: argparse.Namespace, env: dict[str, str]) -> Settings:
    """The settings of a command: its flags over the environment over the defaults; and the
    index's own search backend where neither flag nor QA_BACKEND names one."""
    settings = Settings.from_env(
        env,
        index_dir=args.index,
        model=args.model,
        chunk_tokens=args.chunk_tokens,
        chunk_overlap=args.chunk_overlap,
        batch_size=args.batch_size,
        dtype=args.dtype,
        max_file_mb=getattr(args, "max_file_mb", None),
        backend=args.backend,
    )
    if args.backend is None and "QA_BACKEND" not in env:
        built = Layout(settings.index_dir).backend()
        if built is not None and built != settings.backend:
            settings = settings.with_(backend=built)
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(sys.argv[1:] if argv is None else list(argv))
    except BrokenPipeError:
        return _closed_pipe()


def _main(argv: list[str]) -> int:
    parser = build_parser()
    if not argv:
        # As git does: the help, not a one-line complaint, for someone finding their way; the
        # status of any other usage error (argparse's 2), since no command ran.
        parser.print_help()
        return 2
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # FAISS's loader tries its AVX512 and AVX2 builds in turn and logs each one it cannot
    # load at INFO, with the import error: how FAISS found its library, nothing a user of -v
    # can act on.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    if not args.verbose:
        # Our readers name each file they cannot use; trafilatura's own notes are noise.
        logging.getLogger("trafilatura").setLevel(logging.ERROR)
        logging.getLogger("pypdf").setLevel(logging.ERROR)  # "EOF marker not found" and such
    try:
        settings = settings_from(args, dict(os.environ))
        # Readers name a damaged store where they open it (index/reader.py); a writer that
        # meets a damaged page mid-run is named here.
        with store_damage(Layout(settings.index_dir).store):
            status = int(args.run(args, settings))
        sys.stdout.flush()  # a reader that went away is found here, not at exit
        return status
    except QAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _closed_pipe() -> int:
    """Standard output's reader went away (`qa stats | head -1`): stop quietly.

    What the Python docs advise (signal module, "Note on SIGPIPE"): point standard output at
    /dev/null, so the flush at exit cannot fail again. The status is 141 (128 + SIGPIPE),
    what a shell reports for `cat`, `grep` or `yes` ended by that signal in the same place,
    so scripts (`set -o pipefail`) see qa as they see those tools.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by an object with no descriptor
        return 141
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    return 141
