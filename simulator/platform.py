"""What the token endpoint, Connect and the management API share: the application registered from settings,
HTTP Basic credentials, and Smartcar's error body.

Reference: smartcar-api/api-errors.md
"""

import base64
import binascii
import hmac
import uuid
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.http import JsonResponse

from simulator.models import Application, Webhook

DEFAULT_APPLICATION_NAME = "Fleet"

# Reference: smartcar-api/api-errors.md — the docURL of each error type's guide.
_ERROR_DOC_PAGES = {
    "AUTHENTICATION": "authentication-errors",
    "PERMISSION": "permission-errors",
    "VALIDATION": "validation-errors",
    "RESOURCE_NOT_FOUND": "resource-not-found-errors",
    "SERVER": "server-errors",
}
_RESOLUTIONS = {"AUTHENTICATION": "REAUTHENTICATE", "SERVER": "RETRY_LATER"}


def ensure_default_application() -> Application:
    """Register (or bring up to date) the application whose credentials the app itself uses.

    Idempotent, called lazily by each platform surface, so a fresh simulated installation needs nothing set
    up by hand. Redirect URIs added in admin are kept; the ones from settings are always present, together
    with the same path on localhost and 127.0.0.1 so the demo works whichever of the two the browser uses.
    """
    client_id = settings.SMARTCAR_CLIENT_ID
    wanted_uris = _redirect_uri_variants(settings.SMARTCAR_REDIRECT_URI)
    # get_or_create survives two first requests racing to register it (it re-reads after an IntegrityError).
    application, _ = Application.objects.get_or_create(
        client_id=client_id,
        defaults={
            "name": DEFAULT_APPLICATION_NAME,
            "redirect_uris": "\n".join(wanted_uris),
            "client_secret": settings.SMARTCAR_CLIENT_SECRET,
            **({"management_token": settings.SMARTCAR_MANAGEMENT_TOKEN} if settings.SMARTCAR_MANAGEMENT_TOKEN else {}),
        },
    )
    uris = application.redirect_uri_list
    uris += [uri for uri in wanted_uris if uri not in uris]
    changed = {
        "client_secret": settings.SMARTCAR_CLIENT_SECRET,
        "management_token": settings.SMARTCAR_MANAGEMENT_TOKEN or application.management_token,
        "redirect_uris": "\n".join(uris),
    }
    if any(getattr(application, field) != value for field, value in changed.items()):
        for field, value in changed.items():
            setattr(application, field, value)
        application.save()
    _ensure_settings_webhook(application)
    return application


def _ensure_settings_webhook(application: Application) -> None:
    """The webhook the settings name (SMARTCAR_WEBHOOK_ID → SMARTCAR_WEBHOOK_CALLBACK_URL), as if added in Dashboard.

    Lets the demo's charging events reach the app with nothing configured by hand; the app only ever learns of it
    over HTTP (subscriptions and signed deliveries). A webhook edited in admin since keeps its callback.
    """
    webhook_id = getattr(settings, "SMARTCAR_WEBHOOK_ID", "")
    callback_url = getattr(settings, "SMARTCAR_WEBHOOK_CALLBACK_URL", "")
    if webhook_id and callback_url:
        # An application on API v3 gets a webhook of payload version 4.0 (smartcar-api-v3/webhooks__overview.md).
        version = "4.0" if getattr(settings, "SMARTCAR_API_VERSION", "2.0") == "3" else "2.0"
        webhook, _ = Webhook.objects.get_or_create(
            webhook_id=webhook_id,
            defaults={
                "application": application,
                "name": "Fleet charging events",
                "callback_url": callback_url,
                "payload_version": version,
            },
        )
        if webhook.payload_version != version:
            Webhook.objects.filter(pk=webhook.pk).update(payload_version=version)


def _redirect_uri_variants(uri: str) -> list[str]:
    if not uri:
        return []
    parts = urlsplit(uri)
    variants = [uri]
    if parts.hostname in ("localhost", "127.0.0.1"):
        port = f":{parts.port}" if parts.port else ""
        for host in ("localhost", "127.0.0.1"):
            variant = urlunsplit(parts._replace(netloc=f"{host}{port}"))
            if variant not in variants:
                variants.append(variant)
    return variants


def basic_credentials(request) -> tuple[str, str] | None:
    """The (user, password) of an ``Authorization: Basic …`` header, or None when absent or malformed."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, separator, password = decoded.partition(":")
    if not separator:
        return None
    return user, password


def secrets_equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def api_error(
    status: int,
    error_type: str,
    code: str | None,
    description: str,
    *,
    detail: list[dict] | None = None,
    headers: dict | None = None,
) -> JsonResponse:
    """Smartcar's v2.0 error body, with the request id also in the ``SC-Request-Id`` header."""
    request_id = str(uuid.uuid4())
    page = _ERROR_DOC_PAGES.get(error_type, "api-errors")
    body = {
        "type": error_type,
        "code": code,
        "description": description,
        "docURL": f"https://smartcar.com/docs/errors/api-errors/{page}#{(code or 'null').lower().replace('_', '-')}",
        "statusCode": status,
        "requestId": request_id,
        "resolution": {"type": _RESOLUTIONS.get(error_type)},
        "suggestedUserMessage": None,
    }
    if detail is not None:
        body["detail"] = detail
    response = JsonResponse(body, status=status)
    response["SC-Request-Id"] = request_id
    for name, value in (headers or {}).items():
        response[name] = value
    return response
