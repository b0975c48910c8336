"""E-mail: one ``EmailMessage`` (plain text with an HTML alternative) over
SMTP with the TLS mode of the settings: "starttls" (upgrade on the submission
port, refused when the server cannot), "ssl" (TLS from the first byte, port
465) or "none" (a local relay only). Certificates are checked against the
system's CAs or ``smtp_ca_certs``."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from complaintwatch.config import Settings


class MailError(Exception):
    pass


def build_message(settings: Settings, to: str, subject: str, text: str, html: str, key: str, when) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    msg["X-Complaintwatch-Delivery"] = key  # the same on a retry: lets a receiver drop a repeat
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to us
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def send(settings: Settings, msg: EmailMessage) -> None:
    if not settings.smtp_host:
        raise MailError("no smtp_host set")
    context = ssl.create_default_context(cafile=settings.smtp_ca_certs)
    smtp: smtplib.SMTP
    try:
        if settings.smtp_tls == "ssl":
            smtp = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
        with smtp:
            if settings.smtp_tls == "starttls":
                smtp.starttls(context=context)  # SMTPNotSupportedError: never falls back to plain text
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"{type(exc).__name__}: {exc}") from exc
