"""Which messages are meant for the bot, and what the question in them is.

In a private chat every text is a question. In a group the bot answers a message that
mentions it (the mention is taken out of the question), replies to one of its messages,
or is a command for it; it stays quiet otherwise.
"""

from __future__ import annotations

from telegram import Message, MessageEntity, Update
from telegram.constants import ChatType


def replies_to_bot(message: Message, bot_id: int) -> int | None:
    """The id of the bot's message that `message` replies to, if it replies to the bot."""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return replied.message_id
    return None


def group_question(message: Message, bot_id: int, username: str) -> str | None:
    """The question in a group message meant for the bot, or None when it is not for the bot."""
    text = message.text or ""
    mentions = message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
    ours = [
        value
        for entity, value in mentions.items()
        if (entity.type == MessageEntity.MENTION and value[1:].lower() == username.lower())
        or (entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot_id)
    ]
    if ours:
        for value in ours:
            text = text.replace(value, " ", 1)
        return " ".join(text.split())
    if replies_to_bot(message, bot_id) is not None:
        return text
    return None


def command_target(message: Message) -> str | None:
    """For '/cmd@name ...' the name, for '/cmd ...' an empty string; None if no command."""
    text = message.text or ""
    if not text.startswith("/"):
        return None
    word = text.split(maxsplit=1)[0]
    return word.partition("@")[2]


def command_argument(message: Message) -> str:
    """The text after the command word, newlines kept: '/ask  Why?' -> 'Why?'."""
    parts = (message.text or "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def is_for_bot(update: Update, bot_id: int, username: str) -> bool:
    """True when a user would expect an answer to this update: a button press, a private
    message, a command for this bot, or a group message that mentions or replies to it."""
    if update.callback_query is not None:
        return True
    message = update.effective_message
    if message is None:
        return False
    if message.chat.type == ChatType.PRIVATE:
        return True
    target = command_target(message)
    if target is not None:
        return target == "" or target.lower() == username.lower()
    return group_question(message, bot_id, username) is not None
