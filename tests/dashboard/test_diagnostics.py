"""The diagnostics board: active DTCs and system alerts across the fleet, filters, acknowledgements, history."""

from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.dashboard.factories import make_account, make_vehicles
from vehicles import obd
from vehicles.models import DiagnosticAcknowledgement, DiagnosticTroubleCode, SystemStatus


def dtc(vehicle, code, *, hours_ago, cleared=False):
    seen = timezone.now() - timedelta(hours=hours_ago)
    return DiagnosticTroubleCode.objects.create(
        vehicle=vehicle,
        code=code,
        first_seen_at=seen,
        last_seen_at=timezone.now(),
        cleared_at=timezone.now() if cleared else None,
    )


def board(client, fleet, **params):
    return client.get(reverse("fleet_diagnostics", args=[fleet.slug]), params)


def acknowledge(client, fleet, kind, pk, note=""):
    url = reverse("fleet_diagnostics_acknowledge", args=[fleet.slug])
    return client.post(url, {"kind": kind, "pk": pk, "note": note})


def test_the_board_lists_active_codes_and_alerts_newest_first_with_their_meaning(owner_client, fleet):
    account = make_account(fleet)
    chevy = make_vehicles(fleet, 1, account=account, make="CHEVROLET")[0]
    jeep = make_vehicles(fleet, 1, account=account, make="JEEP", start=1)[0]
    dtc(chevy, "P0300", hours_ago=5)
    dtc(chevy, "P0171", hours_ago=1)
    dtc(chevy, "U0100", hours_ago=9, cleared=True)
    SystemStatus.objects.create(
        vehicle=jeep, system_id="SYSTEM_TPMS", status="ALERT", changed_at=timezone.now() - timedelta(hours=3),
        last_seen_at=timezone.now(),
    )  # fmt: skip
    body = board(owner_client, fleet).content.decode()
    assert body.index("P0171") < body.index("Tyre pressure monitoring") < body.index("P0300")
    assert "Random or multiple cylinder misfire detected<small>Trouble code P0300</small>" in body
    assert "Tyre pressure monitoring<small>System alert</small>" in body
    assert "SYSTEM_TPMS" not in body  # a system's id is for admin, not for the board
    assert "U0100" not in body  # cleared: in the history, not on the board


def test_it_filters_by_make_and_code(owner_client, fleet):
    account = make_account(fleet)
    chevy = make_vehicles(fleet, 1, account=account, make="CHEVROLET")[0]
    gmc = make_vehicles(fleet, 1, account=account, make="GMC", start=1)[0]
    dtc(chevy, "P0455", hours_ago=1)
    dtc(gmc, "P0300", hours_ago=1)
    only_gmc = board(owner_client, fleet, make="GMC").content.decode()
    assert "P0300" in only_gmc and "P0455" not in only_gmc
    by_code = board(owner_client, fleet, code="p045").content.decode()
    assert "P0455" in by_code and "P0300" not in by_code
    unknown = board(owner_client, fleet, make="NOT-A-MAKE").content.decode()
    assert "P0455" in unknown and "P0300" in unknown


def test_a_manager_acknowledges_with_a_note_kept_with_who_and_when(manager_client, manager, fleet):
    chevy = make_vehicles(fleet, 1, account=make_account(fleet), make="CHEVROLET")[0]
    code = dtc(chevy, "P0420", hours_ago=2)
    response = acknowledge(manager_client, fleet, "dtc", code.pk, "Booked at the dealer")
    assert response.status_code == 302
    ack = DiagnosticAcknowledgement.objects.get(dtc=code)
    assert (ack.note, ack.acknowledged_by, ack.acknowledged_by_email) == (
        "Booked at the dealer",
        manager,
        manager.email,
    )
    assert timezone.now() - ack.acknowledged_at < timedelta(minutes=1)
    body = board(manager_client, fleet).content.decode()
    assert "Booked at the dealer" in body and manager.email in body


def test_a_system_alert_that_returns_needs_a_new_acknowledgement(owner_client, fleet):
    jeep = make_vehicles(fleet, 1, account=make_account(fleet), make="JEEP")[0]
    alert = SystemStatus.objects.create(
        vehicle=jeep, system_id="SYSTEM_ABS", status="ALERT", changed_at=timezone.now() - timedelta(hours=3),
        last_seen_at=timezone.now(),
    )  # fmt: skip
    acknowledge(owner_client, fleet, "system", alert.pk, "seen")
    assert "Acknowledged" in board(owner_client, fleet).content.decode()
    SystemStatus.objects.filter(pk=alert.pk).update(changed_at=timezone.now())  # OK, then ALERT again
    assert ">Acknowledge</button>" in board(owner_client, fleet).content.decode()


def test_viewers_cannot_acknowledge_and_another_fleets_code_is_not_touched(viewer_client, owner, fleet, other_fleet):
    mine = dtc(make_vehicles(fleet, 1, account=make_account(fleet), make="CHEVROLET")[0], "P0420", hours_ago=1)
    theirs = dtc(
        make_vehicles(other_fleet, 1, account=make_account(other_fleet), make="GMC", start=9)[0], "P0300", hours_ago=1
    )
    assert acknowledge(viewer_client, fleet, "dtc", mine.pk).status_code == 403
    assert "Acknowledge</button>" not in board(viewer_client, fleet).content.decode()
    owner_client = Client()
    owner_client.force_login(owner)
    acknowledge(owner_client, fleet, "dtc", theirs.pk, "not mine")
    assert not DiagnosticAcknowledgement.objects.exists()


def test_cleared_codes_are_in_the_history(owner_client, fleet):
    chevy = make_vehicles(fleet, 1, account=make_account(fleet), make="CHEVROLET")[0]
    dtc(chevy, "U0100", hours_ago=9, cleared=True)
    body = owner_client.get(reverse("fleet_diagnostics_history", args=[fleet.slug])).content.decode()
    assert "U0100" in body and "Lost communication with engine control module" in body


def test_an_empty_board_says_there_is_nothing_to_do(owner_client, fleet):
    assert "No active trouble codes" in board(owner_client, fleet).content.decode()


def test_obd_descriptions_cover_known_codes_and_name_the_area_of_others():
    assert obd.describe("p0420") == "Catalyst system efficiency below threshold (bank 1)"
    assert obd.describe("P0399").startswith("Ignition system or misfire (generic code")
    assert "manufacturer-specific" in obd.describe("P1E00")
    assert obd.describe("B1325").startswith("Body (manufacturer-specific")
    assert obd.describe("not a code") == ""


def test_the_pages_of_the_history_keep_the_filter(owner_client, fleet, monkeypatch):
    monkeypatch.setattr("dashboard.diagnostics.BOARD_PAGE_SIZE", 2)
    chevy = make_vehicles(fleet, 1, account=make_account(fleet), make="CHEVROLET")[0]
    for code in ("P0300", "P0301", "P0302"):
        dtc(chevy, code, hours_ago=1, cleared=True)
    url = reverse("fleet_diagnostics_history", args=[fleet.slug])
    first = owner_client.get(url, {"make": "CHEVROLET", "code": "P03"}).content.decode()
    assert "Page 1 of 2" in first
    assert '<a href="?make=CHEVROLET&amp;code=P03&amp;page=2">Next →</a>' in first
    second = owner_client.get(url, {"make": "CHEVROLET", "code": "P03", "page": 2}).content.decode()
    assert '<a href="?make=CHEVROLET&amp;code=P03&amp;page=1">← Previous</a>' in second
