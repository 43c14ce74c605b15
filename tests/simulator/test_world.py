"""The simulated vehicles: plausible when made, believable as simulated time passes."""

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from simulator import world
from simulator.catalogue import CATALOGUE, VIN_CHARACTERS, vin_build, vin_check_digit, vin_is_valid
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


def _owner(email="fleet@example.com"):
    return SmartcarUser.objects.create(email=email)


def test_a_simulated_day_shows_driving_charging_and_a_dtc_appearing(db, sim_clock):
    owner = _owner()
    van = world.create_vehicle(owner, make="CHEVROLET", model="Bolt EV", routine="delivery", seed=11)
    commuter = world.create_vehicle(owner, make="TESLA", model="Model Y", routine="commute", seed=12)
    gm_fleet = [world.create_vehicle(owner, make=make, routine="parked", seed=20 + n)
                for n, make in enumerate(["CHEVROLET", "GMC", "CADILLAC", "BUICK", "CHEVROLET", "GMC"])]  # fmt: skip
    start_odometer = {v.pk: v.state["odometer"] for v in [van, commuter]}
    locations, states, events = set(), set(), []
    moment = sim_clock.now()
    for _ in range(24 * 4):  # one simulated day in 15-minute requests
        moment += timedelta(minutes=15)
        for vehicle in [van, commuter]:
            events += world.advance(vehicle, moment)
            locations.add((vehicle.pk, tuple(vehicle.state["location"])))
            states.add((vehicle.pk, vehicle.state["ev"]["charging"]))
        for vehicle in gm_fleet:
            world.advance(vehicle, moment)
    # Driving: both moved and added distance; the delivery van made many stops.
    for vehicle in [van, commuter]:
        assert vehicle.state["odometer"] > start_odometer[vehicle.pk] + 10
    assert len({loc for pk, loc in locations if pk == van.pk}) > 8
    # Charging: back at base they charged, and the charging events were emitted in order.
    assert (van.pk, "CHARGING") in states and (commuter.pk, "CHARGING") in states
    names = [name for name, _ in events]
    assert "CHARGING_STARTED" in names and ("CHARGING_COMPLETED" in names or "CHARGING_STOPPED" in names)
    # DTCs: GM vehicles report trouble codes now and then; in a day some appear.
    codes = [entry for vehicle in [van, *gm_fleet] for entry in vehicle.state["dtcs"]]
    assert codes, "no DTC appeared in a simulated day across seven GM vehicles"
    assert all(len(entry["code"]) == 5 for entry in codes)


def test_gm_vehicles_idle_for_days_fall_into_deep_sleep_until_driven(db, sim_clock):
    vehicle = world.create_vehicle(_owner(), make="CHEVROLET", model="Silverado", routine="parked", seed=5)
    vehicle.state["trip_chance"] = 0  # stays parked
    world.advance(vehicle, sim_clock.now() + timedelta(days=2))
    assert vehicle.state["asleep"] and not vehicle.state["deep_sleep"]
    world.advance(vehicle, sim_clock.now() + timedelta(days=4, hours=1))
    assert vehicle.state["deep_sleep"]
    vehicle.state["trip_chance"] = 1  # a trip wakes it
    world.advance(vehicle, sim_clock.now() + timedelta(days=6))
    assert not vehicle.state["deep_sleep"]


def test_idle_vehicles_fall_asleep(db, sim_clock):
    vehicle = world.create_vehicle(_owner(), make="FORD", model="Explorer", routine="parked", seed=8)
    vehicle.state.update(asleep=False, trip_chance=0)
    world.advance(vehicle, sim_clock.now() + timedelta(hours=1))
    assert vehicle.state["asleep"]


def test_charging_reaches_the_limit_and_is_announced_to_subscribed_webhooks(db, sim_clock):
    from simulator.models import Application, Delivery, Subscription, Webhook

    app = Application.objects.create(name="Hooks", redirect_uris="http://testserver/cb")
    webhook = Webhook.objects.create(application=app, callback_url="http://testserver/hooks/")
    vehicle = world.create_vehicle(_owner(), make="TESLA", model="Model 3", routine="parked", seed=3)
    Subscription.objects.create(webhook=webhook, vehicle=vehicle)
    vehicle.state["trip_chance"] = 0
    vehicle.state["ev"].update(soc=0.5, limit=0.8, charging="NOT_CHARGING")
    vehicle.save()
    events = world.vehicle_advance(vehicle_id=vehicle.pk, until=sim_clock.now() + timedelta(hours=6))
    vehicle.refresh_from_db()
    assert [name for name, _ in events] == ["CHARGING_STARTED", "CHARGING_COMPLETED"]
    assert vehicle.state["ev"]["soc"] == 0.8 and vehicle.state["ev"]["charging"] == "FULLY_CHARGED"
    assert list(Delivery.objects.order_by("pk").values_list("event_name", flat=True)) == [
        "CHARGING_STARTED",
        "CHARGING_COMPLETED",
    ]
    assert vehicle.state["charge_records"][-1]["endPercentRemaining"] == 0.8
    # Event webhooks exist for Ford, Tesla and Toyota only (changelog 2022-04-13).
    chevrolet = world.create_vehicle(_owner("gm@example.com"), make="CHEVROLET", model="Bolt EV", seed=4)
    Subscription.objects.create(webhook=webhook, vehicle=chevrolet)
    chevrolet.state.update(trip_chance=0)
    chevrolet.state["ev"].update(soc=0.5, limit=0.8, charging="NOT_CHARGING")
    chevrolet.save()
    assert world.vehicle_advance(vehicle_id=chevrolet.pk, until=sim_clock.now() + timedelta(hours=6))
    assert Delivery.objects.count() == 2


def test_tires_and_oil_drift_and_the_12v_battery_runs_down_when_parked_for_long(db, sim_clock):
    vehicle = world.create_vehicle(_owner(), make="JEEP", model="Grand Cherokee", routine="commute", seed=9)
    tires, oil = list(vehicle.state["tires_cold"]), vehicle.state["oil_life"]
    world.advance(vehicle, sim_clock.now() + timedelta(days=5))
    assert sum(vehicle.state["tires_cold"]) < sum(tires) or vehicle.state["tires_cold"] != tires
    assert vehicle.state["oil_life"] < oil
    parked = world.create_vehicle(_owner("p@example.com"), make="FORD", model="Explorer", routine="parked", seed=4)
    parked.state["trip_chance"] = 0
    world.advance(parked, sim_clock.now() + timedelta(days=9))
    assert world.is_unreachable(parked.state)


def test_the_periodic_task_advances_every_vehicle(db, sim_clock):
    from simulator.tasks import vehicles_advance

    world.create_vehicles(_owner(), 3, seed=1)
    sim_clock.advance(timedelta(hours=3))
    assert vehicles_advance.delay().get() == 3
    assert all(v.simulated_at == sim_clock.now() for v in Vehicle.objects.all())


@given(
    wmi=st.sampled_from(sorted({wmi for wmi, _ in CATALOGUE.values()})),
    descriptor=st.text(alphabet=VIN_CHARACTERS, min_size=5, max_size=5),
    year=st.integers(min_value=2010, max_value=2039),
    plant=st.sampled_from(VIN_CHARACTERS),
    serial=st.integers(min_value=0, max_value=999_999),
)
def test_every_built_vin_has_a_valid_check_digit(wmi, descriptor, year, plant, serial):
    vin = vin_build(wmi, descriptor, year, plant, f"{serial:06d}")
    assert len(vin) == 17 and vin_is_valid(vin)
    assert not vin_is_valid(vin[:8] + ("1" if vin[8] != "1" else "2") + vin[9:])
