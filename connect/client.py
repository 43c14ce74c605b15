"""The one way the app talks to Smartcar: vehicle API, token endpoint, management API, Connect URL.

Plain functions and a small client class on httpx. Every vehicle method links the documentation page it
implements (../shared/smartcar-api/). Failures raise the typed errors of ``connect.errors``; successful answers
come back as ``ApiResponse`` with the body and the meta headers.

- One pooled httpx client per process, recreated after a fork (Celery prefork workers).
- Base URLs are read from settings at call time, so SMARTCAR_MODE decides where calls go.
- ``SC-Unit-System: metric`` on every vehicle call: the app stores canonical metric values.
- Timeouts on every call: long for vehicle round trips (Smartcar documents up to 300 s), short for the token
  endpoint, management API and compatibility API.
- Retries only where repeating cannot do harm: an idempotent read (GET, or a batch of GETs) whose connection
  could not even be established. Commands are never repeated — a lock or a charge start must not run twice.
- Tokens and secrets never reach a log line or an exception message.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.debug import sensitive_variables

from connect.errors import (
    RETRY_LATER,
    MalformedResponseError,
    SmartcarError,
    TransportError,
    error_from_body,
    error_from_response,
)
from connect.json_fields import mapping_at

logger = logging.getLogger(__name__)

UNIT_SYSTEM = "metric"
PAGE_SIZE_VEHICLES = 50  # all-vehicles.md: "Max: 50"
PAGE_SIZE_CONNECTIONS = 100  # management__get-vehicle-connections.md: "Max: 100"
REFRESH_TOKEN_LIFETIME = timedelta(days=60)
# Attempts for a safe read whose connection failed before anything was sent.
READ_ATTEMPTS = 3


def vehicle_timeout() -> httpx.Timeout:
    """Vehicle round trips: Smartcar documents OEM answers taking up to 300 s."""
    seconds = float(settings.SMARTCAR_VEHICLE_TIMEOUT_SECONDS)
    return httpx.Timeout(seconds, connect=10.0)


def short_timeout() -> httpx.Timeout:
    """Token endpoint, management and compatibility APIs: no vehicle involved, so an answer is quick or never."""
    seconds = float(settings.SMARTCAR_AUTH_TIMEOUT_SECONDS)
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


# --- Results ----------------------------------------------------------------------------------------------------


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class ApiResponse:
    """A successful answer: its body and the meta headers of smartcar-api/headers.md."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    request_id: str | None = None
    data_age: datetime | None = None  # SC-Data-Age: when the vehicle recorded the data
    fetched_at: datetime | None = None  # SC-Fetched-At: when Smartcar fetched it from the car maker
    unit_system: str | None = None  # SC-Unit-System

    @classmethod
    def from_parts(cls, status: int, headers: Mapping[str, str], body: Any) -> ApiResponse:
        lowered = {str(name).lower(): value for name, value in headers.items()}
        return cls(
            status=status,
            body=body,
            headers=lowered,
            request_id=lowered.get("sc-request-id"),
            data_age=_parse_time(lowered.get("sc-data-age")),
            fetched_at=_parse_time(lowered.get("sc-fetched-at")),
            unit_system=lowered.get("sc-unit-system"),
        )


@dataclass(frozen=True)
class TokenPair:
    """What the token endpoint issues. The tokens are kept out of repr() so they never reach a log."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: datetime
    refresh_expires_at: datetime


# --- Pooled HTTP clients ----------------------------------------------------------------------------------------

_pool_lock = threading.Lock()
_sync_client: tuple[int, httpx.Client] | None = None


def _in_process_mounts() -> dict:
    """In simulated mode without an origin, http://localhost/… is this very Django application."""
    if not (settings.SIMULATED and not settings.SMARTCAR_SIMULATOR_ORIGIN):
        return {}
    from connect.transport import ThreadedWSGITransport

    return {"all://localhost": ThreadedWSGITransport()}


def _limits() -> httpx.Limits:
    """As many pooled connections as the sync engine has requests in flight, so none is opened per request."""
    size = settings.SYNC_WORKER_CONCURRENCY + 20
    return httpx.Limits(max_connections=size, max_keepalive_connections=size)


class _NoCookies(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _CookielessClient(httpx.Client):
    """Keeps no cookie: one client serves every account of the process, so a cookie one answer set (a load
    balancer's, say) must not travel with another account's calls; the API authenticates by header alone. Each
    answer is also spared httpx's cookie parsing (about 25 µs)."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        return None


_NO_COOKIES = _NoCookies()


def http_client() -> httpx.Client:
    """The process's pooled sync client (a fork gets its own: sockets must not be shared across processes)."""
    global _sync_client
    pid = os.getpid()
    with _pool_lock:
        if _sync_client is None or _sync_client[0] != pid:
            client = _CookielessClient(mounts=_in_process_mounts(), follow_redirects=False, limits=_limits())
            _sync_client = (pid, client)
        return _sync_client[1]


@sensitive_variables()
def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _client_credentials() -> str:
    return _basic(settings.SMARTCAR_CLIENT_ID, settings.SMARTCAR_CLIENT_SECRET)


def _management_credentials() -> str:
    # management__*.md: "Basic base64(default:{application_management_token})".
    return _basic("default", settings.SMARTCAR_MANAGEMENT_TOKEN)


def _parse(response: httpx.Response) -> ApiResponse:
    if not response.is_success:
        raise error_from_response(response.status_code, response.headers, response.content)
    try:
        body = response.json() if response.content else None
    except ValueError:
        raise MalformedResponseError(
            f"HTTP {response.status_code} with a body that is not JSON",
            type="MALFORMED",
            status=response.status_code,
            request_id=response.headers.get("sc-request-id"),
            resolution=RETRY_LATER,
        ) from None
    return ApiResponse.from_parts(response.status_code, response.headers, body)


def _transport_error(exc: httpx.HTTPError, what: str) -> TransportError:
    timed_out = isinstance(exc, httpx.TimeoutException)
    description = f"{what}: {'timed out' if timed_out else 'connection failed'} ({exc.__class__.__name__})"
    return TransportError(
        description, type="TRANSPORT", code="TIMEOUT" if timed_out else "CONNECTION", resolution=RETRY_LATER
    )


def _safe_to_repeat(method: str, path: str) -> bool:
    # A batch is a POST that only carries GETs (batch.md), so it is a read too.
    return method == "GET" or (method == "POST" and path.endswith("/batch"))


@sensitive_variables()
def _send(method: str, url: str, *, what: str, retry: bool, **kwargs) -> httpx.Response:
    attempts = READ_ATTEMPTS if retry else 1
    for attempt in range(1, attempts + 1):
        try:
            return http_client().request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
            # Nothing reached the server, or a pooled connection the server had just closed was reused
            # ("Server disconnected without sending a response"): repeating a read is harmless.
            if attempt == attempts:
                raise _transport_error(exc, what) from None
            logger.info("smartcar %s: connection failed, attempt %d of %d", what, attempt, attempts)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, what) from None
    raise AssertionError("unreachable")


# --- Vehicle API ------------------------------------------------------------------------------------------------


def _make(make: str) -> str:
    # about-brand-specific.md: the {make} segment must be lower case ("upper case letters will result in a
    # PERMISSION error"). makes.md lists upper-case values (TESLA); we store those and lower them only here.
    return make.strip().lower()


class _VehicleEndpoints:
    """Every vehicle endpoint as a method; ``_call`` sends the request and returns an ApiResponse."""

    def _call(self, method: str, path: str, *, json: Any = None, params: Mapping | None = None):
        raise NotImplementedError

    def _v(self, vehicle_id: str, suffix: str = "") -> str:
        return f"/vehicles/{vehicle_id}{suffix}"

    def _m(self, vehicle_id: str, make: str, suffix: str) -> str:
        return f"/vehicles/{vehicle_id}/{_make(make)}{suffix}"

    # Core reads
    def user(self):
        # Reference: smartcar-api/user.md
        return self._call("GET", "/user")

    def vehicles_page(self, *, limit: int = PAGE_SIZE_VEHICLES, offset: int = 0):
        # Reference: smartcar-api/all-vehicles.md
        return self._call("GET", "/vehicles", params={"limit": limit, "offset": offset})

    def permissions_page(self, vehicle_id: str, *, limit: int = PAGE_SIZE_VEHICLES, offset: int = 0):
        # Reference: smartcar-api/application-permissions.md
        return self._call("GET", self._v(vehicle_id, "/permissions"), params={"limit": limit, "offset": offset})

    def attributes(self, vehicle_id: str):
        # Reference: smartcar-api/get-vehicle-info.md
        return self._call("GET", self._v(vehicle_id))

    def vin(self, vehicle_id: str):
        # Reference: smartcar-api/get-vin.md
        return self._call("GET", self._v(vehicle_id, "/vin"))

    def odometer(self, vehicle_id: str):
        # Reference: smartcar-api/get-odometer.md
        return self._call("GET", self._v(vehicle_id, "/odometer"))

    def location(self, vehicle_id: str):
        # Reference: smartcar-api/get-location.md
        return self._call("GET", self._v(vehicle_id, "/location"))

    def battery(self, vehicle_id: str):
        # Reference: smartcar-api/evs__get-battery-level.md
        return self._call("GET", self._v(vehicle_id, "/battery"))

    def battery_capacity(self, vehicle_id: str):
        # Reference: smartcar-api/get-nominal-capacity.md — the documented page is /battery/nominal_capacity;
        # the /battery/capacity that compatibility__by-vin.md mentions has no page and is reachable via request().
        return self._call("GET", self._v(vehicle_id, "/battery/nominal_capacity"))

    def charge(self, vehicle_id: str):
        # Reference: smartcar-api/evs__get-charge-status.md
        return self._call("GET", self._v(vehicle_id, "/charge"))

    def charge_limit(self, vehicle_id: str):
        # Reference: smartcar-api/evs__get-charge-limit.md
        return self._call("GET", self._v(vehicle_id, "/charge/limit"))

    def fuel(self, vehicle_id: str):
        # Reference: smartcar-api/get-fuel-tank.md
        return self._call("GET", self._v(vehicle_id, "/fuel"))

    def engine_oil(self, vehicle_id: str):
        # Reference: smartcar-api/get-engine-oil-life.md
        return self._call("GET", self._v(vehicle_id, "/engine/oil"))

    def tire_pressure(self, vehicle_id: str):
        # Reference: smartcar-api/get-tire-pressure.md
        return self._call("GET", self._v(vehicle_id, "/tires/pressure"))

    def lock_status(self, vehicle_id: str):
        # Reference: smartcar-api/get-lock-status.md
        return self._call("GET", self._v(vehicle_id, "/security"))

    def diagnostic_trouble_codes(self, vehicle_id: str):
        # Reference: smartcar-api/get-dtcs.md
        return self._call("GET", self._v(vehicle_id, "/diagnostics/dtcs"))

    def system_status(self, vehicle_id: str):
        # Reference: smartcar-api/get-system-status.md
        return self._call("GET", self._v(vehicle_id, "/diagnostics/system_status"))

    def service_history(self, vehicle_id: str):
        # Reference: smartcar-api/get-service-records.md
        return self._call("GET", self._v(vehicle_id, "/service/history"))

    # Core commands
    def lock(self, vehicle_id: str):
        # Reference: smartcar-api/control-lock-unlock.md
        return self._call("POST", self._v(vehicle_id, "/security"), json={"action": "LOCK"})

    def unlock(self, vehicle_id: str):
        # Reference: smartcar-api/control-lock-unlock.md
        return self._call("POST", self._v(vehicle_id, "/security"), json={"action": "UNLOCK"})

    def charge_start(self, vehicle_id: str):
        # Reference: smartcar-api/evs__control-charge.md
        return self._call("POST", self._v(vehicle_id, "/charge"), json={"action": "START"})

    def charge_stop(self, vehicle_id: str):
        # Reference: smartcar-api/evs__control-charge.md
        return self._call("POST", self._v(vehicle_id, "/charge"), json={"action": "STOP"})

    def charge_limit_set(self, vehicle_id: str, limit: float):
        # Reference: smartcar-api/evs__set-charge-limit.md — a fraction between 0.5 and 1.
        return self._call("POST", self._v(vehicle_id, "/charge/limit"), json={"limit": limit})

    def navigation_destination_send(self, vehicle_id: str, *, latitude: float, longitude: float):
        # Reference: smartcar-api/send-destination-to-vehicle.md
        body = {"latitude": latitude, "longitude": longitude}
        return self._call("POST", self._v(vehicle_id, "/navigation/destination"), json=body)

    # Make-specific reads
    def make_charge(self, vehicle_id: str, make: str):
        # Reference: smartcar-api/tesla__get-charge.md, smartcar-api/audi__get-charge.md
        return self._call("GET", self._m(vehicle_id, make, "/charge"))

    def make_battery(self, vehicle_id: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__get-battery.md
        return self._call("GET", self._m(vehicle_id, make, "/battery"))

    def charge_records(self, vehicle_id: str, make: str, *, start_date: str | None = None, end_date: str | None = None):
        # Reference: smartcar-api/bmw__get-charge-records.md (bmw, mini). Tesla's /charge/records is announced in
        # the 2023 changelog but has no page; reach it with request() if needed.
        params = {k: v for k, v in (("startDate", start_date), ("endDate", end_date)) if v}
        return self._call("GET", self._m(vehicle_id, make, "/charge/records"), params=params or None)

    def charge_records_billing(
        self,
        vehicle_id: str,
        make: str = "tesla",
        *,
        start_date: str | None = None,
        end_date: str | None = None,
        page: int | None = None,
    ):
        # Reference: smartcar-api/tesla__get-charge-records-billing.md
        params = {k: v for k, v in (("startDate", start_date), ("endDate", end_date), ("page", page)) if v}
        return self._call("GET", self._m(vehicle_id, make, "/charge/records/billing"), params=params or None)

    def charge_schedule_by_location(self, vehicle_id: str, make: str):
        # Reference: smartcar-api/ford__get-charge-schedule-by-location.md (ford, lincoln)
        return self._call("GET", self._m(vehicle_id, make, "/charge/schedule_by_location"))

    def charge_schedule_by_location_set(
        self, vehicle_id: str, make: str, *, latitude: float, longitude: float, charging_location: Mapping
    ):
        # Reference: smartcar-api/ford__set-charge-schedule-by-location.md — location in the query, the schedule
        # in the body. The page's cURL body has an unquoted key; we send the documented object as real JSON.
        return self._call(
            "PUT",
            self._m(vehicle_id, make, "/charge/schedule_by_location"),
            params={"latitude": latitude, "longitude": longitude},
            json=dict(charging_location),
        )

    def charge_schedule(self, vehicle_id: str, make: str):
        # Reference: smartcar-api/nissan__get-charge-schedule.md, smartcar-api/tesla__get-charge-schedule.md
        return self._call("GET", self._m(vehicle_id, make, "/charge/schedule"))

    def nissan_charge_schedule_set(self, vehicle_id: str, charge_schedules: list[Mapping], make: str = "nissan"):
        # Reference: smartcar-api/nissan__set-charge-schedule.md — PUT, times HH:mm in UTC, at most 3 schedules.
        body = {"chargeSchedules": [dict(s) for s in charge_schedules]}
        return self._call("PUT", self._m(vehicle_id, make, "/charge/schedule"), json=body)

    def tesla_charge_schedule_set(
        self, vehicle_id: str, *, schedule_type: str, enable: bool, time: str | None, make: str = "tesla"
    ):
        # Reference: smartcar-api/tesla__set-charge-schedule.md — POST {"type", "enable", "time"}. The time is "HH:mm";
        # without one (turning a schedule off) the key is left out, never sent as null.
        body: dict[str, Any] = {"type": schedule_type, "enable": enable}
        if time is not None:
            body["time"] = time
        return self._call("POST", self._m(vehicle_id, make, "/charge/schedule"), json=body)

    def charge_completion(self, vehicle_id: str, make: str):
        # Reference: smartcar-api/tesla__get-charge-completion-time.md, smartcar-api/gm__get-charge-completion-time.md
        return self._call("GET", self._m(vehicle_id, make, "/charge/completion"))

    def charge_voltmeter(self, vehicle_id: str, make: str):
        # Reference: smartcar-api/tesla__get-charge-voltmeter.md, smartcar-api/gm__get-charge-voltmeter.md
        return self._call("GET", self._m(vehicle_id, make, "/charge/voltmeter"))

    def charge_wattmeter(self, vehicle_id: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__get-charge-wattmeter.md
        return self._call("GET", self._m(vehicle_id, make, "/charge/wattmeter"))

    def alerts(self, vehicle_id: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__get-alerts.md
        return self._call("GET", self._m(vehicle_id, make, "/alerts"))

    def cabin_climate(self, vehicle_id: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__get-cabin.md
        return self._call("GET", self._m(vehicle_id, make, "/climate/cabin"))

    def defroster(self, vehicle_id: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__get-defroster.md — the page's path says /vehicles/{is}/…, a typo for
        # {id} (its own cURL uses {id}).
        return self._call("GET", self._m(vehicle_id, make, "/climate/defroster"))

    def steering_heater(self, vehicle_id: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__get-steering-heater.md
        return self._call("GET", self._m(vehicle_id, make, "/climate/steering_wheel"))

    def compass(self, vehicle_id: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__get-compass-heading.md
        return self._call("GET", self._m(vehicle_id, make, "/compass"))

    def speedometer(self, vehicle_id: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__get-speedometer.md
        return self._call("GET", self._m(vehicle_id, make, "/speedometer"))

    def extended_attributes(self, vehicle_id: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__get-ext-vehicle-info.md
        return self._call("GET", self._m(vehicle_id, make, "/attributes"))

    def vehicle_status(self, vehicle_id: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__get-vehicle-status.md
        return self._call("GET", self._m(vehicle_id, make, "/status"))

    def exterior_temperature(self, vehicle_id: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__get-exterior-temperature.md
        return self._call("GET", self._m(vehicle_id, make, "/thermometer/exterior"))

    def interior_temperature(self, vehicle_id: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__get-interior-temperature.md
        return self._call("GET", self._m(vehicle_id, make, "/thermometer/interior"))

    def migration_status(self, vehicle_id: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__get-migration-status.md
        return self._call("GET", self._m(vehicle_id, make, "/migration"))

    def virtual_key_status(self, vehicle_id: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__get-virtual-key-status.md
        return self._call("GET", self._m(vehicle_id, make, "/virtual_key"))

    def user_access(self, vehicle_id: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__get-user-access.md (the page documents no permission)
        return self._call("GET", self._m(vehicle_id, make, "/user/access"))

    def user_info(self, vehicle_id: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__get-user-info.md
        return self._call("GET", self._m(vehicle_id, make, "/user/info"))

    # Make-specific commands
    def charge_port_door(self, vehicle_id: str, action: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__control-charge-port.md — OPEN or CLOSE
        return self._call("POST", self._m(vehicle_id, make, "/charge/charge_port_door"), json={"action": action})

    def charge_ammeter_set(self, vehicle_id: str, amperage: int, make: str = "tesla"):
        # Reference: smartcar-api/tesla__set-charge-ammeter.md
        return self._call("POST", self._m(vehicle_id, make, "/charge/ammeter"), json={"amperage": amperage})

    def frunk(self, vehicle_id: str, action: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__control-frunk.md — OPEN or CLOSE (the body text is copied from the
        # charge-port page; the values are the same).
        return self._call("POST", self._m(vehicle_id, make, "/security/frunk"), json={"action": action})

    def trunk(self, vehicle_id: str, action: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__control-trunk.md — OPEN or CLOSE
        return self._call("POST", self._m(vehicle_id, make, "/security/trunk"), json={"action": action})

    def cabin_climate_set(self, vehicle_id: str, action: str, *, temperature: float | None = None, make: str = "tesla"):
        # Reference: smartcar-api/tesla__set-cabin.md — the page names SET and describes start/stop without
        # listing them; we pass START/STOP like the defroster and steering-wheel pages do.
        body: dict[str, Any] = {"action": action}
        if temperature is not None:
            body["temperature"] = temperature
        return self._call("POST", self._m(vehicle_id, make, "/climate/cabin"), json=body)

    def defroster_set(self, vehicle_id: str, action: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__set-defroster.md — START or STOP
        return self._call("POST", self._m(vehicle_id, make, "/climate/defroster"), json={"action": action})

    def steering_heater_set(self, vehicle_id: str, action: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__set-steering-heater.md — START or STOP
        return self._call("POST", self._m(vehicle_id, make, "/climate/steering_wheel"), json={"action": action})

    def pin_to_drive_set(self, vehicle_id: str, pin: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__set-pin-to-drive.md — POST enables and sets the PIN; its note that
        # DELETE enables it contradicts tesla__clear-pin-to-drive.md, which we follow: DELETE disables.
        return self._call("POST", self._m(vehicle_id, make, "/pin"), json={"pin": pin})

    def pin_to_drive_clear(self, vehicle_id: str, make: str = "tesla"):
        # Reference: smartcar-api/tesla__clear-pin-to-drive.md
        return self._call("DELETE", self._m(vehicle_id, make, "/pin"))

    # Webhooks
    def webhook_subscribe(self, vehicle_id: str, webhook_id: str):
        # Reference: smartcar-api/webhooks__subscribe-webhook.md — the page documents no auth header; like every
        # vehicle endpoint it is called with the vehicle's access token.
        return self._call("POST", self._v(vehicle_id, f"/webhooks/{webhook_id}"))


class SmartcarClient(_VehicleEndpoints):
    """The vehicle API for one Smartcar user's access token (sync)."""

    def __init__(self, access_token: str):
        self._access_token = access_token

    def __repr__(self):
        return "<SmartcarClient>"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._access_token}", "SC-Unit-System": UNIT_SYSTEM}

    def request(self, method: str, path: str, *, json: Any = None, params: Mapping | None = None) -> ApiResponse:
        """Any vehicle-API path (``/vehicles/{id}/…``), for endpoints without a named method."""
        method = method.upper()
        url = settings.SMARTCAR_API_URL.rstrip("/") + path
        response = _send(
            method,
            url,
            what=f"{method} {path}",
            retry=_safe_to_repeat(method, path),
            json=json,
            params=params,
            headers=self._headers(),
            timeout=vehicle_timeout(),
        )
        return _parse(response)

    _call = request

    def vehicles(self) -> list[str]:
        """Every vehicle id of the user, across all pages."""
        # Reference: smartcar-api/all-vehicles.md
        return _all_pages(lambda offset: self.vehicles_page(limit=PAGE_SIZE_VEHICLES, offset=offset), "vehicles")

    def permissions(self, vehicle_id: str) -> list[str]:
        """Every permission granted for the vehicle, across all pages."""
        # Reference: smartcar-api/application-permissions.md
        return _all_pages(
            lambda offset: self.permissions_page(vehicle_id, limit=PAGE_SIZE_VEHICLES, offset=offset), "permissions"
        )

    def batch(self, vehicle_id: str, paths: Iterable[str]) -> dict[str, ApiResponse | SmartcarError]:
        # Reference: smartcar-api/batch.md
        paths = list(paths)
        response = self.request("POST", f"/vehicles/{vehicle_id}/batch", json=_batch_body(paths))
        return _batch_results(response, paths)

    def webhook_unsubscribe(self, vehicle_id: str, webhook_id: str) -> ApiResponse:
        # Reference: smartcar-api/webhooks__unsubscribe-webhook.md — unlike subscribe, this page asks for
        # "Bearer {application_management_token}", so the management token is sent, not the access token.
        path = f"/vehicles/{vehicle_id}/webhooks/{webhook_id}"
        response = _send(
            "DELETE",
            settings.SMARTCAR_API_URL.rstrip("/") + path,
            what=f"DELETE {path}",
            retry=False,
            headers={"Authorization": f"Bearer {settings.SMARTCAR_MANAGEMENT_TOKEN}", "SC-Unit-System": UNIT_SYSTEM},
            timeout=short_timeout(),
        )
        return _parse(response)

    def compatibility(self, vin: str, scope: Iterable[str], country: str | None = None) -> ApiResponse:
        return compatibility_by_vin(vin=vin, scope=scope, country=country)

    def compatibility_matrix(self, **query) -> ApiResponse:
        return compatibility_matrix(**query)


def _page_items(response: ApiResponse, key: str) -> tuple[list, int]:
    body = response.body
    if not isinstance(body, Mapping) or not isinstance(body.get(key), list):
        raise MalformedResponseError(f"Expected a list under {key!r}", type="MALFORMED", status=response.status)
    paging = mapping_at(body, "paging")
    total = paging.get("count")
    return body[key], total if isinstance(total, int) else len(body[key])


def _all_pages(fetch, key: str) -> list:
    items: list = []
    while True:
        page, total = _page_items(fetch(len(items)), key)
        items.extend(page)
        # paging.count is the total for the whole query (all-vehicles.md); an empty page also ends the walk.
        if not page or len(items) >= total:
            return items


def _batch_body(paths: list[str]) -> dict:
    return {"requests": [{"path": path} for path in paths]}


def _batch_results(response: ApiResponse, paths: list[str]) -> dict[str, ApiResponse | SmartcarError]:
    """One entry per requested path: its answer, or the typed error the API gave for that path alone."""
    body = response.body
    if not isinstance(body, Mapping) or not isinstance(body.get("responses"), list):
        raise MalformedResponseError("Batch answer without a responses list", type="MALFORMED", status=response.status)
    results: dict[str, ApiResponse | SmartcarError] = {}
    for item in body["responses"]:
        if not isinstance(item, Mapping) or "path" not in item:
            continue
        headers = mapping_at(item, "headers")
        headers = {**headers, "sc-request-id": response.request_id or ""}
        code = item.get("code")
        code = code if isinstance(code, int) else None
        if code is not None and 200 <= code < 300:
            results[item["path"]] = ApiResponse.from_parts(code, headers, item.get("body"))
        else:
            results[item["path"]] = error_from_body(code, headers, item.get("body"))
    for path in paths:
        if path not in results:
            results[path] = MalformedResponseError(
                f"Batch answer has no entry for {path}",
                type="MALFORMED",
                status=response.status,
                request_id=response.request_id,
                resolution=RETRY_LATER,
            )
    return results


# --- Compatibility API (client credentials) ---------------------------------------------------------------------


@sensitive_variables()
def _client_credentials_get(path: str, params: Mapping) -> ApiResponse:
    # The compatibility pages leave their Headers section empty; Smartcar authenticates them with the
    # application's client id and secret (Basic), as the official SDKs do.
    response = _send(
        "GET",
        settings.SMARTCAR_API_URL.rstrip("/") + path,
        what=f"GET {path}",
        retry=True,
        params={k: v for k, v in params.items() if v},
        headers={"Authorization": _client_credentials(), "SC-Unit-System": UNIT_SYSTEM},
        timeout=short_timeout(),
    )
    return _parse(response)


def compatibility_by_vin(*, vin: str, scope: Iterable[str], country: str | None = None) -> ApiResponse:
    # Reference: smartcar-api/compatibility__by-vin.md
    return _client_credentials_get("/compatibility", {"vin": vin, "scope": " ".join(scope), "country": country})


def compatibility_matrix(
    *,
    region: str,
    makes: Iterable[str] = (),
    scope: Iterable[str] = (),
    engine_types: Iterable[str] = (),
) -> ApiResponse:
    # Reference: smartcar-api/compatibility__by-region-and-make.md — region US, CA or EUROPE; lists space-separated.
    query = {"region": region, "make": " ".join(makes), "scope": " ".join(scope), "type": " ".join(engine_types)}
    return _client_credentials_get("/compatibility/matrix", query)


# --- Token endpoint ---------------------------------------------------------------------------------------------


@sensitive_variables()
def _token_request(form: dict[str, str], what: str) -> TokenPair:
    response = _send(
        "POST",
        settings.SMARTCAR_AUTH_URL,
        what=what,
        # Never repeated: a refresh token is single use, and an exchange whose answer was lost spends the code.
        retry=False,
        data=form,
        headers={"Authorization": _client_credentials(), "Accept": "application/json"},
        timeout=short_timeout(),
    )
    body = _parse(response).body
    if not isinstance(body, Mapping):
        raise MalformedResponseError(f"{what}: answer is not a JSON object", type="MALFORMED", status=200)
    access, refresh, expires_in = body.get("access_token"), body.get("refresh_token"), body.get("expires_in")
    if not (isinstance(access, str) and access and isinstance(refresh, str) and refresh):
        raise MalformedResponseError(f"{what}: answer lacks the token pair", type="MALFORMED", status=200)
    if not isinstance(expires_in, (int, float)) or expires_in <= 0:
        raise MalformedResponseError(f"{what}: answer lacks a valid expires_in", type="MALFORMED", status=200)
    now = timezone.now()
    refresh_expires_in = body.get("refresh_expires_in")
    refresh_lifetime = (
        timedelta(seconds=refresh_expires_in)
        if isinstance(refresh_expires_in, (int, float)) and refresh_expires_in > 0
        # Smartcar's refresh tokens live 60 days (authorization__token-refresh.md links the guidance).
        else REFRESH_TOKEN_LIFETIME
    )
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        access_expires_at=now + timedelta(seconds=expires_in),
        refresh_expires_at=now + refresh_lifetime,
    )


@sensitive_variables()
def exchange_code(code: str) -> TokenPair:
    """Trades the code from the Connect redirect for a token pair."""
    # Reference: smartcar-api/authorization__auth-code-exchange.md
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": settings.SMARTCAR_REDIRECT_URI}
    return _token_request(form, "code exchange")


@sensitive_variables()
def refresh_tokens(refresh_token: str) -> TokenPair:
    """A new pair for a refresh token; the old refresh token is spent (it rotates)."""
    # Reference: smartcar-api/authorization__token-refresh.md
    return _token_request({"grant_type": "refresh_token", "refresh_token": refresh_token}, "token refresh")


# --- Management API ---------------------------------------------------------------------------------------------


@sensitive_variables()
def _management(method: str, params: Mapping) -> ApiResponse:
    response = _send(
        method,
        settings.SMARTCAR_MANAGEMENT_URL.rstrip("/") + "/management/connections",
        what=f"{method} management/connections",
        retry=method == "GET",
        params={k: v for k, v in params.items() if v is not None},
        headers={"Authorization": _management_credentials()},
        timeout=short_timeout(),
    )
    return _parse(response)


def connections_list(
    *, user_id: str | None = None, vehicle_id: str | None = None, mode: str | None = None
) -> list[dict]:
    """Every connection of the application (optionally filtered), following the cursor to the last page."""
    # Reference: smartcar-api/management__get-vehicle-connections.md
    connections: list[dict] = []
    cursor = None
    while True:
        query = {"limit": PAGE_SIZE_CONNECTIONS, "cursor": cursor, "user_id": user_id, "vehicle_id": vehicle_id}
        body = _management("GET", {**query, "mode": mode}).body
        if not isinstance(body, Mapping) or not isinstance(body.get("connections"), list):
            raise MalformedResponseError("Connections answer without a connections list", type="MALFORMED")
        connections.extend(body["connections"])
        paging = mapping_at(body, "paging")
        cursor = paging.get("cursor")
        if not cursor or not body["connections"]:
            return connections


def connections_delete(*, vehicle_id: str | None = None, user_id: str | None = None) -> list[dict]:
    """Disconnects one vehicle, or every vehicle a Smartcar user connected; returns what was deleted."""
    # Reference: smartcar-api/management__delete-vehicle-connections.md
    if bool(vehicle_id) == bool(user_id):
        raise ValueError("Give exactly one of vehicle_id or user_id")
    body = _management("DELETE", {"vehicle_id": vehicle_id, "user_id": user_id}).body
    if isinstance(body, Mapping) and isinstance(body.get("connections"), list):
        return body["connections"]
    raise MalformedResponseError("Disconnect answer without a connections list", type="MALFORMED")


# --- Connect ----------------------------------------------------------------------------------------------------


def authorize_url(*, state: str, force_prompt: bool = False) -> str:
    """Smartcar Connect's authorization URL for this application (OAuth 2 authorization-code flow)."""
    query = {
        "response_type": "code",
        "client_id": settings.SMARTCAR_CLIENT_ID,
        "redirect_uri": settings.SMARTCAR_REDIRECT_URI,
        "scope": " ".join(settings.SMARTCAR_SCOPE),
        "state": state,
        "mode": settings.SMARTCAR_CONNECT_MODE,
    }
    if force_prompt:
        # Reconnecting: show the approval screen again even though the user approved before.
        query["approval_prompt"] = "force"
    return f"{settings.SMARTCAR_CONNECT_URL}?{urlencode(query)}"
