"""E-mail to reporters: the worker's handler for ``ReporterEmailQueued``.

The e-mail is queued in the outbox in the same transaction as the report or decision it tells
of, and sent by the worker, so a report is never lost to a mail server being down: a failed
send is retried with the outbox's backoff. Delivery is at least once; every attempt carries the
same ``Message-ID`` (from the event's idempotency key), so a mail server or client can drop a
repeat.
"""

from __future__ import annotations

import json
import os
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from takedown.cases import ReporterEmailQueued
from takedown.jobs import HandlerContext


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    sender: str = "takedown@localhost"
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0


def send(smtp: SmtpSettings, *, to: str, subject: str, body: str, message_id: str) -> None:
    """Send one plain-text e-mail; raises ``smtplib.SMTPException`` or ``OSError``."""
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id}@takedown>"
    message.set_content(body)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(message)


def email_handler(
    smtp: SmtpSettings,
) -> Callable[[ReporterEmailQueued, HandlerContext], None]:
    """The outbox handler that sends ``ReporterEmailQueued``."""

    def handle(event: ReporterEmailQueued, ctx: HandlerContext) -> None:
        send(
            smtp,
            to=event.to,
            subject=event.subject,
            body=event.body,
            message_id=ctx.idempotency_key,
        )

    return handle


def mailbox_handler(folder: Path) -> Callable[[ReporterEmailQueued, HandlerContext], None]:
    """Development only (``TAKEDOWN_MAILBOX``): the outbox handler that delivers
    ``ReporterEmailQueued`` into a folder, one JSON file a message named by its
    ``Message-ID``, so a repeat overwrites itself; the console's *Mailbox* shows them."""

    def handle(event: ReporterEmailQueued, ctx: HandlerContext) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        message = {
            "message_id": ctx.idempotency_key,
            "to": event.to,
            "subject": event.subject,
            "body": event.body,
            "case_id": event.case_id,
        }
        path = folder / f"{ctx.idempotency_key}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(message))
        os.replace(temporary, path)

    return handle


def read_mailbox(folder: Path, limit: int = 200) -> list[dict[str, object]]:
    """The mailbox's messages, newest first, with ``at`` (the file's time, unix seconds)."""
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    messages = []
    for path in files[:limit]:
        try:
            message = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        message["at"] = path.stat().st_mtime
        messages.append(message)
    return messages
