"""What the bot says of itself: its command list, /start and /help, and its fixed replies
(a refusal, an apology, usage hints, expired buttons)."""

from __future__ import annotations

from telegram import BotCommand

EXAMPLE_QUESTION = "Why won't South Korea arm Ukraine?"
COMMANDS = (
    BotCommand("start", "what this bot does"),
    BotCommand("help", "how to ask, and the commands"),
    BotCommand("ask", "ask a question (in groups: /ask QUESTION)"),
    BotCommand("sources", "what is indexed: articles, newest date"),
    BotCommand("recent", "favour newer articles in this chat (again to stop)"),
)
START = (
    "I answer questions about a news archive with quotes from its articles, each with its "
    "title, date and link. Just ask, for example:\n\n"
)
HELP = (
    "Send me a question and I reply with the passages that answer it, quoted and cited. "
    "Reply to one of my answers, or send a short follow-up such as \u201cand Japan?\u201d, to "
    "ask more about the same thing.\n\n"
    "In groups, mention me, reply to my answer, or use /ask QUESTION.\n\n"
    "/ask QUESTION \u2014 ask a question\n"
    "/sources \u2014 what I have read\n"
    "/recent \u2014 favour newer articles in this chat (send it again to stop)\n"
    "/help \u2014 this message\n\n"
    "Under an answer, \u201cContext\u201d shows the whole passage around a quote and "
    "\u201cMore\u201d shows further passages and \u201cTimeline\u201d the quotes on the "
    "topic, oldest first.\n\n"
    "Limit a question by date or source inside it: since:2023-01, until:2023-03, "
    "source:ava, or plain words such as \u201cin 2022\u201d, \u201clast week\u201d."
)
REFUSAL = "Sorry, this bot is private."
APOLOGY = "Sorry, something went wrong while answering. Please try again in a moment."
EXPIRED = "This answer is too old for its buttons; please ask again."
ALREADY_SHOWN = "Those passages are shown above."
ASK_USAGE = "Ask like this: /ask " + EXAMPLE_QUESTION
MENTION_USAGE = "What would you like to know? For example: " + EXAMPLE_QUESTION
