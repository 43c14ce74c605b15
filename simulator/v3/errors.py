"""The v3 error envelope: ``{"errors": [{status, type, code, title, detail, links.about, resolution}]}``.

Reference: smartcar-api-v3/errors.md (the envelope; types, codes and HTTP statuses as in v2, ``status`` a string),
smartcar-api-v3/users__remove.md (a documented example). The statuses, resolutions and descriptions of each
(type, code) are those of the v2 table (simulator/errors.py): errors.md says the types and statuses are unchanged.
"""

import json
import uuid

from django.http import HttpResponse

from simulator.errors import ApiError

DOC_BASE = "https://smartcar.com/docs/errors/api-errors/v3"


def _title(error: ApiError) -> str:
    return (error.code or error.type).replace("_", " ").title()


def envelope(error: ApiError) -> dict:
    item = {
        "status": str(error.status),
        "type": error.type,
        "code": error.code,
        "title": _title(error),
        "detail": error.description,
        "links": {"about": f"{DOC_BASE}/{error.type.lower().replace('_', '-')}-errors"},
        "resolution": {"type": error.resolution},
    }
    if error.suggested_user_message:
        item["suggestedUserMessage"] = error.suggested_user_message
    return {"errors": [item]}


def response(error: ApiError, request_id: str | None = None) -> HttpResponse:
    request_id = request_id or str(uuid.uuid4())
    answer = HttpResponse(json.dumps(envelope(error)), status=error.status, content_type="application/json")
    answer["SC-Request-Id"] = request_id
    if error.retry_after is not None:
        answer["Retry-After"] = str(error.retry_after)
    return answer
