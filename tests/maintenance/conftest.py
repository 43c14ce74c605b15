import pytest

from maintenance.models import ServiceTask
from tests.dashboard.factories import make_account, make_vehicles


@pytest.fixture
def vehicles(fleet):
    """Three Teslas and two Chevrolets of ``fleet``, synced, at 12,000 km."""
    account = make_account(fleet)
    return make_vehicles(fleet, 3, account=account) + make_vehicles(fleet, 2, account=account, make="CHEVROLET")


@pytest.fixture
def oil_change(fleet):
    return ServiceTask.objects.create(fleet=fleet, name="Oil change", every_km=15000, every_months=12, make="CHEVROLET")
