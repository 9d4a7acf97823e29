"""A Telegram Bot API double: an HTTP server on 127.0.0.1 that a real python-telegram-bot
Application talks to through `base_url`.

Tests inject updates (`message`, `press`), read what the bot did (`sent`, `calls`,
`wait_sent`), and schedule faults (`fail`): flood control (429 with retry_after), 5xx,
slow responses that time the client out, dropped connections, 403 Forbidden and 400s.
Updates wait for getUpdates, or, once the bot has called setWebhook, are posted at once to
the webhook with its secret header, as Telegram does (`deliver` posts one anywhere, with any
secret, and says what the bot's server answered); getUpdates then fails with 409, as it does
at Telegram while a webhook is set.
Like Telegram, it refuses HTML that Telegram would not parse (`check_html`), messages over
4,096 characters and callback data over 64 bytes, so a test passes only if Telegram would
have accepted what the bot sent.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TOKEN = "123456789:AAF-double-token-0123456789abcdefghijk"
BOT_ID = 123456789
BOT_USERNAME = "newsqa_test_bot"
MESSAGE_LIMIT = 4096
MAX_ENTITIES = 100
CALLBACK_DATA_BYTES = 64

# Fields whose values python-telegram-bot sends as plain strings, never JSON-encoded.
_STRING_FIELDS = {
    "text",
    "parse_mode",
    "callback_query_id",
    "action",
    "url",
    "inline_message_id",
    "secret_token",
}
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PORTS = (443, 80, 88, 8443)
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
REGISTERED = object()  # `deliver`'s default secret: the one given to setWebhook


# --- Telegram's HTML, strictly ------------------------------------------------------------


class HtmlError(ValueError):
    """HTML that Telegram would refuse with "can't parse entities"."""


_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_AMP = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_TAG = re.compile(r'</?[a-z][a-z-]*(?:\s+[a-z-]+(?:="[^"<>]*")?)*\s*>')


def _u16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Parsed:
    text: str  # what the user sees
    entities: tuple[dict[str, Any], ...]  # Telegram MessageEntity dicts, UTF-16 offsets


class _Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self.stack: list[tuple[str, int, dict[str, Any]]] = []
        self.entities: list[dict[str, Any]] = []

    def _pos(self) -> int:
        return _u16("".join(self.out))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TAGS:
            raise HtmlError(f'unsupported start tag "{tag}"')
        a = dict(attrs)
        names = [t for t, _, _ in self.stack]
        entity: dict[str, Any] = {"type": _TAGS[tag]}
        if tag == "a":
            href = a.pop("href", None)
            if not href or urlsplit(href).scheme not in ("http", "https", "tg", "mailto"):
                raise HtmlError(f"unsupported URL {href!r}")
            entity["url"] = href
            if "a" in names:
                raise HtmlError("nested links")
        elif tag == "span":
            if a.pop("class", None) != "tg-spoiler":
                raise HtmlError("span without class tg-spoiler")
        elif tag == "blockquote":
            if "expandable" in a:
                a.pop("expandable")
                entity["type"] = "expandable_blockquote"
            if "blockquote" in names:
                raise HtmlError("nested blockquote")
        elif tag == "code" and "pre" in names:
            a.pop("class", None)
        elif tag == "tg-emoji":
            entity["custom_emoji_id"] = a.pop("emoji-id", "")
        if a:
            raise HtmlError(f"unsupported attribute {next(iter(a))!r} of <{tag}>")
        if set(names) & {"pre", "code"} and not (tag == "code" and names[-1] == "pre"):
            raise HtmlError(f"<{tag}> inside pre or code")
        self.stack.append((tag, self._pos(), entity))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1][0] != tag:
            raise HtmlError(f'unmatched end tag "{tag}"')
        _, start, entity = self.stack.pop()
        length = self._pos() - start
        if length <= 0:
            raise HtmlError(f"empty <{tag}> entity")
        self.entities.append({**entity, "offset": start, "length": length})

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise HtmlError(f'self-closing tag "{tag}"')

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        chars = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
        if name not in chars:
            raise HtmlError(f"unsupported entity &{name};")
        self.out.append(chars[name])

    def handle_charref(self, name: str) -> None:
        code = int(name[1:], 16) if name[:1] in "xX" else int(name)
        if not 0 < code <= 0x10FFFF:
            raise HtmlError(f"bad character reference &#{name};")
        self.out.append(chr(code))

    def handle_comment(self, data: str) -> None:
        raise HtmlError("comments are not allowed")

    def handle_decl(self, decl: str) -> None:
        raise HtmlError("declarations are not allowed")

    def handle_pi(self, data: str) -> None:
        raise HtmlError("processing instructions are not allowed")


def check_html(source: str) -> Parsed:
    """Parse HTML as Telegram does; raise HtmlError where Telegram would refuse it.

    Every `<` must open a well-formed supported tag and every `&` must start one of the
    entities Telegram knows; tags must balance and nest as Telegram allows; the text after
    parsing must fit in 4,096 UTF-16 code units with at most 100 entities.
    """
    for i, ch in enumerate(source):
        if ch == "<" and not _TAG.match(source, i):
            raise HtmlError(f"unescaped '<' at {i}: {source[i : i + 20]!r}")
        if ch == "&" and not _AMP.match(source, i):
            raise HtmlError(f"unescaped '&' at {i}: {source[i : i + 20]!r}")
    p = _Structure()
    p.feed(source)
    p.close()
    if p.stack:
        raise HtmlError(f"unclosed <{p.stack[-1][0]}>")
    text = "".join(p.out)
    check_length(text)
    if len(p.entities) > MAX_ENTITIES:
        raise HtmlError(f"{len(p.entities)} entities, over {MAX_ENTITIES}")
    entities = sorted(p.entities, key=lambda e: (e["offset"], -e["length"]))
    for e in entities:
        if e["offset"] < 0 or e["offset"] + e["length"] > _u16(text):
            raise HtmlError(f"entity {e} outside the text")
    return Parsed(text, tuple(entities))


def check_length(text: str) -> None:
    if not text.strip():
        raise HtmlError("message text is empty")
    if _u16(text) > MESSAGE_LIMIT:
        raise HtmlError(f"message is too long ({_u16(text)} > {MESSAGE_LIMIT})")


# --- records of what the bot did -----------------------------------------------------------


@dataclass
class Sent:
    """A message the bot sent (kept up to date by edits)."""

    chat_id: int
    message_id: int
    text: str  # as sent: HTML source when parse_mode is HTML
    parse_mode: str | None
    visible: str  # the text a user sees
    entities: tuple[dict[str, Any], ...]
    reply_markup: dict[str, Any] | None
    reply_to: int | None
    edits: int = 0
    at: float = field(default_factory=time.perf_counter)  # when the double received it

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback data) of each inline button, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]

    def button(self, label_prefix: str) -> str:
        """The callback data of the first button whose label starts with `label_prefix`."""
        for label, data in self.buttons:
            if label.startswith(label_prefix):
                return data
        raise KeyError(f"no button {label_prefix!r} among {self.buttons}")


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    status: int


@dataclass
class Fault:
    """What to do instead of (or before) the next `times` matching calls of `method`."""

    method: str
    kind: str  # retry_after | server_error | timeout | drop | forbidden | bad_request
    times: int = 1
    retry_after: int = 1
    status: int = 500
    delay: float = 0.0  # timeout: how long to stall before answering
    description: str = ""
    when: Callable[[dict[str, Any]], bool] | None = None


@dataclass(frozen=True)
class Delivery:
    """One update posted to a webhook, and the HTTP status the bot's server answered."""

    url: str
    update_id: int
    secret: str | None  # the header sent; None: no header
    status: int


@dataclass
class _State:
    updates: list[dict[str, Any]] = field(default_factory=list)
    next_update: int = 1
    next_message: int = 1000
    next_callback: int = 1
    sent: list[Sent] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    offset: int = 0  # the highest offset getUpdates has confirmed
    polls: int = 0
    webhook: dict[str, Any] | None = None  # setWebhook's parameters, until deleteWebhook
    deliveries: list[Delivery] = field(default_factory=list)


class BotAPIDouble:
    """The double; use as a context manager. Thread-safe: the bot calls it from its own loop."""

    def __init__(self, token: str = TOKEN, username: str = BOT_USERNAME) -> None:
        self.token = token
        self.username = username
        self.bot_id = int(token.split(":")[0])
        self.state = _State()
        self.cond = threading.Condition()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )  # shutdown waits for one poll: tests that start many doubles stay fast
        self.closed = False
        self.errors: list[Exception] = []  # the double's own bugs, raised on exit

    # lifecycle

    def __enter__(self) -> BotAPIDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        if self.errors:
            raise RuntimeError(f"the Bot API double failed: {self.errors!r}") from self.errors[0]

    @property
    def base_url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/bot"

    @property
    def env(self) -> dict[str, str]:
        """The environment that points a bot at this double."""
        return {"TELEGRAM_BOT_TOKEN": self.token, "TELEGRAM_API_BASE_URL": self.base_url}

    # injecting updates

    def _push(self, update: dict[str, Any]) -> int:
        """Number the update; queue it for getUpdates, or post it to the webhook when set."""
        with self.cond:
            update["update_id"] = self.state.next_update
            self.state.next_update += 1
            if self.state.webhook is None:
                self.state.updates.append(update)
                self.cond.notify_all()
                return int(update["update_id"])
        status = self.deliver(update)
        if status != 200:
            raise AssertionError(f"the bot's webhook answered {status} to update {update}")
        return int(update["update_id"])

    def update(self, text: str, **where: Any) -> dict[str, Any]:
        """A numbered update of a user's text message (see `message`), not sent anywhere:
        for `deliver`."""
        with self.cond:
            update_id = self.state.next_update
            self.state.next_update += 1
        return {"update_id": update_id, "message": self._new_message(text, **where)}

    def deliver(
        self, update: dict[str, Any], url: str | None = None, secret: object = REGISTERED
    ) -> int:
        """POST `update` to `url` (default: the webhook set) with `secret` in the secret
        header (default: the webhook's; None: no header), as Telegram posts; return the
        HTTP status the server answered."""
        hook = self.webhook
        if url is None:
            if hook is None:
                raise RuntimeError("no webhook is set: the bot has not called setWebhook")
            url = str(hook["url"])
        if secret is REGISTERED:
            secret = hook.get("secret_token") if hook else None
        header = None if secret is None else str(secret)
        headers = {"Content-Type": "application/json"}  # exactly: python-telegram-bot checks
        if header is not None:
            headers[SECRET_HEADER] = header
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError(f"the double posts only to http://127.0.0.1 or localhost, not {url}")
        connection = http.client.HTTPConnection(parts.netloc, timeout=30)
        try:
            target = parts.path or "/"
            connection.request("POST", target, json.dumps(update).encode(), headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        finally:
            connection.close()
        with self.cond:
            self.state.deliveries.append(Delivery(url, int(update["update_id"]), header, status))
            self.cond.notify_all()
        return status

    @property
    def webhook(self) -> dict[str, Any] | None:
        """setWebhook's parameters (url, secret_token, allowed_updates...), None when unset."""
        with self.cond:
            return None if self.state.webhook is None else dict(self.state.webhook)

    def deliveries(self) -> list[Delivery]:
        with self.cond:
            return list(self.state.deliveries)

    def user(self, user_id: int) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": f"User{user_id}",
            "language_code": "en",
        }

    def chat(self, chat_id: int, chat_type: str) -> dict[str, Any]:
        if chat_type == "private":
            return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
        return {"id": chat_id, "type": chat_type, "title": f"Group {chat_id}"}

    def message(self, text: str, **where: Any) -> dict[str, Any]:
        """A user's text message, sent to the bot (queued, or posted to its webhook); commands
        and @mentions get entities as a client would add. `where`: user, chat, chat_type,
        reply_to, as `_new_message` takes them."""
        msg = self._new_message(text, **where)
        self._push({"message": msg})
        return msg

    def _new_message(
        self,
        text: str,
        *,
        user: int = 1001,
        chat: int | None = None,
        chat_type: str = "private",
        reply_to: Sent | None = None,
    ) -> dict[str, Any]:
        with self.cond:
            message_id = self.state.next_message
            self.state.next_message += 1
        entities = []
        command = re.match(r"/[A-Za-z0-9_]+(?:@\w+)?", text)
        if command:
            entities.append({"type": "bot_command", "offset": 0, "length": _u16(command.group())})
        for m in re.finditer(r"@\w+", text):
            if command and m.start() < command.end():
                continue
            entities.append(
                {"type": "mention", "offset": _u16(text[: m.start()]), "length": _u16(m.group())}
            )
        msg: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self.chat(user if chat is None else chat, chat_type),
            "from": self.user(user),
            "text": text,
        }
        if entities:
            msg["entities"] = entities
        if reply_to is not None:
            msg["reply_to_message"] = self._message_dict(reply_to)
        return msg

    def press(self, sent: Sent, data: str, *, user: int = 1001) -> str:
        """A user pressing an inline button of `sent`; returns the callback query id."""
        with self.cond:
            query_id = str(self.state.next_callback)
            self.state.next_callback += 1
        self._push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.user(user),
                    "message": self._message_dict(sent),
                    "chat_instance": f"ci{sent.chat_id}",
                    "data": data,
                }
            }
        )
        return query_id

    def fail(self, method: str, kind: str, **options: Any) -> Fault:
        """Schedule a fault for the next matching calls of `method` (see `Fault`)."""
        fault = Fault(method, kind, **options)
        with self.cond:
            self.state.faults.append(fault)
        return fault

    # reading what happened

    def sent(self, chat_id: int | None = None) -> list[Sent]:
        with self.cond:
            return [s for s in self.state.sent if chat_id is None or s.chat_id == chat_id]

    def calls(self, method: str | None = None) -> list[Call]:
        with self.cond:
            return [c for c in self.state.calls if method is None or c.method == method]

    def callback_answers(self, query_id: str | None = None) -> list[dict[str, Any]]:
        return [
            c.params
            for c in self.calls("answerCallbackQuery")
            if c.status == 200
            and (query_id is None or str(c.params.get("callback_query_id")) == query_id)
        ]

    @property
    def commands(self) -> list[dict[str, Any]]:
        with self.cond:
            return list(self.state.commands)

    def wait(self, predicate: Callable[[], Any], timeout: float = 120.0, what: str = "") -> Any:
        """Block until `predicate()` is truthy (checked whenever the bot calls); return it."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                result = predicate()
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the bot never did: {what or predicate}")
                self.cond.wait(min(left, 0.5))

    def wait_sent(self, chat_id: int, count: int = 1, timeout: float = 120.0) -> list[Sent]:
        """The first `count` messages sent to `chat_id`, once there are that many."""

        def enough() -> list[Sent] | None:
            s = self.sent(chat_id)
            return s[:count] if len(s) >= count else None

        return self.wait(
            enough,
            timeout,
            f"send {count} message(s) to chat {chat_id}",
        )

    def wait_consumed(self, timeout: float = 60.0) -> None:
        """Until the bot has fetched every injected update and polled again."""
        with self.cond:
            target = self.state.next_update
            polls = self.state.polls
        self.wait(
            lambda: self.state.offset >= target and self.state.polls > polls + 1,
            timeout,
            "fetch all updates",
        )

    # serving

    def _message_dict(self, s: Sent) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "message_id": s.message_id,
            "date": int(time.time()),
            "chat": self.chat(s.chat_id, "private" if s.chat_id > 0 else "supergroup"),
            "from": self._me(),
            "text": s.visible,
        }
        if s.entities:
            msg["entities"] = list(s.entities)
        if s.reply_markup:
            msg["reply_markup"] = s.reply_markup
        return msg

    def _me(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "NewsQA",
            "username": self.username,
        }

    def _fault_for(self, method: str, params: dict[str, Any]) -> Fault | None:
        with self.cond:
            for f in self.state.faults:
                if f.method == method and f.times > 0 and (f.when is None or f.when(params)):
                    f.times -= 1
                    return f
        return None

    def _record(self, method: str, params: dict[str, Any], status: int) -> None:
        with self.cond:
            self.state.calls.append(Call(method, params, status))
            self.cond.notify_all()

    def _serve(
        self, method: str, params: dict[str, Any], fault: Fault | None
    ) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for one Bot API call, after `fault` if there is one."""
        if fault is not None:
            if fault.kind == "timeout":
                time.sleep(fault.delay)
            else:
                return _fault_response(fault)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        try:
            return 200, {"ok": True, "result": handler(params)}
        except HtmlError as e:
            description = (
                "Bad Request: message is too long"
                if "too long" in str(e)
                else f"Bad Request: can't parse entities: {e}"
            )
            return 400, {"ok": False, "error_code": 400, "description": description}
        except _BadRequest as e:
            return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {e}"}
        except _Refused as e:
            return e.status, {"ok": False, "error_code": e.status, "description": e.description}

    def _api_getMe(self, p: dict[str, Any]) -> Any:
        return {**self._me(), "can_join_groups": True, "can_read_all_group_messages": False}

    def _api_deleteWebhook(self, p: dict[str, Any]) -> Any:
        with self.cond:
            self.state.webhook = None
        return True

    def _api_setWebhook(self, p: dict[str, Any]) -> Any:
        """Telegram's checks of the URL and the secret; plain http only to 127.0.0.1, as a
        local Bot API server allows."""
        url = urlsplit(str(p.get("url", "")))
        local = url.scheme == "http" and url.hostname in ("127.0.0.1", "localhost")
        if not local and url.scheme != "https":
            raise _BadRequest("bad webhook: An HTTPS URL must be provided for webhook")
        if not local and (url.port or 443) not in WEBHOOK_PORTS:
            raise _BadRequest(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
        secret = p.get("secret_token")
        if secret is not None and not _WEBHOOK_SECRET.fullmatch(str(secret)):
            raise _BadRequest("secret token contains unallowed characters")
        with self.cond:
            self.state.webhook = dict(p)
        return True

    def _api_setMyCommands(self, p: dict[str, Any]) -> Any:
        with self.cond:
            self.state.commands = list(p.get("commands", []))
        return True

    def _api_getMyCommands(self, p: dict[str, Any]) -> Any:
        return self.commands

    def _api_sendChatAction(self, p: dict[str, Any]) -> Any:
        return True

    def _api_answerCallbackQuery(self, p: dict[str, Any]) -> Any:
        if len(str(p.get("text", ""))) > 200:
            raise _BadRequest("MESSAGE_TOO_LONG")
        return True

    def _api_getUpdates(self, p: dict[str, Any]) -> Any:
        if self.webhook is not None:
            raise _Refused(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = int(p.get("offset", 0) or 0)
        limit = int(p.get("limit", 100) or 100)
        deadline = time.monotonic() + float(p.get("timeout", 0) or 0)
        with self.cond:
            self.state.polls += 1
            self.state.offset = max(self.state.offset, offset)
            self.state.updates = [u for u in self.state.updates if u["update_id"] >= offset]
            while not self.state.updates and not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 0.5))
            self.cond.notify_all()
            return self.state.updates[:limit]

    def _markup(self, p: dict[str, Any]) -> dict[str, Any] | None:
        markup = p.get("reply_markup")
        for row in (markup or {}).get("inline_keyboard", []):
            for b in row:
                if len(b.get("callback_data", "").encode()) > CALLBACK_DATA_BYTES:
                    raise _BadRequest("BUTTON_DATA_INVALID")
        return markup

    def _parse(self, p: dict[str, Any]) -> Parsed:
        text = str(p.get("text", ""))
        if p.get("parse_mode") == "HTML":
            return check_html(text)
        if p.get("parse_mode"):
            raise _BadRequest(f"unsupported parse_mode {p['parse_mode']!r} in this double")
        check_length(text)
        return Parsed(text, ())

    def _api_sendMessage(self, p: dict[str, Any]) -> Any:
        parsed = self._parse(p)
        markup = self._markup(p)
        reply = p.get("reply_parameters") or {}
        with self.cond:
            message_id = self.state.next_message
            self.state.next_message += 1
            sent = Sent(
                chat_id=int(p["chat_id"]),
                message_id=message_id,
                text=str(p["text"]),
                parse_mode=p.get("parse_mode"),
                visible=parsed.text,
                entities=parsed.entities,
                reply_markup=markup,
                reply_to=reply.get("message_id"),
            )
            self.state.sent.append(sent)
        return self._message_dict(sent)

    def _find(self, p: dict[str, Any]) -> Sent:
        with self.cond:
            for s in self.state.sent:
                if s.chat_id == int(p["chat_id"]) and s.message_id == int(p["message_id"]):
                    return s
        raise _BadRequest("message to edit not found")

    def _api_editMessageText(self, p: dict[str, Any]) -> Any:
        s = self._find(p)
        parsed = self._parse(p)
        markup = self._markup(p)
        with self.cond:
            s.text, s.parse_mode = str(p["text"]), p.get("parse_mode")
            s.visible, s.entities, s.reply_markup = parsed.text, parsed.entities, markup
            s.edits += 1
        return self._message_dict(s)

    def _api_editMessageReplyMarkup(self, p: dict[str, Any]) -> Any:
        s = self._find(p)
        markup = self._markup(p)
        with self.cond:
            s.reply_markup = markup
            s.edits += 1
        return self._message_dict(s)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the tests read `calls`, not stderr

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                prefix = f"/bot{double.token}/"
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if not path.startswith(prefix):
                    self._reply(
                        401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                    )
                    return
                method = path[len(prefix) :]
                params = _decode(body, self.headers.get("Content-Type", ""))
                fault = double._fault_for(method, params)
                if fault is not None and fault.kind == "drop":
                    double._record(method, params, 0)
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                try:
                    status, payload = double._serve(method, params, fault)
                except Exception as e:  # a bug in the double: fail the test at __exit__
                    double.errors.append(e)
                    status, payload = 500, {"ok": False, "error_code": 500, "description": repr(e)}
                double._record(method, params, status)
                self._reply(status, payload)

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout fault)

        return Handler


class _BadRequest(Exception):
    pass


class _Refused(Exception):
    """Any other error status Telegram answers with."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


class _Server(ThreadingHTTPServer):
    # The bot answers questions at once: fifty users' replies arrive together, past
    # socketserver's backlog of 5 connections.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return  # the client closed an idle keep-alive connection: not an error
        super().handle_error(request, client_address)


def _fault_response(f: Fault) -> tuple[int, dict[str, Any]]:
    if f.kind == "retry_after":
        return 429, {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {f.retry_after}",
            "parameters": {"retry_after": f.retry_after},
        }
    if f.kind == "server_error":
        return f.status, {
            "ok": False,
            "error_code": f.status,
            "description": "Internal Server Error",
        }
    if f.kind == "forbidden":
        return 403, {
            "ok": False,
            "error_code": 403,
            "description": f.description or "Forbidden: bot was blocked by the user",
        }
    if f.kind == "bad_request":
        return 400, {
            "ok": False,
            "error_code": 400,
            "description": f.description or "Bad Request: can't parse entities: injected",
        }
    raise ValueError(f"unknown fault kind {f.kind!r}")


def _decode(body: bytes, content_type: str) -> dict[str, Any]:
    """python-telegram-bot posts form fields whose non-string values are JSON-encoded."""
    if not body:
        return {}
    if "json" in content_type:
        return dict(json.loads(body))
    out: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        if key in _STRING_FIELDS:
            out[key] = value
            continue
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


# --- running a bot against the double -------------------------------------------------------


@contextmanager
def running(application: Any, run: Callable[[Any], None], timeout: float = 60.0) -> Iterator[Any]:
    """Run `run(application)` (the bot's own blocking run loop) in a thread until the block ends.

    The thread gets a fresh event loop; stopping goes through `Application.stop_running` on
    that loop, as a signal would.
    """
    loop = asyncio.new_event_loop()
    errors: list[BaseException] = []

    def target() -> None:
        asyncio.set_event_loop(loop)
        try:
            run(application)
        except BaseException as e:  # reported to the test below, not swallowed
            errors.append(e)

    thread = threading.Thread(target=target, name="bot", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not (application.running and application.updater.running):
        if errors or not thread.is_alive():
            raise RuntimeError(f"the bot did not start: {errors!r}")
        if time.monotonic() > deadline:
            raise TimeoutError("the bot did not start")
        time.sleep(0.02)
    try:
        yield application
    finally:
        loop.call_soon_threadsafe(application.stop_running)
        thread.join(timeout)
        if errors:
            raise errors[0]


# --- driving this project's bot ---------------------------------------------------------


class FakeClock:
    """Time that moves only when a test says so (cursors, follow-ups, rate limits)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def bot(
    double: BotAPIDouble, engine: Any, clock: Callable[[], float] | None = None, **settings: Any
) -> Iterator[Any]:
    """This project's bot, built and run as `qa bot` does, polling `double` until the block
    ends; `settings` override BotSettings fields."""
    from bot.app import build_application, run
    from bot.settings import BotSettings

    s = BotSettings.from_env(double.env, poll_timeout_s=1, **settings)
    application = build_application(s, engine, clock=clock or FakeClock())
    with running(application, lambda app: run(app, s, stop_signals=None)):
        yield application


def ask(double: BotAPIDouble, text: str, **where: Any) -> list[Sent]:
    """Send `text` and wait for the bot's reply (all its parts, when split)."""
    chat = where.get("chat", where.get("user", 1001))
    before = len(double.sent(chat))
    msg = double.message(text, **where)

    def replied() -> list[Sent] | None:
        new = double.sent(chat)[before:]
        mine = [s for s in new if s.reply_to in (msg["message_id"], None)]
        if not mine:
            return None
        first = mine[0].visible
        if first.startswith("(1/"):
            n = int(first[3 : first.index(")")])
            return mine if len(mine) >= n else None
        return mine[:1]

    return double.wait(replied, what=f"answer {text!r}")


def strict(sent: Sent) -> str:
    """The visible text of an HTML message, after checking it as Telegram would."""
    assert sent.parse_mode == "HTML"
    parsed = check_html(sent.text)
    assert parsed.text == sent.visible
    return parsed.text
