"""Render and send Timekit's default booking emails.

Templates live in ``timekit_api/templates/emails/`` as ``<kind>.subject.txt``, ``<kind>.txt`` and
``<kind>.html``; an operator overrides any of them by putting a file of the same name in the
instance folder's ``emails/`` directory (searched first). Undefined variables are errors, so a
broken override fails loudly in the delivery log instead of mailing half a sentence.
"""

from __future__ import annotations

import functools
import smtplib
import ssl
from collections.abc import Iterable, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "emails"

# The kinds and the context each needs besides ``booking`` (contract section 8).
KINDS: dict[str, tuple[str, ...]] = {
    "booking_request_owner": ("confirm_url", "decline_url"),
    "booking_confirmed_customer": (),
    "booking_cancelled": (),
    "booking_declined": (),
    "class_cancelled_customer": (),
    "payment_timeout_customer": (),
}
COMMON_CONTEXT = ("booking", "recipient_name", "site_name")

Attachment = tuple[str, str, bytes]


class UnknownEmail(ValueError):
    """No such email kind, or its context lacks something the templates need."""


def _format_time(value: str, timezone: str | None = None) -> str:
    """An RFC 3339 time as people read it, in the recipient's timezone when known."""
    moment = datetime.fromisoformat(value.replace("z", "Z"))
    try:
        zone = ZoneInfo(timezone) if timezone else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    if zone is not None and moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    label = timezone if zone is not None else moment.strftime("%z") or "UTC"
    return f"{moment:%A %d %B %Y, %H:%M} ({label})"


@functools.lru_cache(maxsize=16)
def _environment(override_dir: str | None) -> Environment:
    loaders = [FileSystemLoader(override_dir)] if override_dir else []
    loaders.append(FileSystemLoader(str(TEMPLATE_DIR)))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False,
                                     default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _format_time
    return env


def render_email(
    kind: str, context: dict, *, override_dir: str | Path | None = None
) -> tuple[str, str, str]:
    """``(subject, text, html)`` of one email kind.

    ``context`` needs ``booking`` (the wire JSON of contract section 5), ``recipient_name``,
    ``site_name``, plus what ``KINDS[kind]`` lists; ``message`` (the reason given with the
    action) and ``timezone`` (for times; default the customer's) are optional. The subject is
    folded to one line: a header cannot carry a newline.
    """
    if kind not in KINDS:
        raise UnknownEmail(f"Unknown email kind {kind!r}")
    missing = [key for key in COMMON_CONTEXT + KINDS[kind] if key not in context]
    if missing:
        raise UnknownEmail(f"Email {kind!r} needs {', '.join(missing)} in its context")
    booking = context["booking"]
    # Defaults for optional fields, so templates may test them under StrictUndefined.
    event = booking.get("attributes", {}).get("event_info", {})
    customer = (booking.get("customers") or [{}])[0]
    full = {
        "message": None,
        "event": {"what": "", "where": None, "description": None, **event},
        "customer": {"name": None, "email": None, "phone": None, "timezone": None, **customer},
        "timezone": None,
        **context,
    }
    if not full["timezone"]:
        full["timezone"] = full["customer"].get("timezone") or "UTC"
    env = _environment(str(override_dir) if override_dir else None)
    subject = env.get_template(f"{kind}.subject.txt").render(full)
    text = env.get_template(f"{kind}.txt").render(full)
    html = env.get_template(f"{kind}.html").render(full)
    return " ".join(subject.split()), text, html


def build_message(
    sender: str,
    to: str | Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    attachments: Iterable[Attachment] = (),
) -> EmailMessage:
    """multipart/alternative (text, then HTML) inside multipart/mixed when there are attachments.

    An attachment is ``(filename, "type/subtype[; param=value]", bytes)``; a ``text/calendar``
    part keeps its ``method`` parameter, which calendar clients read.
    """
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to if isinstance(to, str) else ", ".join(to)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, mimetype, content in attachments:
        kind, *raw_params = (part.strip() for part in mimetype.split(";"))
        maintype, _, subtype = kind.partition("/")
        params = dict(p.partition("=")[::2] for p in raw_params if "=" in p)
        message.add_attachment(content, maintype=maintype, subtype=subtype or "octet-stream",
                               filename=filename, params=params)
    return message


def send_message(
    message: EmailMessage,
    *,
    host: str,
    port: int,
    use_tls: bool = False,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 10,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Send through SMTP, upgrading with STARTTLS when ``use_tls`` (refusing a server without it).

    smtplib's errors carry the server's reply, never the password; nothing here logs either.
    """
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        smtp.ehlo()
        if use_tls:
            smtp.starttls(context=ssl_context or ssl.create_default_context())
            smtp.ehlo()
        if username:
            smtp.login(username, password or "")
        smtp.send_message(message)
