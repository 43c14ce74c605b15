"""Input no view could use is refused before any view sees it.

PostgreSQL cannot store or compare a string holding NUL, so a NUL in a URL, a query string or a form field
would reach the database as an error (a 500) wherever a view looks the value up. A path holding a control
character names nothing here either. Both answer 400, the way Django answers other malformed requests.
"""

import re

from django.views.defaults import bad_request

_CONTROL_IN_PATH = re.compile(r"[\x00-\x1f\x7f]")
_FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def reject_invalid_input(get_response):
    def middleware(request):
        if _CONTROL_IN_PATH.search(request.path_info):
            return _refuse(request, "a control character in the path")
        if _holds_nul(request.GET):
            return _refuse(request, "a NUL character in the query string")
        if request.method == "POST" and request.content_type in _FORM_CONTENT_TYPES and _holds_nul(request.POST):
            return _refuse(request, "a NUL character in a form field")
        return get_response(request)

    return middleware


def _holds_nul(query) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in query.lists())


def _refuse(request, what: str):
    # django.request logs the refusal (a warning, as for any 4xx); the reason is for whoever reads the code.
    return bad_request(request, exception=None)
