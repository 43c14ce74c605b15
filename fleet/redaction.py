"""Secrets and one-time links never reach a log line.

Whoever reads the logs (an operator, a log service, a support ticket with a pasted excerpt) must not be able to
accept an invitation, reset a password, finish someone's Connect flow or call Smartcar as the application. Every log
line passes through ``redact``: the Django log handler's filter (fleet/settings.py LOGGING), and gunicorn's access
log (fleet/gunicorn_logging.py).
"""

import logging
import re

REDACTED = "[redacted]"

_PATTERNS = [
    # An invitation link's token: /invitations/<token>/
    (re.compile(r"(/invitations/)[^/\s?#\"']+"), rf"\g<1>{REDACTED}"),
    # allauth's password-reset and e-mail confirmation keys: /accounts/password/reset/key/<uid>-<key>/ …
    (re.compile(r"(/accounts/(?:password/reset/key|confirm-email)/)[^/\s?#\"']+"), rf"\g<1>{REDACTED}"),
    # One-time codes and tokens in query strings and form bodies (the Connect callback's ?code=…).
    (
        re.compile(r"(?i)([?&;\s]|^)((?:code|token|access_token|refresh_token|client_secret)=)[^&\s\"'#]+"),
        rf"\g<1>\g<2>{REDACTED}",
    ),
    # The same names as JSON or repr'd dictionary members: "access_token": "…", 'code': '…'
    (
        re.compile(
            r"""(?i)(["'](?:code|access_token|refresh_token|client_secret|management_token|password)["']\s*:\s*["'])"""
            r"""[^"']+"""
        ),
        rf"\g<1>{REDACTED}",
    ),
    # Authorization header values: Bearer <token>, Basic <base64 id:secret>
    (re.compile(r"(?i)\b(Bearer|Basic)(\s+)[A-Za-z0-9\-._~+/=:]+"), rf"\g<1>\g<2>{REDACTED}"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record's message (its arguments merged in) and its traceback text with secrets redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logged as it is, by logging's own error path
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
