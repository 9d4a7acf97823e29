"""The `qa` command end to end with the real model, FAISS and SQLite."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from qa.cli import main
from tests.conftest import DEMO_ANSWER_START, DEMO_DIR, DEMO_QUESTION, ROOT

QUOTE_KEYS = {
    "also_reported_by",
    "text",
    "article_id",
    "title",
    "url",
    "published",
    "chunk_id",
    "start",
    "end",
    "score",
}
PASSAGE_KEYS = {"chunk_id", "article_id", "title", "url", "published", "text", "score"}
PASSAGE_KEYS |= {"rank", "relevance"}  # the order shown, and what it follows


def article_texts(index: Path) -> dict[str, str]:
    with sqlite3.connect(index / "store.sqlite3") as db:
        return dict(db.execute("SELECT id, text FROM articles"))


def check_schema(answer: dict, texts: dict[str, str]) -> None:
    assert set(answer) == {
        "question", "abstained", "quotes", "passages", "filters", "filters_text", "widened"
    }  # fmt: skip
    assert set(answer["filters"]) == {"since", "until", "source", "recent", "phrase"}
    assert isinstance(answer["abstained"], bool)
    for q in answer["quotes"]:
        assert set(q) == QUOTE_KEYS
        assert texts[q["article_id"]][q["start"] : q["end"]] == q["text"]
    for p in answer["passages"]:
        assert set(p) == PASSAGE_KEYS
        assert p["text"] in texts[p["article_id"]]


def test_demo_question_first_quote(demo_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", DEMO_QUESTION, "--index", str(demo_index)]) == 0
    out = capsys.readouterr().out
    first = out.split("\n1. ", 1)[1].split("\n2. ", 1)[0]
    assert DEMO_ANSWER_START in " ".join(first.split())
    assert "NATO asked to strengthen South Korea, 2023-01-30" in first


def test_ask_json_schema_and_offsets(demo_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", DEMO_QUESTION, "--json", "-k", "3", "--index", str(demo_index)]) == 0
    answer = json.loads(capsys.readouterr().out)
    check_schema(answer, article_texts(demo_index))
    assert answer["question"] == DEMO_QUESTION and not answer["abstained"]
    assert 1 <= len(answer["quotes"]) <= 3 and len(answer["passages"]) == 3
    first = answer["quotes"][0]
    assert DEMO_ANSWER_START in first["text"]
    assert first["text"].endswith("difficult to provide weapons to Ukraine.")
    assert (first["title"], first["published"]) == (
        "NATO asked to strengthen South Korea",
        "2023-01-30T13:46:00",
    )


def test_stdin_batch_in_a_real_process(demo_index: Path) -> None:
    """`python -m qa ask --json` over several questions: one JSON answer a line."""
    questions = [
        DEMO_QUESTION,
        "Who did the NATO chief meet in Seoul?",
        "",
        "What did Stoltenberg say about China?",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QA_INDEX": str(demo_index)}
    proc = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "--json"],
        input="\n".join(questions) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3
    texts = article_texts(demo_index)
    answers = [json.loads(line) for line in lines]
    for answer in answers:
        check_schema(answer, texts)
    assert [a["question"] for a in answers] == [q for q in questions if q]
    assert DEMO_ANSWER_START in answers[0]["quotes"][0]["text"]


def test_ingest_mixed_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(DEMO_DIR, corpus / "demo")
    (corpus / "extra.jsonl").write_text(
        json.dumps(
            {
                "id": "x1",
                "title": "Kabul floods",
                "text": "Heavy rain flooded Kabul on "
                "Tuesday. Hundreds of homes were damaged, officials said.",
            }
        )
        + "\n"
        "{broken\n"
    )
    (corpus / "zero.txt").write_bytes(b"")
    (corpus / "bin.md").write_bytes(b"\x00\x01\x02")
    index = tmp_path / "index"
    assert main(["ingest", str(corpus), "--index", str(index)]) == 1
    captured = capsys.readouterr()
    assert "2 added" in captured.out and "3 failed" in captured.out
    assert "extra.jsonl:2" in captured.err and "zero.txt" in captured.err
    assert "bin.md" in captured.err
    assert main(["ingest", str(corpus), "--index", str(index)]) == 1
    assert "2 unchanged" in capsys.readouterr().out
    assert main(["stats", "--index", str(index), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["articles"] == 2 and stats["newest_article"] == "2023-01-30T13:46:00"
    assert stats["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert main(["ask", "Which city flooded?", "--json", "--index", str(index)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["quotes"][0]["article_id"] == "x1"


def test_ingest_counts_files_passed_over_gives_a_source_and_says_when_it_finds_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "floods.txt").write_text("Kabul floods\n\nHeavy rain flooded Kabul on Tuesday.\n")
    (corpus / "budget.xlsx").write_bytes(b"PK\x03\x04")
    (corpus / "photo.jpg").write_bytes(b"\xff\xd8")
    (corpus / ".hidden.txt").write_text("Not read\n\nHidden files are ignored.\n")
    index = tmp_path / "index"
    assert main(["ingest", str(corpus), "--index", str(index), "--source", "Kabul Times"]) == 0
    out, err = capsys.readouterr()
    assert "1 added" in out and "2 files of other types passed over (-v lists them)" in out
    assert "budget.xlsx" not in err
    assert main(["list", "--index", str(index), "--source", "kabul times", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == "Kabul Times"

    assert main(["ingest", str(corpus), "--index", str(index), "-v"]) == 0
    err = capsys.readouterr().err
    assert "passed over" in err and "budget.xlsx" in err and "photo.jpg" in err
    assert ".hidden" not in err

    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.xlsx").write_bytes(b"PK")
    assert main(["ingest", str(tmp_path / "empty"), "--index", str(index)]) == 1
    out, err = capsys.readouterr()
    assert "found no article in" in err and ".txt, .md" in err
    assert "0 added" in out and "1 file of other types passed over" in out


def test_errors_are_one_line_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "anything", "--index", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no index in") and "qa ingest" in err
    assert err.count("\n") == 1
    assert main(["stats", "--index", str(tmp_path / "none")]) == 2
    assert main(["ingest", str(tmp_path), "--chunk-tokens", "4", "--index", str(tmp_path)]) == 2
    assert "chunk size" in capsys.readouterr().err


def test_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for word in ("ingest", "ask", "rebuild", "stats", "QA_INDEX", "QA_MODEL", "examples"):
        assert word in out


def test_rebuild_with_smaller_chunks_keeps_answers(
    demo_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rebuild", "--chunk-tokens", "128", "--index", str(demo_copy)]) == 0
    assert "1 article," in capsys.readouterr().out
    manifest = json.loads((demo_copy / "manifest.json").read_text())
    assert manifest["chunk_tokens"] == 128 and manifest["chunks"] > 4
    assert main(["ask", DEMO_QUESTION, "--json", "--index", str(demo_copy)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert any(DEMO_ANSWER_START in q["text"] for q in answer["quotes"])
    # Ingest keeps to the index's chunking unless told otherwise, and then refuses.
    assert main(["ingest", str(DEMO_DIR), "--index", str(demo_copy)]) == 0
    assert main(["ingest", str(DEMO_DIR), "--chunk-tokens", "96", "--index", str(demo_copy)]) == 2
    assert "qa rebuild" in capsys.readouterr().err
