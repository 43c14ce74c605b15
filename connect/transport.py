"""How HTTP requests reach the simulator when it runs inside this process.

In simulated mode with no SMARTCAR_SIMULATOR_ORIGIN, requests to http://localhost/simulator/… are handed to
Django's own WSGI application instead of a socket — still a complete HTTP request through middleware, URL
routing and views, exactly as production requests to Smartcar travel.

Each such request runs on a thread of its own, like a request to a separate server. Running it on the
caller's thread would share the caller's database connection: Django closes a connection that is inside a
transaction when a request finishes (``close_old_connections``), which would wreck the caller's transaction
(a token refresh holds one while it calls the token endpoint), and the simulator's writes would silently
join the caller's transaction and roll back with it.
"""

from __future__ import annotations

import threading

import httpx
from django.conf import settings
from django.db import connections


class ThreadedWSGITransport(httpx.BaseTransport):
    """httpx's WSGI transport, run on a fresh thread with its own database connections."""

    def __init__(self):
        from django.core.handlers.wsgi import WSGIHandler

        self._wsgi = httpx.WSGITransport(app=WSGIHandler())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        if settings.SECURE_SSL_REDIRECT and request.url.scheme == "http":
            # Django would answer a plain-http request with a redirect to https; in-process there is no TLS to
            # terminate, so the request arrives as what it stands for, an https request.
            request.url = request.url.copy_with(scheme="https")
        outcome: dict = {}

        def serve():
            try:
                response = self._wsgi.handle_request(request)
                # Reading (and closing) the body on this thread sends request_finished here, not on the caller's.
                content = response.read()
                response.close()
                outcome["response"] = httpx.Response(
                    status_code=response.status_code, headers=response.headers, content=content, request=request
                )
            except BaseException as exc:  # handed to the caller's thread below
                outcome["error"] = exc
            finally:
                connections.close_all()

        thread = threading.Thread(target=serve, name="simulator-request", daemon=True)
        thread.start()
        timeout = request.extensions.get("timeout", {}).get("read")
        thread.join(timeout)
        if thread.is_alive():
            raise httpx.ReadTimeout("The in-process simulator did not answer in time", request=request)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["response"]
