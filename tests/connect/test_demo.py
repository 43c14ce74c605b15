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
    assert fleet.time_zone == "America/New_York"  # the simulated vehicles drive around Atlanta
    assert "12 vehicles connected" in out.getvalue()
    assert "demo@example.com" in out.getvalue()

    call_command("demo", stdout=io.StringIO())

    assert SmartcarAccount.objects.count() == 1
    assert sorted(Vehicle.objects.values_list("pk", flat=True)) == sorted(v.pk for v in vehicles)


def test_the_demo_works_with_debug_off_and_never_with_the_public_password(transactional_db, settings):
    from connect.management.commands.demo import DEMO_EMAIL, DEMO_PASSWORD
    from fleet.models import User

    # Production: Secure cookies, https only. The command's own browser walks Connect in-process all the same.
    settings.DEBUG = False
    settings.CSRF_COOKIE_SECURE = settings.SESSION_COOKIE_SECURE = settings.SECURE_SSL_REDIRECT = True
    out = io.StringIO()
    call_command("demo", "--smartcar-account", "3-vehicles@demo.fleet", stdout=out)

    assert Vehicle.objects.filter(fleet__slug="demo").count() == 3
    owner = User.objects.get(email=DEMO_EMAIL)
    assert not owner.check_password(DEMO_PASSWORD)
    printed = out.getvalue().split(f"Demo login: {DEMO_EMAIL} / ")[1].split()[0]
    assert owner.check_password(printed)

    out = io.StringIO()
    call_command("demo", "--smartcar-account", "3-vehicles@demo.fleet", stdout=out)
    assert owner.check_password(printed)  # kept, and not printed again
    assert printed not in out.getvalue()
