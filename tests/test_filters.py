"""The date-phrase parser on a table of phrases, with a fixed 'today'."""

from __future__ import annotations

from datetime import date

import pytest

from qa.filters import FilterError, Filters, parse

TODAY = date(2023, 3, 15)  # a Wednesday

D = date


@pytest.mark.parametrize(
    ("question", "text", "since", "until", "source"),
    [
        (
            "Why won't South Korea arm Ukraine?",
            "Why won't South Korea arm Ukraine?",
            None,
            None,
            None,
        ),
        ("NATO and Korea since:2023-01", "NATO and Korea", D(2023, 1, 1), None, None),
        ("since:2023-01-15 until:2023-02 NATO", "NATO", D(2023, 1, 15), D(2023, 2, 28), None),
        ("floods source:ava", "floods", None, None, "ava"),
        ("What did NATO say since March 2023?", "What did NATO say?", D(2023, 3, 1), None, None),
        # "this week": the seven days before and today; "last week": the two weeks before
        # today, which hold the calendar week before whatever today's weekday
        ("What did NATO say last week?", "What did NATO say?", D(2023, 3, 1), D(2023, 3, 14), None),
        ("news this week", "news", D(2023, 3, 8), D(2023, 3, 15), None),
        ("news over the past week", "news", D(2023, 3, 8), D(2023, 3, 15), None),
        ("prices in the past month", "prices", D(2023, 2, 13), D(2023, 3, 15), None),
        ("prices over the past year", "prices", D(2022, 3, 15), D(2023, 3, 15), None),
        ("Floods in 2022", "Floods", D(2022, 1, 1), D(2022, 12, 31), None),
        ("Floods in February 2020", "Floods", D(2020, 2, 1), D(2020, 2, 29), None),
        ("talks after 5 March 2023", "talks", D(2023, 3, 6), None, None),
        ("talks before 2023-02-10", "talks", None, D(2023, 2, 9), None),
        ("talks until Jan 2023", "talks", None, D(2023, 1, 31), None),
        ("talks between 2022 and March 2023", "talks", D(2022, 1, 1), D(2023, 3, 31), None),
        ("prices last month", "prices", D(2023, 2, 1), D(2023, 2, 28), None),
        ("prices this year", "prices", D(2023, 1, 1), D(2023, 3, 15), None),
        ("prices last year", "prices", D(2022, 1, 1), D(2022, 12, 31), None),
        ("prices in the past 10 days", "prices", D(2023, 3, 5), D(2023, 3, 15), None),
        ("what happened yesterday", "what happened", D(2023, 3, 14), D(2023, 3, 14), None),
        (
            "March 5, 2023 in Kabul since March 5, 2023",
            "March 5, 2023 in Kabul",
            D(2023, 3, 5),
            None,
            None,
        ),
        ("Why? since:2023 source:ava", "Why?", D(2023, 1, 1), None, "ava"),
        ("in 1066", "in 1066", None, None, None),  # not a year of news
        ("What fell during 1620-21?", "What fell during 1620-21?", None, None, None),
        ("born in 2023-02-30 or so", "born in 2023-02-30 or so", None, None, None),
    ],
)
def test_phrases(
    question: str, text: str, since: date | None, until: date | None, source: str | None
) -> None:
    cleaned, f = parse(question, TODAY)
    assert (cleaned, f) == (text, Filters(since, until, source))


@pytest.mark.parametrize(
    ("question", "text"),
    [
        ("What did NATO say recently?", "What did NATO say?"),
        ("Who has lately criticised the plan?", "Who has criticised the plan?"),
        ("Which team won in recent weeks?", "Which team won?"),
    ],
)
def test_recently_favours_newer_articles_without_a_limit(question: str, text: str) -> None:
    """'recently' names no span: nothing is ruled out, newer articles are favoured."""
    cleaned, f = parse(question, TODAY)
    assert (cleaned, f) == (text, Filters(recent=True))
    assert f.empty and f.describe() == ""


@pytest.mark.parametrize(
    ("today", "this_week", "last_week"),
    [
        # Monday: "this week" still holds last week's working days
        (D(2023, 3, 13), (D(2023, 3, 6), D(2023, 3, 13)), (D(2023, 2, 27), D(2023, 3, 12))),
        # Friday: the whole week so far and the weekend before
        (D(2023, 3, 17), (D(2023, 3, 10), D(2023, 3, 17)), (D(2023, 3, 3), D(2023, 3, 16))),
        # Sunday; the calendar week before (Mon 27 Feb - Sun 5 Mar) lies inside "last week"
        (D(2023, 3, 12), (D(2023, 3, 5), D(2023, 3, 12)), (D(2023, 2, 26), D(2023, 3, 11))),
    ],
)
def test_weeks_as_people_mean_them(
    today: date, this_week: tuple[date, date], last_week: tuple[date, date]
) -> None:
    for phrase, span in (("this week", this_week), ("last week", last_week)):
        _, f = parse(f"What did NATO say {phrase}?", today)
        assert (f.since, f.until) == span, phrase


def test_describe_shows_what_was_applied() -> None:
    _, f = parse("Korea since:2023-01 until:2023-03 source:ava", TODAY)
    assert f.describe() == "since 2023-01-01, until 2023-03-31, source ava"
    assert Filters().describe() == "" and Filters().empty


def test_flags_win_over_phrases() -> None:
    _, f = parse("Korea since:2022", TODAY)
    assert f.merge(Filters(since=D(2023, 1, 1))).since == D(2023, 1, 1)
    assert f.merge(Filters(source="ava")) == Filters(D(2022, 1, 1), None, "ava")


@pytest.mark.parametrize("bad", ["x since:2023-13", "x since:2023-02-30", "x until:soon"])
def test_bad_dates_are_named(bad: str) -> None:
    with pytest.raises(FilterError, match=r"date|month"):
        parse(bad, TODAY)
