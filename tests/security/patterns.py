"""Every URL pattern of the project, read from the resolver, and how to fill its keyword arguments.

A view added anywhere is probed by this suite without anyone listing it: its pattern is found here. Its keyword
arguments are filled from ``KWARGS`` (by name) or ``KWARGS_BY_PATTERN`` (by ``"<url name>:<kwarg>"``, for a name
such as ``pk`` that means a different object in different apps); each factory takes a fleet's ``Side`` (see
conftest.py) and returns the value of that fleet's object, creating it if need be. A kwarg neither table knows
fails the suite with the pattern's name: add a factory, do not exempt the pattern.

``EXEMPT`` lists the patterns that legitimately answer differently, each with the checks it is spared and why.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

ISOLATION, ROLES, CSRF, ABSURD = "isolation", "roles", "csrf", "absurd"
ALL_CHECKS = frozenset({ISOLATION, ROLES, CSRF, ABSURD})


@dataclass(frozen=True)
class Pattern:
    route: str  # as written in the URLconf, prefixes joined: "fleets/<slug:fleet_slug>/members/"
    name: str | None
    kwargs: tuple[str, ...]
    is_regex: bool

    @property
    def label(self) -> str:
        return f"/{self.route} ({self.name or 'unnamed'})"

    @property
    def is_fleet_page(self) -> bool:
        return "fleet_slug" in self.kwargs

    def url(self, values: dict[str, object]) -> str:
        missing = set(self.kwargs) - set(values)
        assert not missing, f"{self.label}: no value for {sorted(missing)}"
        if self.is_regex:
            path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(values[m.group(1)]), self.route)
            path = path.replace("^", "").replace("$", "").replace("\\", "")
        else:
            path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), self.route)
        return "/" + path


def _walk(patterns, prefix: str = "", regex: bool = False):
    for entry in patterns:
        part = str(entry.pattern)
        is_regex = regex or not isinstance(entry.pattern, RoutePattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + part, is_regex)
        elif isinstance(entry, URLPattern):
            route = prefix + part
            if is_regex:
                kwargs = tuple(re.findall(r"\(\?P<(\w+)>", route))
            else:
                kwargs = tuple(re.findall(r"<(?:\w+:)?(\w+)>", route))
            yield Pattern(route=route, name=entry.name, kwargs=kwargs, is_regex=is_regex)


def all_patterns() -> list[Pattern]:
    seen, found = set(), []
    for pattern in _walk(get_resolver().url_patterns):
        if pattern.route not in seen:  # a route mounted twice is one page
            seen.add(pattern.route)
            found.append(pattern)
    return found


# --- Patterns spared some checks, and why ---------------------------------------------------------------------

EXEMPT_PREFIXES: dict[str, tuple[frozenset[str], str]] = {
    "admin/": (
        ALL_CHECKS,
        "Django's admin: staff only, its own permission and CSRF checks; tests/admin probes it with staff and "
        "non-staff users",
    ),
    "simulator/": (
        ALL_CHECKS,
        "the simulated Smartcar platform: its own API authenticated by its own tokens and management token, "
        "absent in live mode; tests/simulator holds it to the Smartcar reference",
    ),
    "accounts/": (
        frozenset({ISOLATION, ROLES}),
        "django-allauth's sign-in, sign-up and e-mail pages: no fleet in them (CSRF and absurd input still apply)",
    ),
    "static/": (ALL_CHECKS, "static files served by WhiteNoise"),
}

EXEMPT_NAMES: dict[str, tuple[frozenset[str], str]] = {
    "webhook_receive": (
        frozenset({ISOLATION, ROLES, CSRF}),
        "Smartcar's webhook deliveries: no session, no CSRF token; every delivery but the verify challenge is "
        "checked by its HMAC signature instead (tests/webhooks/test_receiver.py)",
    ),
    "connect_callback": (
        frozenset({ISOLATION, ROLES, CSRF}),
        "the OAuth redirect URI: a GET whose fleet travels in the session-bound state, checked by "
        "tests/connect (state popped and compared, another session's state refused)",
    ),
    "healthz": (frozenset({ISOLATION, ROLES, CSRF}), "the load balancer's probe: public, GET only, no data"),
    "alerts_subscription": (
        frozenset({ROLES}),
        "a member's own alert e-mails: every member, viewers included, chooses which alerts reach them; nothing of "
        "the fleet or of another member changes (tests/alerts)",
    ),
    "invitation_accept": (
        frozenset({ISOLATION, ROLES}),
        "an invitation link: its token is the capability and it names the invited address, whoever holds the link "
        "(tests/fleet/test_invitations.py); it belongs to no fleet the visitor is a member of",
    ),
}


def exemption(pattern: Pattern, check: str) -> str | None:
    """Why ``pattern`` is spared ``check``, or None when it is not."""
    for prefix, (checks, reason) in EXEMPT_PREFIXES.items():
        if pattern.route.lstrip("^").startswith(prefix) and check in checks:
            return reason
    if pattern.name in EXEMPT_NAMES and check in EXEMPT_NAMES[pattern.name][0]:
        return EXEMPT_NAMES[pattern.name][1]
    return None


def patterns_for(check: str) -> list[Pattern]:
    return [p for p in all_patterns() if exemption(p, check) is None]


# --- Keyword arguments --------------------------------------------------------------------------------------------
# Each factory takes a Side (one fleet with its people and objects, tests/security/conftest.py) and returns the
# value to put in the URL for that fleet.

Factory = Callable[["object"], object]

KWARGS: dict[str, Factory] = {
    "fleet_slug": lambda side: side.fleet.slug,
    "vehicle_id": lambda side: side.vehicle.pk,
    "membership_id": lambda side: side.membership_of_manager.pk,
    "invitation_id": lambda side: side.invitation.pk,
    "account_id": lambda side: side.account.pk,
    "command_id": lambda side: side.command.pk,
    "run_id": lambda side: side.bulk_run.pk,
    "token": lambda side: side.invitation.token,
    "group_id": lambda side: side.vehicle_group.pk,
    # alerts/
    "rule_id": lambda side: side.alert_rule.pk,
    "alert_id": lambda side: side.alert.pk,
    "endpoint_id": lambda side: side.alert_endpoint.pk,
    "action": lambda side: "off",  # an endpoint's verb (test, resume, on, off, delete): one that writes
    # trips/
    "driver_id": lambda side: side.driver.pk,
    "assignment_id": lambda side: side.assignment.pk,
    "place_id": lambda side: side.place.pk,
    "trip_id": lambda side: side.trip.pk,
    # The webhook receiver's URL is the one Smartcar's Dashboard holds, the same for every fleet.
    "webhook_id": lambda side: "9b6ae692-60cc-4b3e-89d8-71e7549cf805",
    # allauth's e-mail confirmation and password reset keys: no fleet's object; probed with unknown values.
    "key": lambda side: "no-such-key",
    "uidb36": lambda side: "zz",
}

KWARGS_BY_PATTERN: dict[str, Factory] = {
    # maintenance/
    "maintenance_work_order_from_service:task_id": lambda side: side.service_task.pk,
    "maintenance_program_task:pk": lambda side: side.service_task.pk,
    "maintenance_work_order:pk": lambda side: side.work_order.pk,
}

# Kwargs that belong to no fleet: the cross-fleet check keeps fleet A's value for them.
UNOWNED_KWARGS = {"key", "uidb36", "webhook_id", "action"}


class UnknownKwarg(LookupError):
    pass


def factory_for(pattern: Pattern, kwarg: str) -> Factory:
    factory = KWARGS_BY_PATTERN.get(f"{pattern.name}:{kwarg}") or KWARGS.get(kwarg)
    if factory is None and kwarg == "pk" and "vehicles/<int:pk>/" in pattern.route:
        factory = KWARGS["vehicle_id"]  # the vehicle's pages name it pk (vehicles/urls.py)
    if factory is None:
        raise UnknownKwarg(
            f"URL pattern {pattern.label} takes the keyword argument {kwarg!r}, which tests/security/patterns.py "
            f"cannot fill: add a factory to KWARGS (or KWARGS_BY_PATTERN['{pattern.name}:{kwarg}']) that returns "
            "a fleet's object for it"
        )
    return factory


def fill(pattern: Pattern, side, *, overrides: dict | None = None) -> dict[str, object]:
    values = {kwarg: factory_for(pattern, kwarg)(side) for kwarg in pattern.kwargs}
    return {**values, **(overrides or {})}
