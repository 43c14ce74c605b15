"""``manage.py demo`` (run by ``make run``): the demo fleet, its owner's login, and a dozen connected vehicles.

The vehicles are connected the way a person would connect them: the simulator's Connect page is driven over
HTTP like a browser (sign in, tick every vehicle, allow), and Connect's redirect back goes through the same
callback service as the browser's (state check, code exchange, /user, vehicles, attributes, permissions).
Running the command again connects the same simulated account again, which updates and never duplicates.
"""

import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from connect import client, oauth_state, services
from fleet.models import Fleet, Membership, Role, User

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "fleet-demo"  # noqa: S105 — the printed login of the local demo, not a secret
DEMO_FLEET = "Demo Fleet"
DEMO_TIME_ZONE = "America/New_York"  # the simulated vehicles drive around Atlanta
# The simulator gives an address "N-vehicles@…" N vehicles of mixed makes, the same ones on every installation.
DEMO_SMARTCAR_ACCOUNT = "12-vehicles@demo.fleet"


class _Forms(HTMLParser):
    """The forms of a page: action and the fields a browser would submit (hidden, ticked boxes, buttons)."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attributes.get("action") or "", "fields": [], "checkboxes": [], "buttons": []})
        elif self.forms and tag in ("input", "button"):
            kind = (attributes.get("type") or ("submit" if tag == "button" else "text")).lower()
            name, value = attributes.get("name"), attributes.get("value") or ""
            if not name:
                return
            if kind in ("checkbox", "radio"):
                self.forms[-1]["checkboxes"].append((name, value))
            elif kind == "submit":
                self.forms[-1]["buttons"].append((name, value))
            else:
                self.forms[-1]["fields"].append((name, value))


def _form(page: httpx.Response, having: str) -> dict:
    parser = _Forms()
    parser.feed(page.text)
    for form in parser.forms:
        if any(name == having for name, _ in form["fields"] + form["checkboxes"]):
            return form
    raise CommandError(f"The simulated Connect page at {page.url} has no form with a {having!r} field")


def _form_data(fields: list[tuple[str, str]], typed: list[tuple[str, str]]) -> dict[str, list[str]]:
    """What the browser submits: the page's fields, then what the person typed or clicked in place of their value."""
    data: dict[str, list[str]] = {}
    overridden = {name for name, _ in typed}
    for name, value in [*[(n, v) for n, v in fields if n not in overridden], *typed]:
        data.setdefault(name, []).append(value)
    return data


def _origin() -> str:
    """Where the app answers: the origin Connect sends the browser back to (in simulated mode, the web server's own
    address, with the port ``make run`` serves on)."""
    parts = urlsplit(settings.SMARTCAR_REDIRECT_URI)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = "Creates (or refreshes) the demo fleet, its owner's login and its connected vehicles, and prints them."

    def add_arguments(self, parser):
        parser.add_argument(
            "--smartcar-account",
            default=DEMO_SMARTCAR_ACCOUNT,
            help="The simulated car-maker account to connect (N-vehicles@… has N vehicles).",
        )

    def handle(self, *args, **options):
        # The printed demo password is public (it is in this file): with DEBUG off the owner gets a password of its own,
        # printed once when the account is made and left alone afterwards.
        password = DEMO_PASSWORD if settings.DEBUG else None
        with transaction.atomic():
            user, created = User.objects.get_or_create(email=DEMO_EMAIL, defaults={"name": "Demo Owner"})
            if not settings.DEBUG and created:
                password = secrets.token_urlsafe(12)
            if password and (created or not user.check_password(password)):
                user.set_password(password)
                user.save()
            # Sign-in waits for a verified address (ACCOUNT_EMAIL_VERIFICATION); the demo's is made up: verified here.
            EmailAddress.objects.update_or_create(
                user=user, email=DEMO_EMAIL, defaults={"primary": True, "verified": True}
            )
            fleet = Fleet.objects.filter(slug="demo").first() or Fleet.objects.create(
                name=DEMO_FLEET, slug="demo", time_zone=DEMO_TIME_ZONE
            )
            Membership.objects.update_or_create(user=user, fleet=fleet, defaults={"role": Role.OWNER})
        if settings.SIMULATED and transaction.get_connection().in_atomic_block:
            # The simulator answers on its own thread and database connection (connect/transport.py), so it can
            # neither see nor wait for an open transaction of the caller's.
            self.stdout.write("Demo vehicles not connected: the command runs inside a database transaction.")
        elif settings.SIMULATED:
            self._connect(fleet, user, options["smartcar_account"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo fleet: {fleet.name} — {_origin()}{fleet.get_absolute_url()}\n"
                f"Demo login: {DEMO_EMAIL} / {password or '(the password set when it was made)'}"
            )
        )

    def _connect(self, fleet: Fleet, user: User, smartcar_account: str) -> None:
        session: dict = {}  # the browser session the state is bound to
        state = oauth_state.state_issue(session, fleet_id=fleet.pk, user_id=user.pk)
        redirect = self._approve_in_connect(client.authorize_url(state=state), smartcar_account)
        params = dict(parse_qsl(urlsplit(redirect).query))
        result = services.connect_callback(session=session, user=user, params=params)
        if result.error_message or result.outcome is None:
            raise CommandError(f"Connecting the demo vehicles failed: {result.error_message}")
        self.stdout.write(f"Smartcar account {smartcar_account}: {result.outcome.summary}")

    def _approve_in_connect(self, authorize_url: str, email: str) -> str:
        """Signs in on the simulated Connect page and allows every vehicle; returns Connect's redirect back."""
        origin = settings.SMARTCAR_SIMULATOR_ORIGIN
        transport = None
        if not origin:
            from connect.transport import ThreadedWSGITransport

            # In-process, as https: with DEBUG off the CSRF cookie is Secure and the Referer of a secure request must
            # be secure too, so over plain http this browser would lose its cookie and be refused.
            origin = "https://localhost"
            transport = ThreadedWSGITransport()
        # A browser of its own (its own cookies, for the pages' CSRF protection), on the client's transport.
        with httpx.Client(transport=transport, base_url=origin, timeout=60, headers={"Referer": origin}) as browser:
            page = browser.get(urljoin(origin + "/", authorize_url))
            self._expect(page, 200, "the Connect page")
            sign_in = _form(page, "email")
            page = browser.post(
                urljoin(str(page.url), sign_in["action"]),
                data=_form_data(sign_in["fields"], [("email", email), ("region", "US"), ("action", "sign_in")]),
            )
            self._expect(page, 200, "signing in on the Connect page")
            consent = _form(page, "vehicle")
            answer = browser.post(
                urljoin(str(page.url), consent["action"]),
                data=_form_data(consent["fields"] + consent["checkboxes"], [("action", "approve")]),
            )
            self._expect(answer, 302, "allowing access on the Connect page")
            return answer.headers["location"]

    @staticmethod
    def _expect(response: httpx.Response, status: int, what: str) -> None:
        if response.status_code != status:
            raise CommandError(f"The simulator answered {response.status_code} to {what}")
