"""Smartcar API v3 over HTTP: the application token, the Vehicle API, connections and the Management API.

Reference: ../shared/smartcar-api-v3/ (each call names its page). Failures raise the typed errors of
``connect.errors`` (the v3 envelope ``{"errors": [...]}`` maps onto the same classes as v2's body); answers come
back as ``connect.client.ApiResponse``. The HTTP plumbing — the pooled client, the in-process simulator transport,
timeouts, the retry of safe reads after a connection failure — is the v2 client's (connect/client.py).

Authentication (smartcar-api-v3/auth__overview.md): one application token per process, from the client
credentials, valid an hour and renewed five minutes before it ends or when the API answers 401 — exactly once
however many threads need it at that moment (``ApplicationToken``). Signal reads and commands carry ``sc-user-id``,
the Smartcar user whose connection they act for.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connect.client import UNIT_SYSTEM, ApiResponse, _parse, _send, short_timeout, vehicle_timeout
from connect.errors import MalformedResponseError
from connect.json_fields import mapping_at

logger = logging.getLogger(__name__)

# Renew this long before the hour ends: covers clock skew and a long vehicle call started with the old token.
RENEW_BEFORE = timedelta(minutes=5)
PAGE_SIZE = 100  # connections__list.md and management__subscriptions.md: at most 100 a page
MAX_PAGES = 1000  # a paging loop that never ends is a malformed answer, not a reason to hang


# --- The application token ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppToken:
    value: str = field(repr=False)
    expires_at: datetime

    def is_fresh(self) -> bool:
        return self.expires_at - RENEW_BEFORE > timezone.now()


@sensitive_variables()
def app_token_request() -> AppToken:
    """A new application token from the client credentials."""
    # Reference: smartcar-api-v3/auth__request-access-token.md — a form body, as every example on the page sends.
    form = {
        "grant_type": "client_credentials",
        "client_id": settings.SMARTCAR_CLIENT_ID,
        "client_secret": settings.SMARTCAR_CLIENT_SECRET,
    }
    response = _send(
        "POST",
        settings.SMARTCAR_IAM_URL,
        what="application token",
        retry=False,
        data=form,
        headers={"Accept": "application/json"},
        timeout=short_timeout(),
    )
    body = _parse(response).body
    token = body.get("access_token") if isinstance(body, Mapping) else None
    expires_in = body.get("expires_in") if isinstance(body, Mapping) else None
    if not isinstance(token, str) or not token:
        raise MalformedResponseError("Token answer without an access_token", type="MALFORMED", status=200)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
        raise MalformedResponseError("Token answer without a valid expires_in", type="MALFORMED", status=200)
    logger.info("smartcar: application token issued for %d s", expires_in)
    return AppToken(value=token, expires_at=timezone.now() + timedelta(seconds=expires_in))


class ApplicationToken:
    """The process's application token: fetched once, shared by every thread, renewed by exactly one of them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._token: AppToken | None = None
        self._pid = os.getpid()

    def _forget_after_fork(self) -> None:
        if self._pid != os.getpid():  # a forked worker must not share (or wait on) its parent's lock
            self._lock, self._token, self._pid = threading.Lock(), None, os.getpid()

    @sensitive_variables()
    def get(self) -> str:
        self._forget_after_fork()
        token = self._token
        if token is not None and token.is_fresh():
            return token.value
        with self._lock:
            if self._token is None or not self._token.is_fresh():
                self._token = app_token_request()
            return self._token.value

    @sensitive_variables()
    def renew(self, refused: str) -> str:
        """After a 401 with ``refused``: a new token, unless another thread already replaced that one."""
        self._forget_after_fork()
        with self._lock:
            if self._token is None or self._token.value == refused:
                self._token = app_token_request()
            return self._token.value

    def clear(self) -> None:
        with self._lock:
            self._token = None


application_token = ApplicationToken()


@sensitive_variables()
def _call(method: str, url: str, *, what: str, retry: bool, timeout, headers: Mapping[str, str], **kwargs):
    """One authenticated call; a 401 renews the application token once and repeats the call once."""
    token = application_token.get()
    for attempt in (1, 2):
        response = _send(
            method,
            url,
            what=what,
            retry=retry,
            timeout=timeout,
            headers={**headers, "Authorization": f"Bearer {token}"},
            **kwargs,
        )
        if response.status_code == 401 and attempt == 1:
            logger.info("smartcar %s: application token refused, renewing it", what)
            token = application_token.renew(token)
            continue
        return _parse(response)
    raise AssertionError("unreachable")


# --- JSON:API helpers ---------------------------------------------------------------------------------------------


def _data(response: ApiResponse) -> Any:
    body = response.body
    if not isinstance(body, Mapping) or "data" not in body:
        raise MalformedResponseError("Answer without data", type="MALFORMED", status=response.status)
    return body["data"]


def _next_query(body: Mapping) -> dict | None:
    """The query of ``links.next`` (JSON:API paging), or None on the last page."""
    links = mapping_at(body, "links")
    following = links.get("next")
    if not isinstance(following, str) or not following:
        return None
    return dict(parse_qsl(urlsplit(following).query))


@dataclass(frozen=True)
class CommandExecution:
    """A ``command-execution`` or ``charge-schedule-execution`` (commands__overview.md)."""

    response: ApiResponse
    execution_id: str
    status: str  # SUCCESS, PENDING, FAILURE… as the body says; "" when it says nothing
    attributes: Mapping[str, Any]

    @property
    def is_pending(self) -> bool:
        # A 202 is "in process but long-running: always read the body" (commands__overview.md).
        return self.status == "PENDING" or (self.response.status == 202 and self.status != "SUCCESS")

    @property
    def request_id(self) -> str | None:
        return self.response.request_id


def _execution(response: ApiResponse) -> CommandExecution:
    data = _data(response)
    if not isinstance(data, Mapping):
        raise MalformedResponseError("Command answer without a resource", type="MALFORMED", status=response.status)
    attributes = mapping_at(data, "attributes")
    status = mapping_at(attributes, "status")
    value = status.get("value")
    return CommandExecution(
        response=response,
        execution_id=str(data.get("id") or ""),
        status=value.upper() if isinstance(value, str) else "",
        attributes=attributes,
    )


# --- The Vehicle API for one Smartcar user ------------------------------------------------------------------------


class VehicleApi:
    """Signal reads and commands on behalf of one Smartcar user (``sc-user-id``)."""

    def __init__(self, user_id: str):
        self.user_id = user_id

    def __repr__(self):
        return "<VehicleApi>"

    def request(self, method: str, path: str, *, json: Any = None, params: Mapping | None = None) -> ApiResponse:
        method = method.upper()
        headers = {"SC-Unit-System": UNIT_SYSTEM, "sc-user-id": self.user_id}
        return _call(
            method,
            settings.SMARTCAR_VEHICLE_API_URL.rstrip("/") + path,
            what=f"{method} v3{path}",
            retry=method == "GET",
            timeout=vehicle_timeout(),
            headers=headers,
            json=json,
            params=params,
        )

    def vehicle(self, vehicle_id: str) -> ApiResponse:
        # Reference: smartcar-api-v3/vehicles__get.md
        return self.request("GET", f"/vehicles/{vehicle_id}")

    def signals(self, vehicle_id: str) -> list[ApiResponse]:
        """Every page of the vehicle's signals (usually one: one billed call)."""
        # Reference: smartcar-api-v3/signals__list.md — the paging parameters were cut off the page; the example's
        # links carry page and pageSize, so the next page is whatever links.next says.
        pages = [self.request("GET", f"/vehicles/{vehicle_id}/signals")]
        while len(pages) < MAX_PAGES and isinstance(pages[-1].body, Mapping):
            query = _next_query(pages[-1].body)
            if query is None:
                break
            pages.append(self.request("GET", f"/vehicles/{vehicle_id}/signals", params=query))
        return pages

    def signal(self, vehicle_id: str, code: str) -> ApiResponse:
        # Reference: smartcar-api-v3/signals__get.md
        return self.request("GET", f"/vehicles/{vehicle_id}/signals/{code}")

    def _command(self, vehicle_id: str, command: str, attributes: Mapping | None = None) -> CommandExecution:
        body = {"data": {"attributes": dict(attributes)}} if attributes is not None else None
        return _execution(self.request("POST", f"/vehicles/{vehicle_id}/commands/{command}", json=body))

    def lock(self, vehicle_id: str) -> CommandExecution:
        # Reference: smartcar-api-v3/command__security-lock.md
        return self._command(vehicle_id, "security/lock")

    def unlock(self, vehicle_id: str) -> CommandExecution:
        # Reference: smartcar-api-v3/command__security-unlock.md
        return self._command(vehicle_id, "security/unlock")

    def charge_start(self, vehicle_id: str) -> CommandExecution:
        # Reference: smartcar-api-v3/command__charge-start.md (no body)
        return self._command(vehicle_id, "charge/start")

    def charge_stop(self, vehicle_id: str) -> CommandExecution:
        # Reference: smartcar-api-v3/command__charge-stop.md (no body)
        return self._command(vehicle_id, "charge/stop")

    def charge_limit_set(self, vehicle_id: str, percent: int) -> CommandExecution:
        # Reference: smartcar-api-v3/command__charge-set-limit.md — an integer percent (v2 sent a fraction).
        return self._command(vehicle_id, "charge/set-limit", {"percent": int(percent)})

    def navigation_destination_send(self, vehicle_id: str, *, latitude: float, longitude: float) -> CommandExecution:
        # Reference: smartcar-api-v3/command__navigation-set-destination.md (the body is unofficial there)
        return self._command(vehicle_id, "navigation/set-destination", {"latitude": latitude, "longitude": longitude})

    def charge_schedule_daily_set(
        self, vehicle_id: str, *, latitude: float, longitude: float, start: str, stop: str
    ) -> CommandExecution:
        # Reference: smartcar-api-v3/command__charge-schedules.md — times HH:mm (the time zone is not stated).
        body = {"data": {"attributes": {"location": {"latitude": latitude, "longitude": longitude},
                                        "startTime": start, "stopTime": stop}}}  # fmt: skip
        return _execution(self.request("POST", f"/vehicles/{vehicle_id}/charge-schedules/daily", json=body))

    def charge_schedule_delete(self, vehicle_id: str, schedule_id: str) -> ApiResponse:
        # Reference: smartcar-api-v3/command__charge-schedules.md ("Delete schedule — not retrieved")
        return self.request("DELETE", f"/vehicles/{vehicle_id}/charge-schedules/{schedule_id}")


# --- Connections and users (Vehicle API host, application token) -----------------------------------------------------


def _application_get(url: str, what: str, params: Mapping | None = None) -> ApiResponse:
    return _call("GET", url, what=what, retry=True, timeout=short_timeout(), headers={}, params=params)


def _every_page(url: str, what: str, filters: Mapping[str, str]) -> Iterator[Mapping]:
    query: dict = {**filters, "page[number]": "1", "page[size]": str(PAGE_SIZE)}
    for _ in range(MAX_PAGES):
        response = _application_get(url, what, query)
        items = _data(response)
        if not isinstance(items, list):
            raise MalformedResponseError(f"{what}: data is not a list", type="MALFORMED", status=response.status)
        yield from (item for item in items if isinstance(item, Mapping))
        following = _next_query(response.body)
        if not items or following is None:
            return
        query = following
    raise MalformedResponseError(f"{what}: more than {MAX_PAGES} pages", type="MALFORMED")


def connections_list(*, user_id: str | None = None, vehicle_id: str | None = None) -> list[Mapping]:
    """Every connection of the application (optionally one user's or one vehicle's), across all pages."""
    # Reference: smartcar-api-v3/connections__list.md (filter names from a reading of the spec, not the page)
    filters = {k: v for k, v in (("filter[userId]", user_id), ("filter[vehicleId]", vehicle_id)) if v}
    url = settings.SMARTCAR_VEHICLE_API_URL.rstrip("/") + "/connections"
    return list(_every_page(url, "GET v3/connections", filters))


def connection_user_id(connection: Mapping) -> str:
    relationships = mapping_at(connection, "relationships")
    user = mapping_at(relationships, "user")
    data = mapping_at(user, "data")
    return str(data.get("id") or "")


def connection_vehicle_id(connection: Mapping) -> str:
    relationships = mapping_at(connection, "relationships")
    vehicle = mapping_at(relationships, "vehicle")
    data = mapping_at(vehicle, "data")
    return str(data.get("id") or "")


def connection_delete(connection_id: str) -> ApiResponse:
    # Reference: smartcar-api-v3/connections__remove.md (path only)
    url = settings.SMARTCAR_VEHICLE_API_URL.rstrip("/") + f"/connections/{connection_id}"
    return _call("DELETE", url, what="DELETE v3/connections", retry=False, timeout=short_timeout(), headers={})


def user_delete(user_id: str) -> ApiResponse:
    # Reference: smartcar-api-v3/users__remove.md — 204, every connection of the user goes.
    url = settings.SMARTCAR_VEHICLE_API_URL.rstrip("/") + f"/users/{user_id}"
    return _call("DELETE", url, what="DELETE v3/users", retry=False, timeout=short_timeout(), headers={})


# --- Management API: subscriptions ----------------------------------------------------------------------------------


def subscription_create(*, webhook_id: str, user_id: str, vehicle_id: str) -> ApiResponse:
    """Subscribes a vehicle to a webhook; 202 without an id (asynchronous). Raises on 409 like any error."""
    # Reference: smartcar-api-v3/management__subscriptions.md (attribute names from community code, not the page)
    url = settings.SMARTCAR_MANAGEMENT_API_URL.rstrip("/") + "/subscriptions"
    body = {"data": {"attributes": {"webhookId": webhook_id, "userId": user_id, "vehicleId": vehicle_id}}}
    return _call("POST", url, what="POST v3/subscriptions", retry=False, timeout=short_timeout(), headers={}, json=body)


def subscriptions_list(*, vehicle_id: str | None = None, webhook_id: str | None = None) -> list[Mapping]:
    # Reference: smartcar-api-v3/management__subscriptions.md
    filters = {k: v for k, v in (("filter[vehicleId]", vehicle_id), ("filter[webhookId]", webhook_id)) if v}
    url = settings.SMARTCAR_MANAGEMENT_API_URL.rstrip("/") + "/subscriptions"
    return list(_every_page(url, "GET v3/subscriptions", filters))


def subscription_delete(subscription_id: str) -> ApiResponse:
    # Reference: smartcar-api-v3/management__subscriptions.md ("remove-subscription page not retrieved"; 204)
    url = settings.SMARTCAR_MANAGEMENT_API_URL.rstrip("/") + f"/subscriptions/{subscription_id}"
    return _call("DELETE", url, what="DELETE v3/subscriptions", retry=False, timeout=short_timeout(), headers={})


__all__ = [
    "AppToken",
    "ApplicationToken",
    "CommandExecution",
    "VehicleApi",
    "application_token",
    "connection_delete",
    "connection_user_id",
    "connection_vehicle_id",
    "connections_list",
    "subscription_create",
    "subscription_delete",
    "subscriptions_list",
    "user_delete",
]
