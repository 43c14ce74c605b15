"""The WSGI application gunicorn serves: the site, and Smartcar's webhook deliveries through a handler of their own.

A delivery is a signed machine-to-machine POST answered with one line of JSON (connect/webhooks.py). It uses nothing of
what most of the site's middleware is for — sessions, sign-in, CSRF (the view is exempt), messages, the
Content-Security-Policy and frame headers of pages, htmx, static files — and at hundreds of deliveries a second that
middleware was a fifth of the receiver's CPU per delivery (docs/benchmarks.md, issue 15.4). Deliveries keep the request
id, the security middleware (HTTPS redirect, HSTS, nosniff), the check of the Host header against ALLOWED_HOSTS and the
refusal of control characters, in the site's order; everything else is the same Django: settings, URLs, the view, error
handling, the end-of-request connection handling.
"""

import os

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.test.utils import override_settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleet.settings")

WEBHOOK_PATH = "/webhooks/"  # connect/urls.py: webhooks/<webhook_id>/
WEBHOOK_MIDDLEWARE = [
    "django_guid.middleware.guid_middleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "fleet.invalid_input.reject_invalid_input",
]


class WebhookHandler(WSGIHandler):
    """Django's WSGI handler with ``WEBHOOK_MIDDLEWARE`` in place of settings.MIDDLEWARE."""

    def load_middleware(self, is_async=False):
        # Django builds the middleware chain from settings.MIDDLEWARE alone; it is read here, once, at start-up.
        with override_settings(MIDDLEWARE=WEBHOOK_MIDDLEWARE):
            super().load_middleware(is_async)


site = get_wsgi_application()
webhooks = WebhookHandler()


def application(environ, start_response):
    handler = webhooks if environ.get("PATH_INFO", "").startswith(WEBHOOK_PATH) else site
    return handler(environ, start_response)
