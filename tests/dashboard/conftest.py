"""Fleets connected to the simulated Smartcar platform through the real Connect flow, and synced for real.

The client carries simulator calls in-process on a thread with its own database connection, so tests that talk to
the simulator use committed data (``transactional_db``).
"""

import re
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from vehicles import sync
from vehicles.models import EndpointState, Vehicle, VehicleSync

_FORM = re.compile(r"<form[^>]*action=\"([^\"]*)\"[^>]*>(.*?)</form>", re.S)
_HIDDEN = re.compile(r"<input[^>]*type=\"hidden\"[^>]*name=\"([^\"]+)\"[^>]*value=\"([^\"]*)\"", re.S)
_CHOICE = re.compile(r"<input[^>]*type=\"checkbox\"[^>]*name=\"vehicle\"[^>]*value=\"([^\"]*)\"", re.S)


def _form(page, needle: str) -> tuple[str, dict, list]:
    html = page.content.decode()
    for action, body in _FORM.findall(html):
        if needle in body:
            return action.replace("&amp;", "&"), dict(_HIDDEN.findall(body)), _CHOICE.findall(body)
    raise AssertionError(f"no form with {needle!r}:\n{html[:1500]}")


def connect_simulated(client, fleet, email: str) -> list[Vehicle]:
    """ "Connect vehicles", sign in on the simulated Connect page, approve every vehicle, come back."""
    start = client.post(reverse("connect_start", args=[fleet.slug]))
    page = client.get(start["Location"])
    action, hidden, _ = _form(page, 'name="flow"')
    page = client.post(action, {**hidden, "email": email, "region": "US", "action": "sign_in"})
    action, hidden, choices = _form(page, 'name="vehicle"')
    back = client.post(action, {**hidden, "vehicle": choices, "action": "approve"})["Location"]
    assert urlsplit(back).path == reverse("connect_callback")
    assert client.get(back).status_code == 302
    return list(Vehicle.objects.filter(fleet=fleet).order_by("pk"))


def sync_all(vehicles) -> None:
    """One sync round of these vehicles, as a worker runs it."""
    sync.vehicles_ensure_sync_rows()
    token, claimed = sync.vehicles_lease(vehicle_ids=[v.pk for v in vehicles])
    sync.vehicles_sync(vehicle_ids=claimed, lease_token=token)


def sync_rounds(vehicles, clock, *, rounds: int, step) -> None:
    """``rounds`` sync rounds, simulated time moving ``step`` between them: a history to chart and a track to map."""
    for index in range(rounds):
        if index:
            clock.advance(step)
        EndpointState.objects.filter(vehicle__in=vehicles).update(next_sync_at=None)
        VehicleSync.objects.filter(vehicle__in=vehicles).update(requested_at=timezone.now())
        sync_all(vehicles)


@pytest.fixture
def simulator_ready(transactional_db):
    from simulator.platform import ensure_default_application

    ensure_default_application()


@pytest.fixture
def connected(simulator_ready, owner_client, fleet, api_version) -> dict[str, Vehicle]:
    """Four simulated vehicles (Tesla, Ford, Nissan, Chevrolet) connected to ``fleet`` and synced once, by make —
    on each Smartcar API version (``api_version``)."""
    vehicles = connect_simulated(owner_client, fleet, "4-vehicles@dashboard.example")
    sync_all(vehicles)
    return {v.make: v for v in vehicles}
