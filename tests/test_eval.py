"""`qa eval`: SQuAD reading, the left-out draw, and the metric definitions on hand-made data."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from index.embedder import Embedder
from index.settings import Settings
from qa.answer import Answer, Passage, Quote
from qa.eval_data import EvalFileError, contains_answer, leave_out, load_squad
from qa.eval_metrics import ANSWERABLE, IMPOSSIBLE, LEFT_OUT, judge, suggest_threshold, summarize
from qa.eval_report import failures, to_json, to_table
from qa.eval_run import EvalOptions, run_eval
from tests.conftest import ROOT

SHARED_XQUAD = ROOT.parent / "shared" / "eval" / "xquad" / "xquad.en.json"


def squad(tmp_path: Path, data: list[dict], version: str = "1.1") -> Path:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"version": version, "data": data}), encoding="utf-8")
    return path


def para(context: str, *qas: tuple[str, str | None]) -> dict:
    """A paragraph; each qa is (question, answer) and answer None marks v2.0 is_impossible."""
    return {
        "context": context,
        "qas": [
            {
                "id": f"{context[:6]}-{n}",
                "question": q,
                "answers": [] if a is None else [{"text": a, "answer_start": context.find(a)}],
                "is_impossible": a is None,
            }
            for n, (q, a) in enumerate(qas)
        ],
    }


TINY = [
    {
        "title": "Volcano_Island",
        "paragraphs": [
            para(
                "The volcano on Hekla island erupted in 1947. Ash fell for thirteen months.",
                ("When did the Hekla volcano erupt?", "1947"),
                ("How long did ash fall after the Hekla eruption?", "thirteen months"),
            ),
            para(
                "Farmers on Hekla island grow potatoes in the warm volcanic soil.",
                ("What do Hekla farmers grow?", "potatoes"),
                ("What do Hekla farmers export to Mars?", None),
            ),
        ],
    },
    {
        "title": "Chess_Club",
        "paragraphs": [
            para(
                "The Riverside chess club meets every Tuesday in the old library. "
                "Its strongest player, Mira Holt, won the regional open in 2019.",
                ("Who is the strongest player of the Riverside chess club?", "Mira Holt"),
                ("On which day does the Riverside chess club meet?", "Tuesday"),
            )
        ],
    },
    {
        "title": "Glass_Bridge",
        "paragraphs": [
            para(
                "The glass bridge over the Zhangjiajie canyon opened in August 2016. "
                "It is 430 metres long and hangs 300 metres above the valley floor.",
                ("How long is the glass bridge over the Zhangjiajie canyon?", "430 metres"),
            )
        ],
    },
]


def test_load_squad_makes_one_article_per_title(tmp_path: Path) -> None:
    data = [*TINY, {"title": "Chess_Club", "paragraphs": [para("A later paragraph.")]}]
    es = load_squad(squad(tmp_path, data, "v2.0"))
    assert [a.id for a in es.articles] == [
        "squad:Volcano_Island",
        "squad:Chess_Club",
        "squad:Glass_Bridge",
    ]
    volcano = es.by_id["squad:Volcano_Island"]
    assert volcano.title == "Volcano Island"
    paragraphs: list[dict] = TINY[0]["paragraphs"]  # type: ignore[assignment]
    assert volcano.text.split("\n\n") == [p["context"] for p in paragraphs]
    assert es.by_id["squad:Chess_Club"].text.endswith("\n\nA later paragraph.")
    assert len(es.questions) == 7
    impossible = [q for q in es.questions if q.impossible]
    assert [q.text for q in impossible] == ["What do Hekla farmers export to Mars?"]
    assert impossible[0].answers == ()


def test_load_squad_refuses_other_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"rows": []}', encoding="utf-8")
    with pytest.raises(EvalFileError, match="SQuAD"):
        load_squad(bad)
    bad.write_text("not json", encoding="utf-8")
    with pytest.raises(EvalFileError):
        load_squad(bad)
    with pytest.raises(EvalFileError):
        load_squad(tmp_path / "missing.json")


def test_leave_out_is_seeded_and_sized(tmp_path: Path) -> None:
    data = [{"title": f"T{i}", "paragraphs": [para(f"Text number {i}.")]} for i in range(10)]
    es = load_squad(squad(tmp_path, data))
    a = leave_out(es, 0.2, seed=7)
    assert len(a) == 2 and a == leave_out(es, 0.2, seed=7)
    assert any(leave_out(es, 0.2, seed=s) != a for s in range(8))
    assert leave_out(es, 0.0, seed=7) == frozenset()
    with pytest.raises(EvalFileError):
        leave_out(es, 1.0, seed=0)


def test_answers_match_folded() -> None:
    assert contains_answer("It opened in  AUGUST\n2016.", ("August 2016",))
    assert contains_answer("كتاب علي", ("کتاب علی",))  # Arabic and Persian letter variants
    assert not contains_answer("It opened in 2015.", ("August 2016",))
    assert not contains_answer("anything", ("",))


def _passage(article: str, text: str, n: int = 0) -> Passage:
    return Passage(n, article, article, None, None, text, 1.0)


def _quote(article: str, text: str, start: int) -> Quote:
    return Quote(text, article, article, None, None, 0, start, start + len(text), 1.0)


def test_metric_definitions_by_hand() -> None:
    """Four answerable questions, one left out, one impossible, figured out on paper."""
    es_text = {"A": "Alpha beta 1947. Gamma delta.", "B": "Other text about 1947 too."}
    from qa.eval_data import EvalQuestion

    def q(i: str, article: str, answers: tuple[str, ...] = ("1947",)) -> EvalQuestion:
        return EvalQuestion(i, (article,), f"question {i}?", answers, impossible=not answers)

    def answer(passages: list[Passage], quotes: list[Quote], abstained: bool = False) -> Answer:
        return Answer("q", abstained, tuple(quotes), tuple(passages))

    good_quote = _quote("A", "Alpha beta 1947.", 0)
    outcomes = [
        # answer at rank 1, first quote right: counts for hit and ans@1/5/10, MRR 1, quote@1
        judge(
            q("1", "A"),
            ANSWERABLE,
            answer([_passage("A", "beta 1947.")], [good_quote]),
            es_text,
            0.1,
        ),
        # the answer is in article B's passage first (wrong article), then A's at rank 3
        judge(
            q("2", "A"),
            ANSWERABLE,
            answer(
                [_passage("B", "about 1947"), _passage("A", "Gamma delta."), _passage("A", "1947")],
                [_quote("B", "Other text about 1947 too.", 0)],
            ),
            es_text,
            0.2,
        ),
        # answer at rank 7: ans@10 only (its article at rank 1); a quote with a wrong offset
        # is not exact
        judge(
            q("3", "A"),
            ANSWERABLE,
            answer(
                [_passage("A", "nothing")] * 6 + [_passage("A", "x 1947 y")],
                [Quote("Alpha beta 1947.", "A", "A", None, None, 0, 1, 17, 1.0)],
            ),
            es_text,
            0.3,
        ),
        # wrongly abstained, and no passage holds the answer
        judge(q("4", "A"), ANSWERABLE, answer([_passage("A", "Gamma")], [], True), es_text, 0.4),
        # left out and abstained: right
        judge(q("5", "C"), LEFT_OUT, answer([_passage("A", "Gamma")], [], True), es_text, 0.5),
        # impossible but quoted: wrong
        judge(
            q("6", "A", ()),
            IMPOSSIBLE,
            answer([_passage("A", "Gamma")], [good_quote]),
            es_text,
            0.6,
        ),
    ]
    assert [o.rank for o in outcomes[:4]] == [1, 3, 7, None]
    assert [o.article_rank for o in outcomes[:4]] == [1, 2, 1, 1]
    m = summarize(outcomes)
    ans, hit = dict(m.ans_at), dict(m.hit_at)
    assert (ans[1].hits, ans[5].hits, ans[10].hits, ans[1].total) == (1, 2, 3, 4)
    assert (hit[1].hits, hit[5].hits, hit[10].hits, hit[1].total) == (3, 4, 4, 4)
    assert m.mrr == pytest.approx((1 + 1 / 3 + 1 / 7) / 4)
    # 1 and 3 (its offsets are off, which exactness counts); 2 quotes the wrong article
    assert (m.quote_at_1.hits, m.quote_at_1.total) == (2, 4)
    assert (m.exactness.hits, m.exactness.total) == (3, 4)  # question 3's offsets are off
    assert (m.false_abstention.hits, m.false_abstention.total) == (1, 4)
    assert (m.abstained_left_out.hits, m.abstained_left_out.total) == (1, 1)
    assert (m.abstained_impossible.hits, m.abstained_impossible.total) == (0, 1)
    assert m.latency_median_ms == pytest.approx(350.0)
    assert m.latency_p95_ms == pytest.approx(600.0)
    whys = [f["why"] for f in failures_from(outcomes)]
    assert whys[0].startswith("no gold passage")


def failures_from(outcomes: list) -> list[dict]:
    from qa.eval_data import EvalSet
    from qa.eval_run import EvalReport

    report = EvalReport(
        EvalSet("x", "1.1", (), ()),
        EvalOptions(),
        frozenset(),
        summarize(outcomes),
        tuple(outcomes),
        {},
    )
    return failures(report, 10)


def test_suggested_threshold_keeps_the_budget() -> None:
    supports = [i / 100 for i in range(100)]  # 0.00 .. 0.99
    t = suggest_threshold(supports, 0.05)
    assert t is not None and t == pytest.approx(0.05)
    assert sum(s < t for s in supports) == 5
    assert suggest_threshold([], 0.05) is None


@pytest.mark.slow
def test_eval_end_to_end_with_a_left_out_article(
    tmp_path: Path, real_factory: Callable[[str], Embedder]
) -> None:
    """The real model through ingest and Engine.ask: the left-out article's question abstains."""
    es = load_squad(squad(tmp_path, TINY, "v2.0"))
    settings = Settings.from_env({}, index_dir=tmp_path / "unused")
    options = EvalOptions(unanswerable=0.34, seed=1)
    left = leave_out(es, options.unanswerable, options.seed)
    assert len(left) == 1
    report = run_eval(settings, es, real_factory, options, index_dir=tmp_path / "index")
    m = report.metrics
    assert m.exactness.value == 1.0 and m.exactness.total > 0
    assert m.abstained_left_out.total >= 1
    assert m.abstained_left_out.value == 1.0, failures(report, 5)
    assert m.false_abstention.hits == 0, failures(report, 5)
    assert dict(m.ans_at)[1].value == 1.0, failures(report, 5)
    assert m.quote_at_1.value is not None and m.quote_at_1.value >= 0.5
    assert report.setup["index_articles"] == 2
    data = json.loads(to_json(report, 3))
    assert data["metrics"]["quote_exactness"] == 1.0
    assert data["left_out_articles"] == sorted(left)
    assert "hit@1" in to_table(report)
    # The same folder again: nothing is embedded twice, and the figures are the same.
    again = run_eval(settings, es, real_factory, options, index_dir=tmp_path / "index")
    assert again.setup["chunks_embedded"] == 0
    assert again.metrics.hit_at == m.hit_at


@pytest.mark.slow
def test_eval_refuses_an_index_holding_a_left_out_article(
    tmp_path: Path, real_factory: Callable[[str], Embedder]
) -> None:
    from index.errors import IndexMismatch

    es = load_squad(squad(tmp_path, TINY))
    settings = Settings.from_env({}, index_dir=tmp_path / "unused")
    run_eval(settings, es, real_factory, EvalOptions(limit=1), index_dir=tmp_path / "index")
    with pytest.raises(IndexMismatch, match="leaves out"):
        run_eval(
            settings,
            es,
            real_factory,
            EvalOptions(unanswerable=0.34, limit=1),
            index_dir=tmp_path / "index",
        )


@pytest.mark.slow
def test_cli_eval_json(
    tmp_path: Path,
    real_factory: Callable[[str], Embedder],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import index.models
    from qa.cli import main

    monkeypatch.setattr(index.models, "load_embedder", lambda _settings, **_kw: real_factory)
    path = squad(tmp_path, TINY)
    assert main(["eval", str(path), "--json", "--failures", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["questions"] == 7 and data["counts"]["answerable"] == 6
    assert set(data["metrics"]) >= {"hit@1", "hit@5", "hit@10", "ans@1", "mrr@10", "quote@1"}
    assert main(["eval", str(path), "--limit", "2", "--failures", "1"]) == 0
    out = capsys.readouterr().out
    assert "quote exactness" in out and "latency p95" in out


def test_shared_xquad_reads_when_present() -> None:
    if not SHARED_XQUAD.exists():
        pytest.skip("../shared/eval is not here")
    es = load_squad(SHARED_XQUAD)
    assert len(es.articles) == 48 and len(es.questions) == 1190
    assert all(q.answers for q in es.questions)
