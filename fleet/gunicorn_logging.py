"""gunicorn's logger for Fleet (gunicorn.conf.py): access lines that cannot be forged and carry no secret.

A request path is attacker-chosen text: ``/%0a127.0.0.1 - "GET /admin/" 200`` decodes to a newline and a fake line.
Every value an access line shows is written with control characters (and the quote and backslash that delimit and
escape) as ``\\xNN`` escapes, so one request is always one line; secrets in it are redacted (fleet/redaction.py).
"""

import re

from gunicorn.glogging import Logger as GunicornLogger

from fleet.redaction import redact

_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f"\\]')


def escape(value: str) -> str:
    return _UNSAFE.sub(lambda match: f"\\x{ord(match.group()):02x}", value)


class Logger(GunicornLogger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: escape(redact(value)) if isinstance(value, str) else value for key, value in atoms.items()}
