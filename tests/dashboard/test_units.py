from fleet import units
from fleet.templatetags.units import age_in_words, distance, pressure, temperature


def test_metric_values_convert_to_imperial_at_display():
    assert round(units.distance(160.9344, "imperial"), 3) == 100
    assert distance(160.9344, "imperial") == "100 mi"
    assert distance(160.9344, "metric") == "161 km"
    assert pressure(240, "imperial") == "35 psi"
    assert temperature(20, "imperial") == "68.0 °F"
    assert distance(None, "metric") == "—"


def test_ages_read_like_people_say_them():
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    assert age_in_words(now - timedelta(seconds=20), now) == "just now"
    assert age_in_words(now - timedelta(minutes=4, seconds=30), now) == "4 min ago"
    assert age_in_words(now - timedelta(hours=3), now) == "3 h ago"
    assert age_in_words(now - timedelta(days=1, hours=2), now) == "1 day ago"
    assert age_in_words(None) == "never"


def test_one_rule_per_kind_of_number_for_pages_and_exports():
    from fleet import formatting

    assert [formatting.quantity(v, "percent") for v in (100.0, 93.4, 0.4, -0.2, None)] == [
        "100 %", "93 %", "0 %", "0 %", "—"
    ]  # fmt: skip
    assert formatting.quantity(18.46, "energy") == "18.5 kWh"
    assert formatting.quantity(7.0, "power") == "7.0 kW"
    assert formatting.quantity(12345.6, "distance", "imperial") == "7,671 mi"
    assert formatting.figure(12345.6, "distance") == "12,346"
    assert [formatting.amount(12345.6, "distance"), formatting.amount(99.6, "percent")] == ["12346", "100"]
    assert formatting.amount(None, "energy") == "" and formatting.figure("", "energy") == "—"
    assert formatting.position(52.52, 13.405) == "52.52000, 13.40500"
