"""Log filters of the stdout handler (LOGGING in fleet/settings.py) that keep routine events to one line."""

import logging


class ForbiddenInOneLine(logging.Filter):
    """A refused request (403: a viewer's write, an owners-only page) is routine and fully explained by its reason;
    Django logs it with the PermissionDenied traceback, which tells an operator nothing more. One line, with the
    reason, instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "django.request" and getattr(record, "status_code", None) == 403 and record.exc_info:
            reason = str(record.exc_info[1] or "")
            message = record.getMessage()
            record.msg, record.args = (f"{message} ({reason})" if reason else message), None
            record.exc_info, record.exc_text = None, None
        return True
