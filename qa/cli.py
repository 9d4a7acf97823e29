"""The `qa` command: ingest, ask, rebuild, stats. Errors become messages here and only here."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from index.errors import QAError
from index.settings import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_TOKENS, DEFAULT_MODEL, Settings

log = logging.getLogger(__name__)

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
"""


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("index and model")
    g.add_argument("--index", metavar="DIR", type=Path, help="index folder [QA_INDEX]")
    g.add_argument("--model", metavar="NAME", help="embedding model name or path [QA_MODEL]")
    g.add_argument("--chunk-tokens", type=int, metavar="N", help="chunk size [QA_CHUNK_TOKENS]")
    g.add_argument("--chunk-overlap", type=int, metavar="N", help="overlap [QA_CHUNK_OVERLAP]")
    g.add_argument("--batch-size", type=int, metavar="N", help="embedding batch [QA_BATCH_SIZE]")
    g.add_argument("--dtype", choices=("auto", "float32", "bfloat16"), help="[QA_DTYPE]")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa",
        description="Answer questions about a news archive with verbatim, cited quotes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "ingest",
        help="add articles from files and folders",
        description="Add .txt/.md, .html, .json and .jsonl articles. Unchanged "
        "articles are skipped; changed ones replace their old chunks.",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--max-file-mb", type=float, metavar="MB", help="[QA_MAX_FILE_MB]")
    _common(p)

    p = sub.add_parser(
        "ask",
        help="answer a question with quotes",
        description="Answer with up to three verbatim quotes and their passages. "
        "Without QUESTION, read one question a line from standard input.",
    )
    p.add_argument("question", nargs="?", help="the question (omit to read standard input)")
    p.add_argument("-k", type=int, default=5, metavar="N", help="passages to return (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON (JSON Lines from stdin)")
    p.add_argument("--no-passages", action="store_true", help="print the quotes only")
    _common(p)

    p = sub.add_parser(
        "rebuild",
        help="re-chunk and re-embed every article",
        description="Re-chunk and re-embed every stored article (for a new model "
        "or chunk size) and swap the new index in atomically.",
    )
    _common(p)

    p = sub.add_parser("stats", help="what the index holds")
    p.add_argument("--json", action="store_true")
    _common(p)
    return parser


def settings_from(args: argparse.Namespace, env: dict[str, str]) -> Settings:
    return Settings.from_env(
        env,
        index_dir=args.index,
        model=args.model,
        chunk_tokens=args.chunk_tokens,
        chunk_overlap=args.chunk_overlap,
        batch_size=args.batch_size,
        dtype=args.dtype,
        max_file_mb=getattr(args, "max_file_mb", None),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = settings_from(args, dict(os.environ))
        command = {
            "ingest": cmd_ingest,
            "ask": cmd_ask,
            "rebuild": cmd_rebuild,
            "stats": cmd_stats,
        }[args.command]
        return command(args, settings)
    except QAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _tty() -> bool:
    return sys.stderr.isatty()


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from index.build import ingest
    from index.reading import locate, read_file
    from index.records import Article, ReadFailure
    from qa.engine import load_embedder

    max_bytes = int(settings.max_file_mb * 1_000_000)
    files = list(locate(args.paths))
    bar = tqdm(
        files, desc="reading", unit="file", disable=not _tty() or len(files) < 20, file=sys.stderr
    )

    def items() -> Iterator[Article | ReadFailure]:
        for item in bar:
            if isinstance(item, ReadFailure):
                yield item
            else:
                yield from read_file(item[0], ident=f"file:{item[1]}", max_bytes=max_bytes)

    def failed(f: ReadFailure) -> None:
        tqdm.write(f"error: {f}", file=sys.stderr)

    report = ingest(
        settings,
        items(),
        load_embedder(settings),
        progress=_tty(),
        on_failure=failed,
        on_wait=lambda m: print(m, file=sys.stderr),
    )
    bar.close()
    print(f"ingested into {settings.index_dir}: {report.summary()}")
    return 1 if report.failed else 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from qa.answer import EmptyQuestion
    from qa.engine import Engine
    from qa.render import to_json, to_text

    engine = Engine(settings)
    try:
        if args.question is not None:
            answer = engine.ask(args.question, k=args.k)
            print(to_json(answer) if args.json else to_text(answer, passages=not args.no_passages))
            return 0
        status = 0
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                answer = engine.ask(line, k=args.k)
            except EmptyQuestion as e:
                print(f"error: {e}", file=sys.stderr)
                status = 1
                continue
            if args.json:
                print(to_json(answer), flush=True)
            else:
                print(to_text(answer, passages=not args.no_passages) + "\n", flush=True)
        return status
    finally:
        engine.close()


def cmd_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from index.build import rebuild
    from qa.engine import load_embedder

    report = rebuild(
        settings,
        load_embedder(settings),
        progress=_tty(),
        on_wait=lambda m: print(m, file=sys.stderr),
    )
    print(
        f"rebuilt {settings.index_dir}: {report.updated} articles, {report.chunks} chunks "
        f"in {report.seconds:.1f} s"
    )
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from index.reader import IndexReader

    reader = IndexReader(settings.index_dir)
    try:
        s = reader.stats()
    finally:
        reader.close()
    rows = {
        "index": str(s.folder),
        "articles": s.articles,
        "chunks": s.chunks,
        "model": s.model,
        "dimension": s.dimension,
        "search": s.search,
        "size on disk": f"{s.bytes_on_disk / 1e6:.1f} MB",
        "newest article": s.newest_published or "-",
        "last update": s.updated,
    }
    if args.json:
        data = {k.replace(" ", "_"): v for k, v in rows.items()}
        data["bytes_on_disk"] = s.bytes_on_disk
        print(json.dumps(data))
    else:
        width = max(map(len, rows))
        print("\n".join(f"{k:<{width}}  {v}" for k, v in rows.items()))
    return 0
