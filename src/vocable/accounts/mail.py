"""E-mail through the operator's SMTP server (password reset links); off unless configured.

Sent from a background thread: the request that asked for it answers at once and the
same way whether or not an account exists. Failures are logged by kind, never with the
address, the link or the server's credentials.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from email.message import EmailMessage

from vocable.settings import Settings

log = logging.getLogger(__name__)


def mail_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host and settings.smtp_from)


def send_mail(settings: Settings, *, to: str, subject: str, body: str) -> None:
    """Send one plain-text message; blocking (bounded by a 10 s timeout per step)."""
    if not settings.smtp_host or not settings.smtp_from:
        raise RuntimeError("SMTP is not configured")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_security == "ssl":
        smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=10, context=context)
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10)
    with smtp:
        if settings.smtp_security == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_username and settings.smtp_password:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(message)


def send_mail_later(settings: Settings, *, to: str, subject: str, body: str) -> None:
    def run() -> None:
        try:
            send_mail(settings, to=to, subject=subject, body=body)
        except (OSError, smtplib.SMTPException) as e:  # task boundary: log and go on
            log.warning("e-mail not sent: %s", type(e).__name__)

    threading.Thread(target=run, name="send-mail", daemon=True).start()
