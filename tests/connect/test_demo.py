"""``make run``'s demo: the demo fleet connected to a dozen simulated vehicles through the real Connect flow."""

import io

from django.core.management import call_command

from connect.models import AccountStatus, SmartcarAccount
from fleet.models import Fleet
from vehicles.models import Vehicle


def test_the_demo_connects_a_dozen_vehicles_of_mixed_makes_and_running_it_again_changes_nothing(
    transactional_db, settings
):
    # As under `make run` (DEBUG on, plain http): the Connect pages' CSRF cookie is not marked Secure.
    settings.CSRF_COOKIE_SECURE = False
    out = io.StringIO()
    call_command("demo", stdout=out)

    fleet = Fleet.objects.get(slug="demo")
    account = SmartcarAccount.objects.get(fleet=fleet)
    assert account.status == AccountStatus.ACTIVE
    vehicles = list(Vehicle.objects.filter(fleet=fleet))
    assert len(vehicles) == 12
    makes = {vehicle.make for vehicle in vehicles}
    assert {"TESLA", "FORD", "NISSAN", "CHEVROLET", "BMW", "TOYOTA", "AUDI"} <= makes
    assert "12 vehicles connected" in out.getvalue()
    assert "demo@example.com" in out.getvalue()

    call_command("demo", stdout=io.StringIO())

    assert SmartcarAccount.objects.count() == 1
    assert sorted(Vehicle.objects.values_list("pk", flat=True)) == sorted(v.pk for v in vehicles)
