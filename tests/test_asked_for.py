"""What a question asks for, and which sentences hold one."""

from __future__ import annotations

from qa.asked_for import expected, holds, words_of


def test_question_words_say_what_is_asked_for() -> None:
    assert expected("When did the talks end?") == "date"
    assert expected("In what year was the dam built?") == "date"
    assert expected("How many people died?") == "number"
    assert expected("Who played Doctor Who on stage?") == "name"
    assert expected("Where is the new airport?") == "name"
    assert expected("Which former pope was laid to rest this week?") == "name"
    assert expected("He is a valued member of which team?") == "name"
    assert expected("What carmaker recalled its cars?") == "name"
    assert expected("What fruit did they grow?") is None  # not a kind known by its name
    assert expected("What company is being sued for unpaid rent?") == "name"
    assert expected("Which year did the war end?") == "date"
    assert expected("What is the capital of Peru?") is None
    assert expected("Why won't South Korea arm Ukraine?") is None
    assert expected("چرا کره جنوبی به اوکراین سلاح نمی‌دهد؟") is None


def test_a_name_counts_only_when_the_question_lacks_it() -> None:
    q = "Who played Doctor Who on stage?"
    asked = words_of(q)
    assert not holds("name", "Doctor Who has appeared on stage.", asked)
    assert holds("name", "In 1974 Trevor Martin played Doctor Who.", asked)
    assert holds("date", "It opened in March.", asked) and not holds("date", "It opened.", asked)
    assert holds("number", "Two homes fell.", asked) and not holds(None, "Two homes fell.", asked)
