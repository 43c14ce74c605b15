"""The application token endpoint: POST /simulator/iam/oauth2/token (client credentials, one hour, no refresh).

Reference: smartcar-api-v3/auth__request-access-token.md — form-encoded ``grant_type=client_credentials``,
``client_id``, ``client_secret``; 200 ``{access_token, token_type, expires_in}``; 400 ``invalid_request``, 401
``invalid_client``. The page's schema panel says JSON while every example sends a form: both are accepted.
"""

import json
from datetime import timedelta

from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from simulator.models import Application, AppToken
from simulator.platform import ensure_default_application, secrets_equal

LIFETIME = timedelta(hours=1)


def _error(error: str, description: str, status: int) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _form(request) -> dict:
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return {}
        return body if isinstance(body, dict) else {}
    return request.POST.dict()


@csrf_exempt  # an API for servers, authenticated by the client secret, not a browser form
def token(request):
    if request.method != "POST":
        return _error("invalid_request", "The token endpoint accepts POST only.", 405)
    ensure_default_application()
    form = _form(request)
    grant_type = form.get("grant_type", "")
    if not grant_type:
        return _error("invalid_request", "Missing required parameter: grant_type.", 400)
    if grant_type != "client_credentials":
        return _error("invalid_request", "grant_type must be client_credentials.", 400)
    client_id, secret = str(form.get("client_id") or ""), str(form.get("client_secret") or "")
    if not client_id or not secret:
        return _error("invalid_request", "Missing required parameter: client_id or client_secret.", 400)
    application = Application.objects.filter(client_id=client_id).first()
    # Compare a secret even for an unknown client, so timing does not tell which client ids exist.
    if not secrets_equal(secret, application.client_secret if application else "unknown-client") or not application:
        return _error("invalid_client", "Invalid client credentials.", 401)
    issued = AppToken.objects.create(application=application, expires_at=timezone.now() + LIFETIME)
    response = JsonResponse(
        {"access_token": issued.access_token, "token_type": "Bearer", "expires_in": int(LIFETIME.total_seconds())}
    )
    response["Cache-Control"] = "no-store"
    return response


def issued_count(*, application: Application | None = None) -> int:
    """How many application tokens were issued (tests and benchmarks count renewals with it)."""
    tokens = AppToken.objects.all()
    return tokens.filter(application=application).count() if application else tokens.count()
