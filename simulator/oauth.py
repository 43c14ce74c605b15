"""The token endpoint: POST /simulator/oauth/token (authorization_code and refresh_token grants).

Reference: smartcar-api/authorization__auth-code-exchange.md
Reference: smartcar-api/authorization__token-refresh.md

Errors follow OAuth 2.0 (RFC 6749 §5.2), as Smartcar's token endpoint answers them:
``{"error": …, "error_description": …}`` — 401 ``invalid_client`` (with a ``WWW-Authenticate`` challenge) for
bad client credentials, 400 for everything else.
"""

from datetime import timedelta

from django.db import transaction
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from simulator.models import Application, AuthorizationCode, Token
from simulator.platform import basic_credentials, ensure_default_application, secrets_equal

AUTHORIZATION_CODE_LIFETIME = timedelta(minutes=10)
ACCESS_TOKEN_LIFETIME = timedelta(hours=2)
REFRESH_TOKEN_LIFETIME = timedelta(days=60)
# A refresh token keeps working this long after its first use, so a client whose response got lost on the
# way can retry; after that only the rotated token works.
REFRESH_TOKEN_REUSE_WINDOW = timedelta(minutes=1)


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def _oauth_error_response(error: OAuthError) -> JsonResponse:
    response = JsonResponse({"error": error.error, "error_description": error.description}, status=error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = 'Basic realm="Smartcar"'
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt  # an API for servers, authenticated by HTTP Basic, not a browser form
def token(request):
    if request.method != "POST":
        response = _oauth_error_response(OAuthError("invalid_request", "The token endpoint accepts POST only.", 405))
        response["Allow"] = "POST"
        return response
    ensure_default_application()
    try:
        application = _authenticated_client(request)
        grant_type = request.POST.get("grant_type", "")
        if grant_type == "authorization_code":
            issued = token_exchange_code(
                application=application,
                code=_required(request, "code"),
                redirect_uri=request.POST.get("redirect_uri", ""),
            )
        elif grant_type == "refresh_token":
            issued = token_refresh(application=application, refresh_token=_required(request, "refresh_token"))
        elif not grant_type:
            raise OAuthError("invalid_request", "Missing required parameter: grant_type.")
        else:
            raise OAuthError("unsupported_grant_type", f"Grant type {grant_type!r} is not supported.")
    except OAuthError as error:
        return _oauth_error_response(error)
    response = JsonResponse(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
            "refresh_token": issued.refresh_token,
        }
    )
    response["Cache-Control"] = "no-store"
    return response


def _required(request, name: str) -> str:
    value = request.POST.get(name, "")
    if not value:
        raise OAuthError("invalid_request", f"Missing required parameter: {name}.")
    return value


def _authenticated_client(request) -> Application:
    credentials = basic_credentials(request)
    if credentials is None:
        raise OAuthError("invalid_client", "Client authentication failed: use HTTP Basic.", status=401)
    client_id, client_secret = credentials
    application = Application.objects.filter(client_id=client_id).first()
    # Compare a secret even for an unknown client, so timing does not tell which client ids exist.
    expected = application.client_secret if application else "unknown-client"
    if not secrets_equal(client_secret, expected) or application is None:
        raise OAuthError("invalid_client", "Invalid client credentials.", status=401)
    return application


def authorization_code_issue(*, application: Application, user, redirect_uri: str) -> AuthorizationCode:
    """The code Connect hands back on approval; valid 10 minutes, once."""
    return AuthorizationCode.objects.create(
        application=application,
        user=user,
        redirect_uri=redirect_uri,
        expires_at=timezone.now() + AUTHORIZATION_CODE_LIFETIME,
    )


def token_exchange_code(*, application: Application, code: str, redirect_uri: str) -> Token:
    """Trade a Connect authorization code (single use, 10 minutes) for a token pair."""
    now = timezone.now()
    with transaction.atomic():
        # The conditional UPDATE makes "single use" hold under concurrent exchanges of the same code.
        claimed = AuthorizationCode.objects.filter(
            code=code, application=application, used_at=None, expires_at__gt=now
        ).update(used_at=now)
        if not claimed:
            raise OAuthError("invalid_grant", "Invalid, expired or already used authorization code.")
        authorization = AuthorizationCode.objects.get(code=code)
        if redirect_uri and redirect_uri != authorization.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the one used in Connect.")
        return _issue(application=application, user=authorization.user, grant_type="authorization_code")


def token_refresh(*, application: Application, refresh_token: str) -> Token:
    """Rotate a refresh token: a new pair every time; the used token works for one more minute."""
    now = timezone.now()
    with transaction.atomic():
        previous = Token.objects.filter(application=application, refresh_token=refresh_token).first()
        if previous is None or previous.refresh_expires_at <= now:
            raise OAuthError("invalid_grant", "Invalid or expired refresh token.")
        if previous.refresh_used_at is None:
            Token.objects.filter(pk=previous.pk, refresh_used_at=None).update(refresh_used_at=now)
            previous.refresh_from_db(fields=["refresh_used_at"])
        if previous.refresh_used_at + REFRESH_TOKEN_REUSE_WINDOW < now:
            raise OAuthError("invalid_grant", "This refresh token was already used; use the newest one.")
        return _issue(application=application, user=previous.user, grant_type="refresh_token")


def _issue(*, application: Application, user, grant_type: str) -> Token:
    now = timezone.now()
    return Token.objects.create(
        application=application,
        user=user,
        access_expires_at=now + ACCESS_TOKEN_LIFETIME,
        refresh_expires_at=now + REFRESH_TOKEN_LIFETIME,
        grant_type=grant_type,
    )


def refresh_count(*, application: Application | None = None) -> int:
    """How many refresh-token grants were answered (for tests and benchmarks that count refresh calls)."""
    tokens = Token.objects.filter(grant_type="refresh_token")
    if application is not None:
        tokens = tokens.filter(application=application)
    return tokens.count()
