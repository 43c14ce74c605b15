"""The simulated vehicles: plausible when made, believable as simulated time passes."""

from datetime import timedelta

from simulator import world
from simulator.catalogue import vin_check_digit, vin_is_valid
from simulator.models import SmartcarUser, Vehicle


def test_a_dozen_vehicles_are_of_mixed_well_known_makes(db):
    owner = SmartcarUser.objects.create(email="12-vehicles@example.com")
    vehicles = world.create_vehicles(owner, 12, seed=7)
    makes = {vehicle.make for vehicle in vehicles}
    assert {"TESLA", "FORD", "NISSAN", "CHEVROLET", "BMW", "TOYOTA", "AUDI"} <= makes
    assert len(makes) == 12
    assert Vehicle.objects.filter(owner=owner).count() == 12
    for vehicle in vehicles:
        assert vin_is_valid(vehicle.vin), vehicle.vin
        assert 2017 <= vehicle.year <= 2025
        assert vehicle.engine_type in ("BEV", "PHEV", "ICE")
        assert vehicle.routine in world.ROUTINES
        assert ("ev" in vehicle.state) == (vehicle.engine_type in ("BEV", "PHEV"))
        assert ("fuel" in vehicle.state) == (vehicle.engine_type in ("ICE", "PHEV"))


def test_vin_check_digit_matches_a_known_vin():
    # A published example VIN (1M8GDM9AXKP042788) whose check digit is X.
    assert vin_check_digit("1M8GDM9AXKP042788") == "X"
    assert vin_is_valid("1M8GDM9AXKP042788")
    assert not vin_is_valid("1M8GDM9A1KP042788")


def test_the_same_seed_gives_the_same_vehicles_and_history(db):
    first = world.create_vehicles(SmartcarUser.objects.create(email="a@example.com"), 3, seed=42)
    Vehicle.objects.all().delete()
    second = world.create_vehicles(SmartcarUser.objects.create(email="b@example.com"), 3, seed=42)
    assert [(v.make, v.model, v.year, v.vin) for v in first] == [(v.make, v.model, v.year, v.vin) for v in second]
    a, b = first[0], second[0]
    until = a.simulated_at + timedelta(days=1)
    world.advance(a, until)
    # The same time cut into many small requests ends in the same state.
    moment = b.simulated_at
    while moment < until:
        moment = min(moment + timedelta(minutes=17), until)
        world.advance(b, moment)
    assert a.state == b.state


def test_regions_get_makes_sold_there(db):
    owner = SmartcarUser.objects.create(email="eu@example.com")
    vehicles = world.create_vehicles(owner, 14, region="EU", seed=3)
    assert {v.region for v in vehicles} == {"EU"}
    assert "CHEVROLET" not in {v.make for v in vehicles}
