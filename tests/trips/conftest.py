import pytest

from trips.models import Driver, Place, PlaceKind
from vehicles.models import Vehicle


def vehicle_of(fleet, smartcar_id="v-1", make="TESLA", nickname=""):
    return Vehicle.objects.create(
        fleet=fleet, smartcar_id=smartcar_id, make=make, model="Model 3", year=2023, nickname=nickname
    )


@pytest.fixture
def vehicle(fleet):
    return vehicle_of(fleet, nickname="Van 7")


@pytest.fixture
def driver(fleet):
    return Driver.objects.create(fleet=fleet, name="Dana Driver")


@pytest.fixture
def depot(fleet):
    return Place.objects.create(
        fleet=fleet, name="Depot", kind=PlaceKind.DEPOT, latitude=52.52, longitude=13.405, radius_m=300
    )
