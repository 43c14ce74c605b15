"""Every time a page shows is in the fleet's time zone, written one way (fleet/formatting.py), on the 24-hour clock;
the zone is picked from a list that puts common zones first and offers no pseudo-zone."""

import re
import zoneinfo
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from fleet import formatting
from fleet.forms import FleetSettingsForm
from fleet.models import COMMON_TIME_ZONES, time_zone_choices
from tests.dashboard.factories import make_account, make_vehicles
from vehicles.models import Command

# 17:05 UTC on a winter day: 12:05 in New York, 02:05 the next day in Tokyo.
AN_AFTERNOON = datetime(2026, 1, 15, 17, 5, tzinfo=UTC)


def test_a_moment_is_written_one_way_on_the_24_hour_clock():
    new_york = zoneinfo.ZoneInfo("America/New_York")
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")

    assert formatting.moment(AN_AFTERNOON, new_york) == "15 Jan 2026 12:05"
    assert formatting.moment(AN_AFTERNOON, tokyo) == "16 Jan 2026 02:05"
    assert formatting.moment(datetime(2026, 1, 15, 23, 5, tzinfo=UTC), zoneinfo.ZoneInfo("UTC")) == "15 Jan 2026 23:05"
    assert formatting.day(AN_AFTERNOON, tokyo) == "16 Jan 2026"
    assert formatting.clock(AN_AFTERNOON, new_york) == "12:05"
    assert formatting.moment(None) == formatting.day(None) == formatting.clock(None) == "—"


def test_no_template_writes_a_date_its_own_way():
    """Dates go through the ``when``, ``day`` and ``clock`` filters, never Django's ``date``/``time`` formats."""
    own_way = re.compile(r"\|\s*(date|time)\b(?!:\"Y-m\")")  # "Y-m": a month in a link's query, not shown
    templates = Path(settings.BASE_DIR, "templates")
    found = [
        f"{path.relative_to(templates)}: {line.strip()}"
        for path in templates.rglob("*.html")
        if "admin" not in path.parts
        for line in path.read_text().splitlines()
        if own_way.search(line)
    ]
    assert found == []


@pytest.fixture
def tokyo_fleet(fleet):
    fleet.time_zone = "Asia/Tokyo"
    fleet.save()
    return fleet


@pytest.fixture
def vehicle(tokyo_fleet, owner):
    (vehicle,) = make_vehicles(tokyo_fleet, 1, account=make_account(tokyo_fleet), make="CHEVROLET")
    with time_machine.travel(AN_AFTERNOON, tick=False):
        Command.objects.create(vehicle=vehicle, user=owner, user_email=owner.email, kind="charge_start")
    return vehicle


def test_the_command_log_of_the_vehicle_page_is_in_the_fleets_zone(owner_client, tokyo_fleet, vehicle):
    html = owner_client.get(reverse("vehicle_detail", args=[tokyo_fleet.slug, vehicle.pk])).content.decode()

    assert "16 Jan 2026 02:05" in html
    assert "17:05" not in html


def test_recent_changes_of_the_charging_page_are_in_the_fleets_zone(owner_client, tokyo_fleet, vehicle):
    html = owner_client.get(reverse("charging_vehicle", args=[tokyo_fleet.slug, vehicle.pk])).content.decode()

    assert "16 Jan 2026 02:05" in html
    assert "17:05" not in html


def test_common_zones_come_first_and_pseudo_zones_are_not_offered():
    (common_label, common), (_, others) = time_zone_choices()
    names = [name for name, _ in common + others]

    assert common_label == "Common time zones"
    assert [name for name, _ in common] == COMMON_TIME_ZONES
    assert "America/New_York" in COMMON_TIME_ZONES
    assert not {"Factory", "localtime"} & set(names)
    assert len(names) == len(set(names))
    assert dict(common + others)["America/New_York"] == "New York (America)"


def test_the_zone_is_typed_with_suggestions_and_only_a_real_zone_is_saved(owner_client, fleet):
    fleet.time_zone = "America/New_York"
    fleet.save()
    url = reverse("fleet_settings", args=[fleet.slug])
    html = owner_client.get(url).content.decode()

    # The field shows the zone in the suggestions' words, not its identifier.
    field = re.search(r'<input[^>]*name="time_zone"[^>]*>', html).group(0)
    assert 'value="New York (America)"' in field and "America/New_York" not in html
    options = re.search(r'<datalist id="([^"]+)">(.*?)</datalist>', html, re.S)
    assert f'list="{options.group(1)}"' in field
    assert options.group(2).index('value="New York (America)"') < options.group(2).index('value="Abidjan (Africa)"')
    assert 'value="Factory"' not in options.group(2)

    form = FleetSettingsForm(instance=fleet)
    for zone, saved in [
        ("Factory", False), ("localtime", False), ("America/New_York", True), ("Tokyo (Asia)", True), ("Tokyo", False),
    ]:  # fmt: skip
        data = {**form.initial, "time_zone": zone}
        assert FleetSettingsForm(data, instance=fleet).is_valid() is saved, zone
    typed = FleetSettingsForm({**form.initial, "time_zone": "Tokyo (Asia)"}, instance=fleet)
    assert typed.is_valid() and typed.cleaned_data["time_zone"] == "Asia/Tokyo"


def test_pages_name_the_zone_in_words_not_by_its_identifier():
    """A page says "Tokyo (Asia)", never "Asia/Tokyo": the identifier is for the charts' scripts (data-time-zone)."""
    identifier = re.compile(r"(?<!data-time-zone=\")\{\{ *[\w.]*time_zone *\}\}")
    templates = Path(settings.BASE_DIR, "templates")
    found = [
        f"{path.relative_to(templates)}: {line.strip()}"
        for path in templates.rglob("*.*")
        if "admin" not in path.parts
        for line in path.read_text().splitlines()
        if identifier.search(line)
    ]
    assert found == []


def test_the_alerts_inbox_names_the_fleets_zone_in_words(owner_client, tokyo_fleet):
    html = owner_client.get(reverse("alerts_inbox", args=[tokyo_fleet.slug])).content.decode()

    assert "Times are in Tokyo (Asia) time." in html
    assert "Asia/Tokyo" not in html
