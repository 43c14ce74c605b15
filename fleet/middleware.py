"""Responses to a signed-in person are theirs alone: no shared cache (a proxy, a CDN) or browser history keeps them."""

from django.utils.cache import patch_cache_control


class PrivateResponsesMiddleware:
    """``Cache-Control: private, no-store`` on every response to an authenticated request — pages, fragments and CSV
    exports alike — whatever caching a view asked for."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            response.headers.pop("Cache-Control", None)
            patch_cache_control(response, private=True, no_store=True)
        return response
