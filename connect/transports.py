"""The two ways Fleet can speak to Smartcar — API v2.0 and API v3 — behind one interface.

``current()`` is the one place that knows which: settings.SMARTCAR_API_VERSION. Everything that differs between the
versions is a method here (or in the client module of each version, connect/client.py and connect/client_v3.py);
sync, commands, webhooks, Connect and the pages ask the transport, never the version.

=================  =====================================================  ==============================================
                   API v2.0 (``V2``)                                      API v3 (``V3``)
=================  =====================================================  ==============================================
credentials        one token pair per Smartcar user (connect/vault.py),   one application token per process; the
                   refreshed under a row lock (connect/tokens.py)          Smartcar user id as ``sc-user-id``
Connect            exchange the code, then ``GET /user`` and              the redirect's ``user_id``, then
                   ``GET /vehicles``                                       ``GET /connections?filter[userId]=…``
reads              one batch of the due endpoints (vehicles/catalogue.py)  ``GET …/signals``: every signal at once
commands           ``POST /vehicles/{id}/security`` …                      ``POST /vehicles/{id}/commands/…``
webhooks           subscribe with the vehicle's token                      Management API ``POST /subscriptions``
=================  =====================================================  ==============================================
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime

from connect import client, client_v3
from connect.client import ApiResponse
from connect.errors import (
    MalformedResponseError,
    PermissionDeniedError,
    ResourceNotFoundError,
    SmartcarError,
)
from connect.json_fields import list_at, mapping_at

logger = logging.getLogger(__name__)


@dataclass
class Grant:
    """What a finished Connect attempt gives: whose vehicles, the token pair (v2 only) and a client to read them."""

    smartcar_user_id: str
    vehicle_ids: list[str]
    reader: Any
    pair: client.TokenPair | None = None


@dataclass
class Facts:
    smartcar_id: str
    make: str
    model: str
    year: int | None
    vin: str
    permissions: list[str]

    @classmethod
    def of(cls, smartcar_id: str, vehicle: Mapping, *, vin: str, permissions: Iterable) -> Facts:
        """The facts as Fleet keeps them, from either API version's make, model and year."""
        return cls(
            smartcar_id=smartcar_id,
            make=str(vehicle.get("make") or "").upper(),
            model=str(vehicle.get("model") or ""),
            year=_year(vehicle.get("year")),
            vin=vin[:17],
            permissions=sorted(str(p) for p in permissions),
        )


@dataclass
class ListedConnection:
    smartcar_vehicle_id: str
    smartcar_user_id: str
    connected_at: datetime | None
    mode: str
    connection_id: str = ""


def _year(value) -> int | None:
    # get-vehicle-info.md's example sends the year as a string ("2014"); v3 sends a number. Accept both.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


class ConnectRefused(Exception):
    """Connect's redirect lacks what this API version needs (no code, no user id)."""


# --- API v2.0 -------------------------------------------------------------------------------------------------------


class V2:
    version = "2.0"
    label = "Smartcar API v2.0"
    # Commands of vehicles/commands.py this API offers (every one, where the make allows).
    commands: frozenset[str] | None = None
    # Charging features (charging/capabilities.py) this API does not offer.
    charging_lacks: frozenset[str] = frozenset()

    # Credentials
    def credential(self, account) -> str:
        """What authenticates the account's calls: its access token, refreshed when due (raises ReconnectRequired)."""
        from connect.tokens import account_access_token

        return account_access_token(account=account)

    def vehicle_client(self, account, credential: str | None = None) -> client.SmartcarClient:
        return client.SmartcarClient(credential if credential is not None else self.credential(account))

    # Connect
    def grant(self, params: Mapping) -> Grant:
        code = params.get("code") or ""
        if not code:
            raise ConnectRefused("missing code")
        pair = client.exchange_code(code)
        reader = client.SmartcarClient(pair.access_token)
        # Reference: smartcar-api/user.md — the stable id under which the token pair is stored.
        user_body = reader.user().body
        smartcar_user_id = str(user_body.get("id") or "") if isinstance(user_body, Mapping) else ""
        return Grant(smartcar_user_id=smartcar_user_id, vehicle_ids=reader.vehicles() if smartcar_user_id else [],
                     reader=reader, pair=pair)  # fmt: skip

    def read_vehicle(self, reader: client.SmartcarClient, vehicle_id: str) -> Facts:
        # Reference: smartcar-api/get-vehicle-info.md, application-permissions.md, get-vin.md
        attributes = reader.attributes(vehicle_id).body or {}
        permissions = reader.permissions(vehicle_id)
        vin = ""
        if "read_vin" in permissions:
            try:
                vin = str((reader.vin(vehicle_id).body or {}).get("vin") or "")
            except (PermissionDeniedError, ResourceNotFoundError):
                vin = ""  # granted yet refused by this make: the vehicle is still worth connecting
        return Facts.of(vehicle_id, attributes, vin=vin, permissions=permissions)

    def reader_for(self, account):
        return self.vehicle_client(account)

    # Reads (vehicles/sync.py)
    def poll_endpoints(self, make: str, permissions) -> list:
        from vehicles.catalogue import endpoints_for

        return endpoints_for(make, permissions)

    def fetch(self, vehicle_id: str, credential: str, paths: list[str]) -> dict[str, ApiResponse | SmartcarError]:
        """One batch of GETs (batch.md); raises when the whole request fails."""
        return client.SmartcarClient(credential).batch(vehicle_id, paths)

    def fetch_one(self, vehicle_id: str, credential: str, path: str) -> ApiResponse:
        suffix = "" if path == "/" else path
        return client.SmartcarClient(credential).request("GET", f"/vehicles/{vehicle_id}{suffix}")

    # Management
    def connections(self, *, user_id: str) -> list[ListedConnection]:
        # Reference: smartcar-api/management__get-vehicle-connections.md
        listed = []
        for item in client.connections_list(user_id=user_id):
            if isinstance(item, Mapping) and item.get("vehicleId"):
                listed.append(
                    ListedConnection(
                        smartcar_vehicle_id=str(item["vehicleId"]),
                        smartcar_user_id=str(item.get("userId") or user_id),
                        connected_at=parse_datetime(str(item.get("connectedAt") or "")),
                        mode=str(item.get("mode") or ""),
                    )
                )
        return listed

    def disconnect_vehicle(self, *, vehicle_id: str, user_id: str) -> None:
        # Reference: smartcar-api/management__delete-vehicle-connections.md
        client.connections_delete(vehicle_id=vehicle_id)

    def disconnect_user(self, *, user_id: str) -> None:
        client.connections_delete(user_id=user_id)

    # Webhooks
    def subscribe(self, *, account, vehicle_id: str, webhook_id: str) -> None:
        # Reference: smartcar-api/webhooks__subscribe-webhook.md — with the vehicle's access token.
        self.vehicle_client(account).webhook_subscribe(vehicle_id, webhook_id)

    def unsubscribe(self, *, vehicle_id: str, webhook_id: str) -> None:
        # Reference: smartcar-api/webhooks__unsubscribe-webhook.md — with the management token.
        client.SmartcarClient("").webhook_unsubscribe(vehicle_id, webhook_id)


# --- API v3 ---------------------------------------------------------------------------------------------------------

# The one read of API v3 (smartcar-api-v3/signals__list.md): every signal of the vehicle in one billed call.
SIGNALS_PATH = "/signals"


class V3VehicleClient:
    """The vehicle commands of API v3 under the names the app's command catalogue uses (vehicles/commands.py)."""

    def __init__(self, user_id: str):
        self.api = client_v3.VehicleApi(user_id)

    def lock(self, vehicle_id: str):
        return self.api.lock(vehicle_id)

    def unlock(self, vehicle_id: str):
        return self.api.unlock(vehicle_id)

    def charge_start(self, vehicle_id: str):
        return self.api.charge_start(vehicle_id)

    def charge_stop(self, vehicle_id: str):
        return self.api.charge_stop(vehicle_id)

    def charge_limit_set(self, vehicle_id: str, limit: float):
        # The catalogue speaks v2's fraction (0.8); v3 takes a percent (command__charge-set-limit.md).
        return self.api.charge_limit_set(vehicle_id, round(limit * 100))

    def navigation_destination_send(self, vehicle_id: str, *, latitude: float, longitude: float):
        return self.api.navigation_destination_send(vehicle_id, latitude=latitude, longitude=longitude)


class V3:
    version = "3"
    label = "Smartcar API v3"
    # commands__overview.md: charge start/stop/limit, lock/unlock, set destination — no make-specific commands.
    commands: frozenset[str] | None = frozenset(
        {"lock", "unlock", "charge_start", "charge_stop", "charge_limit", "send_destination"}
    )
    # No make-specific endpoints (migration__v2-to-v3.md): no Ford or Nissan schedule writes, no Tesla amperage, no
    # charge record or billing endpoints (charge-chargerecords is a signal, kept as read); Tesla's daily schedules
    # are location windows (command__charge-schedules.md), not the start/departure times Fleet's form edits.
    charging_lacks: frozenset[str] = frozenset(
        {"ford_schedule", "nissan_schedule", "tesla_schedule", "amperage", "charge_records", "billing_records"}
    )

    def credential(self, account) -> str:
        """The account's Smartcar user id, sent as ``sc-user-id`` (the application token is the process's)."""
        from connect.tokens import ReconnectRequired

        if not account.is_active or not account.smartcar_user_id:
            raise ReconnectRequired(account)
        return account.smartcar_user_id

    def vehicle_client(self, account, credential: str | None = None) -> V3VehicleClient:
        return V3VehicleClient(credential if credential is not None else self.credential(account))

    def grant(self, params: Mapping) -> Grant:
        # Reference: smartcar-api-v3/auth__connect-redirect-user-id.md — spelled user_id, or userId in one guide.
        user_id = str(params.get("user_id") or params.get("userId") or "")
        if not user_id:
            raise ConnectRefused("missing user_id")
        listed = client_v3.connections_list(user_id=user_id)
        ids = [client_v3.connection_vehicle_id(item) for item in listed]
        reader = _V3Reader(user_id, {client_v3.connection_vehicle_id(item): item for item in listed})
        return Grant(smartcar_user_id=user_id, vehicle_ids=[i for i in ids if i], reader=reader)

    def read_vehicle(self, reader: _V3Reader, vehicle_id: str) -> Facts:
        return reader.facts(vehicle_id)

    def reader_for(self, account):
        user_id = self.credential(account)
        listed = client_v3.connections_list(user_id=user_id)
        return _V3Reader(user_id, {client_v3.connection_vehicle_id(item): item for item in listed})

    def poll_endpoints(self, make: str, permissions) -> list:
        from vehicles.catalogue import SIGNALS

        return [SIGNALS]

    def fetch(self, vehicle_id: str, credential: str, paths: list[str]) -> dict[str, ApiResponse | SmartcarError]:
        return {path: self.fetch_one(vehicle_id, credential, path) for path in paths}

    def fetch_one(self, vehicle_id: str, credential: str, path: str) -> ApiResponse:
        if path != SIGNALS_PATH:
            raise ResourceNotFoundError(f"API v3 has no {path}", type="RESOURCE_NOT_FOUND", code="PATH", status=404)
        pages = client_v3.VehicleApi(credential).signals(vehicle_id)
        items = [item for page in pages if isinstance(page.body, Mapping) for item in (page.body.get("data") or [])]
        first = pages[0]
        return ApiResponse(status=first.status, body=items, headers=first.headers, request_id=first.request_id,
                           data_age=first.data_age, fetched_at=first.fetched_at)  # fmt: skip

    def connections(self, *, user_id: str) -> list[ListedConnection]:
        return [_listed(item) for item in client_v3.connections_list(user_id=user_id)]

    def disconnect_vehicle(self, *, vehicle_id: str, user_id: str) -> None:
        # connections__remove.md removes one connection by its id; find the vehicle's (for this user) first.
        for item in client_v3.connections_list(vehicle_id=vehicle_id):
            if not user_id or client_v3.connection_user_id(item) == user_id:
                client_v3.connection_delete(str(item.get("id") or ""))

    def disconnect_user(self, *, user_id: str) -> None:
        client_v3.user_delete(user_id)

    def subscribe(self, *, account, vehicle_id: str, webhook_id: str) -> None:
        try:
            client_v3.subscription_create(
                webhook_id=webhook_id, user_id=self.credential(account), vehicle_id=vehicle_id
            )
        except SmartcarError as exc:
            # management__subscriptions.md: 409 Conflict is "already subscribed" — what was asked for.
            if exc.status != 409:
                raise

    def unsubscribe(self, *, vehicle_id: str, webhook_id: str) -> None:
        for item in client_v3.subscriptions_list(vehicle_id=vehicle_id, webhook_id=webhook_id):
            client_v3.subscription_delete(str(item.get("id") or ""))


def _listed(item: Mapping) -> ListedConnection:
    meta = mapping_at(item, "meta")
    attributes = mapping_at(item, "attributes")
    vehicle = mapping_at(attributes, "vehicle")
    return ListedConnection(
        smartcar_vehicle_id=client_v3.connection_vehicle_id(item),
        smartcar_user_id=client_v3.connection_user_id(item),
        connected_at=parse_datetime(str(meta.get("createdAt") or "")),
        mode=str(vehicle.get("mode") or ""),
        connection_id=str(item.get("id") or ""),
    )


class _V3Reader:
    """Reads a connected vehicle's facts: its connection (make, model, year, permissions) and its VIN signal."""

    def __init__(self, user_id: str, connections: dict[str, Mapping]):
        self.api = client_v3.VehicleApi(user_id)
        self.connections = connections

    def facts(self, vehicle_id: str) -> Facts:
        item = self.connections.get(vehicle_id)
        if item is None:
            raise ResourceNotFoundError("No connection for this vehicle", type="RESOURCE_NOT_FOUND", code="PATH")
        attributes = mapping_at(item, "attributes")
        vehicle = mapping_at(attributes, "vehicle")
        permissions = list_at(attributes, "permissions")
        if not vehicle.get("make"):
            # Reference: smartcar-api-v3/vehicles__get.md
            data = self.api.vehicle(vehicle_id).body
            vehicle = (data.get("data") or {}).get("attributes") or {} if isinstance(data, Mapping) else {}
        vin = ""
        if "read_vin" in permissions:
            try:
                # Reference: smartcar-api-v3/signals__vehicleidentification.md — the VIN is a signal now.
                body = self.api.signal(vehicle_id, "vehicleidentification-vin").body
                signal = body.get("data", body) if isinstance(body, Mapping) else {}
                value = (
                    ((signal.get("attributes") or {}).get("body") or {}).get("value")
                    if isinstance(signal, Mapping)
                    else None
                )
                vin = value if isinstance(value, str) else ""
            except (PermissionDeniedError, ResourceNotFoundError, MalformedResponseError):
                vin = ""
            except SmartcarError as exc:
                if exc.type != "COMPATIBILITY":
                    raise
        return Facts.of(vehicle_id, vehicle, vin=vin, permissions=permissions)


def _signal_value(body: Any) -> str:
    """``attributes.body.value`` of one signal, wrapped in ``data`` or bare: signals__get.md's example is bare, the
    Node SDK's documentation wraps it (the README's open question 4)."""
    signal = body.get("data", body) if isinstance(body, Mapping) else None
    attributes = signal.get("attributes") if isinstance(signal, Mapping) else None
    inner = attributes.get("body") if isinstance(attributes, Mapping) else None
    value = inner.get("value") if isinstance(inner, Mapping) else None
    return value if isinstance(value, str) else ""


_TRANSPORTS: dict[str, V2 | V3] = {"2.0": V2(), "3": V3()}


# A switch recorded by a migration (connect/migration.py) is read at most this often by each process.
SWITCH_CACHE_SECONDS = 15.0
_switch: tuple[float, str | None] | None = None


def _switched_version() -> str | None:
    global _switch
    now = time.monotonic()
    if _switch is None or _switch[0] < now:
        from django.db import DatabaseError

        from connect.models import ApiSwitch

        try:
            row = ApiSwitch.objects.order_by("-switched_at", "-pk").values_list("version", flat=True).first()
        except DatabaseError:  # before the first migrate, say: the setting alone decides
            row = None
        _switch = (now + SWITCH_CACHE_SECONDS, row if row in _TRANSPORTS else None)
    return _switch[1]


def switch_forget() -> None:
    """Read the recorded switch again at the next call (after a migration, and between tests)."""
    global _switch
    _switch = None


def installed_version() -> str:
    """settings.SMARTCAR_API_VERSION, or the newer version a migration switched the installation to."""
    configured = settings.SMARTCAR_API_VERSION
    if configured == "3":
        return configured
    return _switched_version() or configured


def current() -> V2 | V3:
    """The transport of this installation (``installed_version``)."""
    return _TRANSPORTS[installed_version()]


def for_version(version: str) -> V2 | V3:
    return _TRANSPORTS[version]


__all__ = ["V2", "V3", "Facts", "Grant", "ListedConnection", "current", "for_version"]
