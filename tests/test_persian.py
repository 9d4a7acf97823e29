"""Persian text: folding for keyword search, sentence boundaries, exact quote offsets."""

from __future__ import annotations

from pathlib import Path

from index.build import ingest
from index.records import Article
from index.sentences import split_sentences
from index.settings import Settings
from index.textnorm import fold, terms
from qa.abstain import AbstentionSettings
from qa.engine import Engine
from tests.fakes import HashingEmbedder

# Persian as written: Persian yeh and keheh, zero-width non-joiners, Persian punctuation.
TEXT = (
    "باشگاه فوتبال رئال مادرید یک باشگاه حرفه\u200cای فوتبال است که در مادرید، پایتخت "
    "اسپانیا قرار دارد. رئال موفق\u200cترین تیم تاریخ فوتبال اسپانیا است؟ بله۔ "
    "این باشگاه در سال ۱۹۰۲ تأسیس شد!\n"
    "ورزشگاه سانتیاگو برنابئو خانهٔ این تیم است."
)


def test_fold_unifies_letter_variants_and_joiners() -> None:
    assert fold("علي") == fold("علی")
    assert fold("كتاب") == fold("کتاب")
    assert terms("کتاب\u200cها") == ["کتاب", "ها"]
    assert terms("۱۹۰۲") == ["1902"]
    assert terms("مادرید، پایتخت؟") == ["مادرید", "پایتخت"]


def test_persian_sentences_break_at_persian_punctuation() -> None:
    spans = split_sentences(TEXT)
    sentences = [TEXT[s:e] for s, e in spans]
    assert sentences[1] == "رئال موفق\u200cترین تیم تاریخ فوتبال اسپانیا است؟"
    assert sentences[2] == "بله۔"
    assert sentences[3] == "این باشگاه در سال ۱۹۰۲ تأسیس شد!"
    assert sentences[-1] == "ورزشگاه سانتیاگو برنابئو خانهٔ این تیم است."
    assert all("،" not in TEXT[e - 1 : e] for _, e in spans), "a comma is not a boundary"


def test_persian_sentences_break_even_when_guessed_english() -> None:
    text = "Real Madrid was founded in 1902. Who founded it؟ Nobody knows۔ The end"
    assert [text[s:e] for s, e in split_sentences(text, "en")] == [
        "Real Madrid was founded in 1902.",
        "Who founded it؟",
        "Nobody knows۔",
        "The end",
    ]


def test_quotes_from_persian_text_have_exact_offsets(tmp_path: Path) -> None:
    e = HashingEmbedder()
    s = Settings.from_env({}, index_dir=tmp_path / "index")
    article = Article(id="fa", title="رئال مادرید", text=TEXT, lang="fa")
    other = Article(id="en", title="Chess", text="Mira Holt won the chess open in 2019.")
    ingest(s, [article, other], lambda _m: e)
    engine = Engine(s, lambda _m: e, abstention=AbstentionSettings(min_support=0.0))
    # Asked with Arabic yeh and kaf, without the joiner: folding still meets the text.
    answer = engine.ask("باشگاه رئال در چه سالي تأسيس شد؟")
    assert answer.passages[0].article_id == "fa"
    assert answer.quotes and answer.quotes[0].article_id == "fa"
    for q in answer.quotes:
        assert TEXT[q.start : q.end] == q.text
    assert any("۱۹۰۲" in q.text for q in answer.quotes)
